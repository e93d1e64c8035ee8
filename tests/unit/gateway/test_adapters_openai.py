"""OpenAI chat family adapters: openai, groq, perplexity-ai, mistral, grok, azure-openai,
compat, deepseek, cerebras, openrouter; plus the built-in registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pytest_cfgateway.gateway.adapters.base import Adapter
from pytest_cfgateway.gateway.adapters.openai_chat import OpenAIChatAdapter, is_reasoning_model
from pytest_cfgateway.gateway.adapters.registry import SUPPORTED_SLUGS, builtin_adapters
from pytest_cfgateway.gateway.errors import GatewayConfigError, GatewayProviderError

from .adapter_helpers import call, raw

ADAPTERS = builtin_adapters()


AZURE_CFG = {"resourceName": "my-res", "deploymentName": "my-dep"}

# Reply fixture following OpenAI's "Create chat completion" response object
# (platform.openai.com/docs/api-reference/chat/object).
OPENAI_REPLY = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4.1-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
    "service_tier": "default",
}

# OpenAI function-calling response (platform.openai.com/docs/guides/function-calling).
OPENAI_TOOL_REPLY = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_12345xyz",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"location":"Paris, France"}',
                        },
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99},
}

# OpenAI chat completion with logprobs: true (api-reference/chat/object, choices[].logprobs).
OPENAI_LOGPROBS_REPLY = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!"},
            "logprobs": {
                "content": [
                    {"token": "Hello", "logprob": -0.31725305, "bytes": [72], "top_logprobs": []},
                    {"token": "!", "logprob": -0.02380986, "bytes": [33], "top_logprobs": []},
                ],
                "refusal": None,
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}

# Mistral chat completion response (docs.mistral.ai/api/#tag/chat): OpenAI shape.
MISTRAL_REPLY = {
    "id": "cmpl-e5cc70bb28c444948073e77776eb30ef",
    "object": "chat.completion",
    "model": "mistral-small-latest",
    "created": 1702256327,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Bonjour !", "tool_calls": None},
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50},
}

# Mistral magistral reasoning reply with typed content chunks (docs.mistral.ai reasoning guide).
MISTRAL_CHUNKS_REPLY = {
    "model": "magistral-medium-latest",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                    {"type": "text", "text": "42"},
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}

# OpenAI embeddings response (platform.openai.com/docs/api-reference/embeddings/object).
OPENAI_EMBED_REPLY = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": 1, "embedding": [0.5, -0.5]},
        {"object": "embedding", "index": 0, "embedding": [0.0023064255, -0.009327292]},
    ],
    "model": "text-embedding-3-large",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}


# --- registry -------------------------------------------------------------------------------

SPEC_SLUGS = [
    "openai",
    "anthropic",
    "groq",
    "perplexity-ai",
    "google-ai-studio",
    "mistral",
    "cohere",
    "azure-openai",
    "workers-ai",
    "huggingface",
    "replicate",
    "grok",
]


def test_registry_covers_spec_providers_compat_and_extras() -> None:
    assert set(ADAPTERS) == {*SPEC_SLUGS, "compat", "deepseek", "cerebras", "openrouter"}
    assert SUPPORTED_SLUGS[:12] == tuple(SPEC_SLUGS)
    assert "bedrock" not in SUPPORTED_SLUGS


@pytest.mark.parametrize("slug", sorted(ADAPTERS))
def test_every_adapter_is_an_adapter_with_its_own_slug(slug: str) -> None:
    adapter = ADAPTERS[slug]
    assert isinstance(adapter, Adapter)
    assert adapter.slug == slug


def test_builtin_adapters_returns_fresh_instances() -> None:
    assert builtin_adapters()["openai"] is not builtin_adapters()["openai"]


@pytest.mark.parametrize(
    ("slug", "envs"),
    [
        ("openai", ("OPENAI_API_KEY",)),
        ("anthropic", ("ANTHROPIC_API_KEY",)),
        ("groq", ("GROQ_API_KEY",)),
        ("perplexity-ai", ("PERPLEXITY_API_KEY",)),
        ("google-ai-studio", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
        ("mistral", ("MISTRAL_API_KEY",)),
        ("cohere", ("COHERE_API_KEY",)),
        ("azure-openai", ("AZURE_OPENAI_API_KEY",)),
        ("workers-ai", ("CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN")),
        ("huggingface", ("HUGGINGFACE_API_KEY", "HF_TOKEN", "HF_API_TOKEN")),
        ("replicate", ("REPLICATE_API_KEY", "REPLICATE_API_TOKEN")),
        ("grok", ("XAI_API_KEY",)),
        ("deepseek", ("DEEPSEEK_API_KEY",)),
        ("cerebras", ("CEREBRAS_API_KEY",)),
        ("openrouter", ("OPENROUTER_API_KEY",)),
    ],
)
def test_key_env_vars(slug: str, envs: tuple[str, ...]) -> None:
    adapter = ADAPTERS[slug]
    assert adapter.key_env_vars == envs
    assert adapter.key_envs(call(slug, "m")) == envs


# --- routes and auth ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "path"),
    [
        ("openai", "chat/completions"),
        ("groq", "chat/completions"),
        ("perplexity-ai", "chat/completions"),
        ("mistral", "v1/chat/completions"),
        ("grok", "v1/chat/completions"),
        ("deepseek", "chat/completions"),
        ("cerebras", "chat/completions"),
        ("openrouter", "chat/completions"),
    ],
)
def test_openai_style_routes_and_bearer_auth(slug: str, path: str) -> None:
    adapter = ADAPTERS[slug]
    c = call(slug, "some-model")
    assert adapter.route(c) == (path, {})
    assert adapter.auth_headers("k-123", c) == {"Authorization": "Bearer k-123"}
    assert adapter.extra_headers(c) == {}


def test_azure_route_query_and_api_key_header() -> None:
    adapter = ADAPTERS["azure-openai"]
    c = call("azure-openai", "gpt-4o", config=AZURE_CFG)
    assert adapter.route(c) == (
        "my-res/my-dep/chat/completions",
        {"api-version": "2024-12-01-preview"},
    )
    assert adapter.auth_headers("az", c) == {"api-key": "az"}


def test_azure_api_version_override() -> None:
    c = call("azure-openai", "gpt-4o", config={**AZURE_CFG, "apiVersion": "2024-06-01"})
    assert ADAPTERS["azure-openai"].route(c)[1] == {"api-version": "2024-06-01"}


def test_azure_deployment_defaults_to_model() -> None:
    c = call("azure-openai", "gpt-4o", config={"resourceName": "r"})
    assert ADAPTERS["azure-openai"].route(c)[0] == "r/gpt-4o/chat/completions"


def test_azure_missing_resource_name_is_a_config_error_with_example() -> None:
    with pytest.raises(GatewayConfigError, match=r"resourceName.*Example"):
        ADAPTERS["azure-openai"].route(call("azure-openai", "gpt-4o", config={}))


def test_azure_missing_deployment_and_model_is_a_config_error() -> None:
    with pytest.raises(GatewayConfigError, match="deploymentName"):
        ADAPTERS["azure-openai"].route(call("azure-openai", "", config={"resourceName": "r"}))


def test_azure_body_has_no_model() -> None:
    body = ADAPTERS["azure-openai"].body(call("azure-openai", "gpt-4o", config=AZURE_CFG))
    assert "model" not in body
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_compat_route_and_body_model_as_given() -> None:
    adapter = ADAPTERS["compat"]
    c = call("compat", "openai/gpt-4o-mini")
    assert adapter.route(c) == ("chat/completions", {})
    assert adapter.body(c)["model"] == "openai/gpt-4o-mini"


def test_compat_model_without_provider_prefix_is_a_config_error() -> None:
    with pytest.raises(GatewayConfigError, match="provider/model"):
        ADAPTERS["compat"].route(call("compat", "gpt-4o-mini"))
    with pytest.raises(GatewayConfigError, match="provider/model"):
        ADAPTERS["compat"].key_envs(call("compat", "gpt-4o-mini"))


@pytest.mark.parametrize(
    ("model", "envs"),
    [
        ("openai/gpt-4o-mini", ("OPENAI_API_KEY",)),
        ("anthropic/claude-3-haiku", ("ANTHROPIC_API_KEY",)),
        ("google-ai-studio/gemini-2.0-flash", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
        (
            "workers-ai/@cf/meta/llama-3.1-8b-instruct",
            ("CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN"),
        ),
        ("grok/grok-4", ("XAI_API_KEY",)),
        ("custom-acme/big-model", ("CUSTOM_ACME_API_KEY",)),
    ],
)
def test_compat_reads_the_key_of_the_prefix_provider(model: str, envs: tuple[str, ...]) -> None:
    assert ADAPTERS["compat"].key_envs(call("compat", model)) == envs


# --- body mapping ---------------------------------------------------------------------------


def test_openai_body_passes_messages_and_only_user_options() -> None:
    msgs = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
    ]
    body = ADAPTERS["openai"].body(call("openai", "gpt-4o", msgs))
    assert body == {"model": "gpt-4o", "messages": msgs}  # no injected temperature/max_tokens


@pytest.mark.parametrize("slug", ["openai", "groq", "perplexity-ai", "mistral", "grok", "deepseek"])
def test_openai_style_options_pass_through_unchanged(slug: str) -> None:
    opts = {
        "temperature": 0.8,
        "max_tokens": 500,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 7,
        "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": "auto",
        "some_future_option": {"x": 1},
    }
    body = ADAPTERS[slug].body(call(slug, "llama-3.3-70b", options=opts))
    for key, value in opts.items():
        assert body[key] == value


def test_passthrough_merges_extra_body_fields() -> None:
    body = ADAPTERS["openai"].body(
        call("openai", "gpt-4o", options={"passthrough": {"reasoning_effort": "low"}})
    )
    assert body["reasoning_effort"] == "low"
    assert "passthrough" not in body


def test_passthrough_must_be_a_mapping() -> None:
    with pytest.raises(GatewayConfigError, match="passthrough"):
        ADAPTERS["openai"].body(call("openai", "gpt-4o", options={"passthrough": "x"}))


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o1-mini", True),
        ("o3-mini-2025-01-31", True),
        ("o4-mini", True),
        ("gpt-5", True),
        ("gpt-5.2", True),
        ("gpt-5-mini", True),
        ("gpt-4o", False),
        ("gpt-4.1-mini", False),
        ("omni-moderation-latest", False),
        ("openai/o3", True),
    ],
)
def test_is_reasoning_model(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning


@pytest.mark.parametrize(
    ("slug", "model", "config"),
    [
        ("openai", "o3-mini", {}),
        ("openai", "gpt-5.2", {}),
        ("azure-openai", "o4-mini", AZURE_CFG),
        ("azure-openai", "my-model", {"resourceName": "r", "deploymentName": "o3-prod"}),
        ("compat", "openai/o3", {}),
    ],
)
def test_reasoning_models_send_max_completion_tokens(
    slug: str, model: str, config: dict[str, Any]
) -> None:
    body = ADAPTERS[slug].body(call(slug, model, options={"max_tokens": 300}, config=config))
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body


def test_reasoning_model_keeps_explicit_max_completion_tokens() -> None:
    body = ADAPTERS["openai"].body(
        call("openai", "o3", options={"max_tokens": 1, "max_completion_tokens": 99})
    )
    assert body["max_completion_tokens"] == 99
    assert "max_tokens" not in body


@pytest.mark.parametrize(("slug", "model"), [("openai", "gpt-4o"), ("groq", "o1-lookalike")])
def test_non_reasoning_keeps_max_tokens(slug: str, model: str) -> None:
    body = ADAPTERS[slug].body(call(slug, model, options={"max_tokens": 300}))
    assert body["max_tokens"] == 300
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize(
    ("slug", "usage_option"),
    [("openai", True), ("azure-openai", True), ("mistral", False), ("compat", True),
     ("deepseek", True), ("perplexity-ai", False), ("groq", True), ("grok", True)],
)  # fmt: skip
def test_stream_true_asks_for_sse_and_usage(slug: str, usage_option: bool) -> None:
    c = call(
        slug,
        "openai/gpt-4o",
        options={"stream_options": {"x": 1}},
        config=AZURE_CFG,
    )
    c = dataclasses.replace(c, stream=True)
    body = ADAPTERS[slug].body(c)
    assert body["stream"] is True
    if usage_option:  # stream_options.include_usage makes the last chunk carry usage
        assert body["stream_options"] == {"x": 1, "include_usage": True}
    else:  # these providers always send usage and may reject the field
        assert body["stream_options"] == {"x": 1}
    assert ADAPTERS[slug].stream_refusal(c) is None


def test_stream_false_is_dropped() -> None:
    body = ADAPTERS["openai"].body(call("openai", "gpt-4o", options={"stream": False}))
    assert "stream" not in body


# --- parsing --------------------------------------------------------------------------------


def test_parse_openai_text_usage_finish_model() -> None:
    reply = ADAPTERS["openai"].parse(raw(OPENAI_REPLY), call("openai", "gpt-4.1"))
    assert reply.text == "Hello! How can I assist you today?"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (19, 10)
    assert reply.usage.total_tokens == 29
    assert reply.finish_reason == "stop"
    assert reply.model == "gpt-4.1-2025-04-14"
    assert reply.tool_calls is None
    assert reply.logprobs is None


def test_parse_openai_tool_calls() -> None:
    reply = ADAPTERS["openai"].parse(raw(OPENAI_TOOL_REPLY), call("openai", "gpt-4o-mini"))
    assert reply.text == ""
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        {
            "id": "call_12345xyz",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Paris, France"}'},
        }
    ]


def test_parse_openai_logprobs() -> None:
    reply = ADAPTERS["openai"].parse(raw(OPENAI_LOGPROBS_REPLY), call("openai", "gpt-4o-mini"))
    assert reply.logprobs == pytest.approx([-0.31725305, -0.02380986])


def test_parse_cached_tokens() -> None:
    body = {
        **OPENAI_REPLY,
        "usage": {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920},
        },
    }
    reply = ADAPTERS["openai"].parse(raw(body), call("openai", "gpt-4o"))
    assert reply.usage.cached_tokens == 1920


def test_parse_refusal_is_the_text_when_content_is_null() -> None:
    body = {
        "model": "gpt-4o",
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ],
    }
    reply = ADAPTERS["openai"].parse(raw(body), call("openai", "gpt-4o"))
    assert reply.text == "I can't help."
    assert reply.usage.total_tokens == 0


def test_parse_legacy_function_call() -> None:
    body = {
        "choices": [
            {
                "message": {"content": None, "function_call": {"name": "f", "arguments": "{}"}},
                "finish_reason": "function_call",
            }
        ]
    }
    reply = ADAPTERS["openai"].parse(raw(body), call("openai", "gpt-3.5-turbo"))
    assert reply.tool_calls == [
        {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]


def test_parse_mistral_length_finish() -> None:
    reply = ADAPTERS["mistral"].parse(raw(MISTRAL_REPLY), call("mistral", "mistral-small-latest"))
    assert reply.text == "Bonjour !"
    assert reply.finish_reason == "length"
    assert reply.usage.total_tokens == 50


def test_parse_mistral_content_chunks_keeps_text_only() -> None:
    reply = ADAPTERS["mistral"].parse(raw(MISTRAL_CHUNKS_REPLY), call("mistral", "magistral"))
    assert reply.text == "42"


@pytest.mark.parametrize(
    "slug", ["groq", "perplexity-ai", "grok", "azure-openai", "compat", "cerebras", "openrouter"]
)
def test_every_openai_style_slug_parses_openai_replies(slug: str) -> None:
    reply = ADAPTERS[slug].parse(raw(OPENAI_REPLY), call(slug, "openai/x", config=AZURE_CFG))
    assert reply.text.startswith("Hello!")


def test_total_tokens_computed_when_missing() -> None:
    body = {**OPENAI_REPLY, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    assert ADAPTERS["groq"].parse(raw(body), call("groq", "m")).usage.total_tokens == 7


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("<html>oops</html>", "chat.completion"),
        ({"choices": []}, "choices"),
        ({"choices": [{"finish_reason": "stop"}]}, "message"),
        ({"choices": [{"message": {"content": 42}}]}, "content"),
        ({"choices": [{"message": {"content": "x", "tool_calls": ["bad"]}}]}, "tool_calls"),
    ],
)
def test_wrong_shape_is_a_provider_error(body: Any, what: str) -> None:
    with pytest.raises(GatewayProviderError, match=what) as info:
        ADAPTERS["openai"].parse(raw(body), call("openai", "gpt-4o"))
    assert info.value.provider == "openai"
    assert info.value.status == 200


# --- embeddings -----------------------------------------------------------------------------


def test_openai_embeddings_route_body_and_parse_in_index_order() -> None:
    adapter = ADAPTERS["openai"]
    c = call("openai", "text-embedding-3-large", inputs=["a", "b"], options={"dimensions": 2})
    assert adapter.supports_embeddings
    assert adapter.embed_route(c) == ("embeddings", {})
    assert adapter.embed_body(c) == {
        "model": "text-embedding-3-large",
        "input": ["a", "b"],
        "dimensions": 2,
    }
    reply = adapter.parse_embeddings(raw(OPENAI_EMBED_REPLY), c)
    assert reply.embeddings == [[0.0023064255, -0.009327292], [0.5, -0.5]]
    assert reply.usage.prompt_tokens == 8


def test_azure_embeddings_route_and_body() -> None:
    adapter = ADAPTERS["azure-openai"]
    c = call("azure-openai", "text-embedding-3-small", inputs=["a"], config=AZURE_CFG)
    assert adapter.embed_route(c) == (
        "my-res/my-dep/embeddings",
        {"api-version": "2024-12-01-preview"},
    )
    assert adapter.embed_body(c) == {"input": ["a"]}


def test_mistral_embeddings_route() -> None:
    c = call("mistral", "mistral-embed", inputs=["a"])
    assert ADAPTERS["mistral"].embed_route(c) == ("v1/embeddings", {})


@pytest.mark.parametrize("slug", ["groq", "compat", "deepseek"])
def test_no_embeddings_is_a_config_error(slug: str) -> None:
    adapter = ADAPTERS[slug]
    assert not adapter.supports_embeddings
    with pytest.raises(GatewayConfigError, match="embeddings"):
        adapter.embed_route(call(slug, "a/b", inputs=["x"]))


def test_embeddings_wrong_shape() -> None:
    with pytest.raises(GatewayProviderError, match="embedding"):
        ADAPTERS["openai"].parse_embeddings(
            raw({"data": [{"embedding": "nope"}]}), call("openai", "e", inputs=["x"])
        )


# --- plugin-style subclassing ---------------------------------------------------------------


def test_a_plugin_can_add_an_openai_compatible_provider_in_three_lines() -> None:
    class Baseten(OpenAIChatAdapter):
        slug = "baseten"
        key_env_vars = ("BASETEN_API_KEY",)
        chat_path = "v1/chat/completions"

    adapter = Baseten()
    c = call("baseten", "m")
    assert adapter.route(c) == ("v1/chat/completions", {})
    assert adapter.parse(raw(OPENAI_REPLY), c).text.startswith("Hello")


def test_compat_prefix_keys_match_the_adapters_key_env_vars() -> None:
    from pytest_cfgateway.gateway.adapters.openai_chat import COMPAT_PREFIX_KEYS

    for prefix, envs in COMPAT_PREFIX_KEYS.items():
        if prefix in ADAPTERS:
            assert ADAPTERS[prefix].key_env_vars == envs, prefix
