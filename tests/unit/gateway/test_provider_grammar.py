"""One provider-id grammar (configs, `Gateway`, fixtures), base-URL routes, and the
promptfoo request rules the adapters follow for real-world configs."""

# ruff: noqa: E501 - one row per case in the parameter tables
from __future__ import annotations

import pytest

from pytest_cfgateway.gateway.adapters.gemini import GeminiAdapter
from pytest_cfgateway.gateway.adapters.registry import SUPPORTED_SLUGS, builtin_adapters
from pytest_cfgateway.gateway.errors import GatewayConfigError
from pytest_cfgateway.gateway.routes import (
    ProviderRef,
    parse_provider_id,
    route_for_base_url,
    split_provider_id,
)

from .adapter_helpers import call

KNOWN = set(SUPPORTED_SLUGS)


@pytest.mark.parametrize(
    ("pid", "slug", "model", "mode"),
    [
        ("openai:chat:gpt-4o-mini", "openai", "gpt-4o-mini", "chat"),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", ""),
        ("openai:ft:gpt-4o-mini:org::id", "openai", "ft:gpt-4o-mini:org::id", ""),
        ("openai:chat:ft:gpt-4o-mini:org::id", "openai", "ft:gpt-4o-mini:org::id", "chat"),
        ("anthropic:messages:claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", "messages"),
        ("openai:embedding:text-embedding-3-small", "openai", "text-embedding-3-small", "embedding"),
        ("azure:chat:my-deployment", "azure-openai", "my-deployment", "chat"),
        ("gemini:gemini-2.5-flash", "google-ai-studio", "gemini-2.5-flash", ""),
        ("xai:grok-4", "grok", "grok-4", ""),
        ("cloudflare-gateway:openai:gpt-4o", "openai", "gpt-4o", ""),
        ("cloudflare-gateway:openai:chat:gpt-4o", "openai", "gpt-4o", "chat"),
        ("workers-ai:@cf/meta/llama-3.1-8b-instruct", "workers-ai", "@cf/meta/llama-3.1-8b-instruct", ""),
        ("compat:openai/gpt-4o-mini", "compat", "openai/gpt-4o-mini", ""),
    ],
)  # fmt: skip
def test_mode_words_are_modes_and_models_keep_their_colons(
    pid: str, slug: str, model: str, mode: str
) -> None:
    assert parse_provider_id(pid, KNOWN) == ProviderRef(slug, model, mode)


def test_config_and_gateway_read_an_id_the_same_way() -> None:
    from pytest_cfgateway.config.providers import to_gateway_id

    for pid in ("openai:chat:gpt-4o-mini", "anthropic:messages:claude-3-5-haiku", "gemini:x"):
        gw = to_gateway_id(pid)
        assert gw is not None
        ref = parse_provider_id(pid, KNOWN)
        again = parse_provider_id(gw, KNOWN)
        assert (again.slug, again.model) == (ref.slug, ref.model)
        assert gw == f"{ref.slug}:{ref.model}"


def test_split_alone_names_no_slug() -> None:
    parts = split_provider_id("openai:chat")
    assert (parts.family, parts.mode, parts.model) == ("openai", "chat", "")
    with pytest.raises(GatewayConfigError, match="Model name is required"):
        parse_provider_id("openai:chat", KNOWN)


@pytest.mark.parametrize(
    ("url", "slug", "config"),
    [
        ("https://api.deepseek.com", "deepseek", {}),
        ("https://api.deepseek.com/v1", "deepseek", {}),
        ("https://api.openai.com/v1", "openai", {}),
        ("api.groq.com", "groq", {}),
        ("myres.openai.azure.com", "azure-openai", {"resourceName": "myres"}),
        ("https://myres.openai.azure.com/", "azure-openai", {"resourceName": "myres"}),
        (
            "https://gateway.ai.cloudflare.com/v1/acc/gw/openai",
            "openai",
            {"accountId": "acc", "gatewayId": "gw"},
        ),
    ],
)
def test_base_urls_map_to_the_route_they_mean(url: str, slug: str, config: dict[str, str]) -> None:
    route = route_for_base_url(url)
    assert route is not None and (route.slug, route.config) == (slug, config)


@pytest.mark.parametrize(
    "url", ["http://localhost:11434/v1", "https://my-proxy.internal/v1", "https://gateway.ai.cloudflare.com"]
)  # fmt: skip
def test_unknown_base_urls_have_no_route(url: str) -> None:
    assert route_for_base_url(url) is None


@pytest.mark.parametrize("model", ["gpt-5-mini", "o3-mini", "o1", "o4-mini", "gpt-5"])
def test_temperature_is_not_sent_to_openai_reasoning_models(model: str) -> None:
    openai = builtin_adapters()["openai"]
    body = openai.body(call("openai", model, options={"temperature": 0.2, "top_p": 0.9}))
    assert "temperature" not in body
    assert body["top_p"] == 0.9  # promptfoo 0.123.1 still sends top_p when set


def test_temperature_is_sent_to_other_models() -> None:
    openai = builtin_adapters()["openai"]
    assert (
        openai.body(call("openai", "gpt-4o-mini", options={"temperature": 0.2}))["temperature"]
        == 0.2
    )


def test_gemini_single_tools_object_is_wrapped_and_text_system_instruction_is_content() -> None:
    tool = {"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object"}}]}
    body = GeminiAdapter().body(
        call(
            "google-ai-studio",
            "gemini-2.5-flash",
            options={"tools": tool, "systemInstruction": "You are terse."},
        )
    )
    assert body["tools"] == [tool]
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
