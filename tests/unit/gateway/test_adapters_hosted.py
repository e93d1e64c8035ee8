"""Hosted-model adapters: Workers AI, Hugging Face Inference, Replicate predictions."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pytest_cfgateway.gateway.adapters.huggingface import HuggingFaceAdapter
from pytest_cfgateway.gateway.adapters.replicate import ReplicateAdapter
from pytest_cfgateway.gateway.adapters.workers_ai import WorkersAIAdapter
from pytest_cfgateway.gateway.errors import GatewayConfigError, GatewayProviderError

from .adapter_helpers import call, raw

WORKERS = WorkersAIAdapter()
HF = HuggingFaceAdapter()
REPLICATE = ReplicateAdapter()

LLAMA = "@cf/meta/llama-3.1-8b-instruct"


CHAT = [
    {"role": "system", "content": "Be brief"},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
]
IMAGE_MSG = [
    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
]

# ============================================================================ Workers AI

# Workers AI REST reply envelope (developers.cloudflare.com/workers-ai/get-started/rest-api/),
# with the usage object text-generation models return.
WORKERS_REPLY = {
    "result": {
        "response": "Blue.",
        "usage": {"prompt_tokens": 28, "completion_tokens": 3, "total_tokens": 31},
    },
    "success": True,
    "errors": [],
    "messages": [],
}

# Workers AI function calling reply
# (developers.cloudflare.com/workers-ai/features/function-calling/).
WORKERS_TOOL_REPLY = {
    "result": {
        "response": None,
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Lisbon"}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140},
    },
    "success": True,
    "errors": [],
    "messages": [],
}

# Cloudflare API error envelope (developers.cloudflare.com/fundamentals/api/how-to/make-api-calls/).
WORKERS_FAILED = {
    "result": None,
    "success": False,
    "errors": [{"code": 5006, "message": "Error: required properties at '/' are 'messages'"}],
    "messages": [],
}


def test_workers_route_is_the_model_and_bearer_auth() -> None:
    c = call("workers-ai", LLAMA)
    assert WORKERS.route(c) == (LLAMA, {})
    assert WORKERS.auth_headers("cf-token", c) == {"Authorization": "Bearer cf-token"}


@pytest.mark.parametrize("model", ["meta/llama-3.1-8b-instruct", "", "llama"])
def test_workers_model_must_start_with_at(model: str) -> None:
    with pytest.raises(GatewayConfigError, match=r"@cf/meta/llama-3.1-8b-instruct"):
        WORKERS.route(call("workers-ai", model))


def test_workers_body_messages_and_native_options() -> None:
    opts = {"max_tokens": 64, "temperature": 0.1, "top_k": 3, "seed": 5, "repetition_penalty": 1.1}
    body = WORKERS.body(call("workers-ai", LLAMA, CHAT, options=opts))
    assert body == {
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Name a colour."},
        ],
        **opts,
    }


def test_workers_max_completion_tokens_renamed() -> None:
    body = WORKERS.body(call("workers-ai", LLAMA, options={"max_completion_tokens": 9}))
    assert body["max_tokens"] == 9
    assert "max_completion_tokens" not in body


def test_workers_rejects_images() -> None:
    with pytest.raises(GatewayConfigError, match=r"workers-ai.*image_url"):
        WORKERS.body(call("workers-ai", LLAMA, IMAGE_MSG))


def test_workers_streams_natively() -> None:
    c = dataclasses.replace(call("workers-ai", LLAMA), stream=True)
    assert WORKERS.stream_refusal(c) is None
    assert WORKERS.body(c)["stream"] is True
    assert "stream" not in WORKERS.body(call("workers-ai", LLAMA, options={"stream": False}))


def test_workers_parse_text_and_usage() -> None:
    reply = WORKERS.parse(raw(WORKERS_REPLY), call("workers-ai", LLAMA))
    assert reply.text == "Blue."
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (
        28,
        3,
        31,
    )
    assert reply.finish_reason is None
    assert reply.tool_calls is None


def test_workers_parse_without_usage() -> None:
    body = {"result": {"response": "ok"}, "success": True, "errors": [], "messages": []}
    reply = WORKERS.parse(raw(body), call("workers-ai", LLAMA))
    assert reply.text == "ok"
    assert reply.usage.total_tokens == 0


def test_workers_parse_tool_calls_normalised() -> None:
    reply = WORKERS.parse(raw(WORKERS_TOOL_REPLY), call("workers-ai", LLAMA))
    assert reply.text == ""
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
        }
    ]


def test_workers_parse_json_mode_object_response() -> None:
    body = {"result": {"response": {"colour": "blue"}}, "success": True, "errors": []}
    assert WORKERS.parse(raw(body), call("workers-ai", LLAMA)).text == '{"colour": "blue"}'


def test_workers_parse_openai_shaped_result() -> None:
    # Newer Workers AI models answer with an OpenAI chat.completion inside `result`.
    body = {
        "result": {
            "object": "chat.completion",
            "model": "@cf/openai/gpt-oss-20b",
            "choices": [
                {"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
        "success": True,
        "errors": [],
    }
    reply = WORKERS.parse(raw(body), call("workers-ai", "@cf/openai/gpt-oss-20b"))
    assert (reply.text, reply.finish_reason, reply.usage.total_tokens) == ("Hi", "stop", 2)


def test_workers_success_false_is_a_provider_error_with_the_errors() -> None:
    with pytest.raises(GatewayProviderError, match=r"5006 Error: required properties") as info:
        WORKERS.parse(raw(WORKERS_FAILED), call("workers-ai", LLAMA))
    assert info.value.provider == "workers-ai"


@pytest.mark.parametrize("body", ["text", {"success": True}, {"result": "x", "success": True}])
def test_workers_wrong_shape(body: Any) -> None:
    with pytest.raises(GatewayProviderError, match="workers-ai"):
        WORKERS.parse(raw(body), call("workers-ai", LLAMA))


def test_workers_embeddings_bge() -> None:
    c = call("workers-ai", "@cf/baai/bge-base-en-v1.5", inputs=["a", "b"])
    assert WORKERS.supports_embeddings
    assert WORKERS.embed_route(c) == ("@cf/baai/bge-base-en-v1.5", {})
    assert WORKERS.embed_body(c) == {"text": ["a", "b"]}
    # bge reply (developers.cloudflare.com/workers-ai/models/bge-base-en-v1.5/).
    body = {
        "result": {"shape": [2, 2], "data": [[0.1, 0.2], [0.3, 0.4]], "pooling": "mean"},
        "success": True,
        "errors": [],
        "messages": [],
    }
    assert WORKERS.parse_embeddings(raw(body), c).embeddings == [[0.1, 0.2], [0.3, 0.4]]


# ============================================================================ Hugging Face

# Text generation task reply (huggingface.co/docs/api-inference/tasks/text-generation).
HF_REPLY = [{"generated_text": "The answer is 4."}]


def test_hf_route_is_the_model_and_bearer_auth() -> None:
    c = call("huggingface", "mistralai/Mistral-7B-Instruct-v0.3")
    assert HF.route(c) == ("mistralai/Mistral-7B-Instruct-v0.3", {})
    assert HF.auth_headers("hf_x", c) == {"Authorization": "Bearer hf_x"}


def test_hf_body_single_user_message_is_the_prompt() -> None:
    body = HF.body(call("huggingface", "gpt2", [{"role": "user", "content": "2+2="}]))
    assert body == {"inputs": "2+2=", "parameters": {"return_full_text": False}}


def test_hf_body_chat_is_flattened() -> None:
    body = HF.body(call("huggingface", "m", CHAT))
    assert body["inputs"] == (
        "System: Be brief\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Name a colour.\n\nAssistant:"
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_tokens": 20}, {"max_new_tokens": 20}),
        ({"max_completion_tokens": 21}, {"max_new_tokens": 21}),
        (
            {"temperature": 0.5, "top_p": 0.9, "top_k": 10},
            {"temperature": 0.5, "top_p": 0.9, "top_k": 10},
        ),
        ({"stop": "\n"}, {"stop": ["\n"]}),
        ({"return_full_text": True}, {"return_full_text": True}),
        ({"repetition_penalty": 1.2, "seed": 1}, {"repetition_penalty": 1.2, "seed": 1}),
    ],
)
def test_hf_parameters_mapping(options: dict[str, Any], expected: dict[str, Any]) -> None:
    params = HF.body(call("huggingface", "m", options=options))["parameters"]
    for key, value in expected.items():
        assert params[key] == value
    assert "max_tokens" not in params


def test_hf_options_object_stays_top_level() -> None:
    body = HF.body(call("huggingface", "m", options={"options": {"wait_for_model": True}}))
    assert body["options"] == {"wait_for_model": True}
    assert "options" not in body["parameters"]


def test_hf_rejects_images() -> None:
    with pytest.raises(GatewayConfigError, match="huggingface"):
        HF.body(call("huggingface", "m", IMAGE_MSG))


@pytest.mark.parametrize("body", [HF_REPLY, HF_REPLY[0]])
def test_hf_parse_list_or_dict(body: Any) -> None:
    reply = HF.parse(raw(body), call("huggingface", "m"))
    assert reply.text == "The answer is 4."
    assert reply.usage.total_tokens == 0
    assert reply.finish_reason is None


def test_hf_parse_details() -> None:
    body = [{"generated_text": "x", "details": {"finish_reason": "length", "generated_tokens": 20}}]
    reply = HF.parse(raw(body), call("huggingface", "m"))
    assert reply.finish_reason == "length"
    assert reply.usage.completion_tokens == 20


def test_hf_error_object_is_a_provider_error() -> None:
    body = {"error": "Model gpt2 is currently loading", "estimated_time": 20.0}
    with pytest.raises(GatewayProviderError, match="currently loading"):
        HF.parse(raw(body), call("huggingface", "gpt2"))


@pytest.mark.parametrize("body", [[], "text", [{"generated_text": 5}]])
def test_hf_wrong_shape(body: Any) -> None:
    with pytest.raises(GatewayProviderError, match="huggingface"):
        HF.parse(raw(body), call("huggingface", "m"))


def test_hf_has_no_embeddings() -> None:
    with pytest.raises(GatewayConfigError, match="embeddings"):
        HF.embed_route(call("huggingface", "m", inputs=["a"]))


# ============================================================================ Replicate

# Prediction object (replicate.com/docs/reference/http#predictions.create), with the
# token-list output and metrics Replicate's language models report.
REPLICATE_DONE = {
    "id": "gm3qorzdhgbfurvjtvhg6dckhu",
    "model": "meta/meta-llama-3-8b-instruct",
    "version": "dp-e4a4e4a4",
    "input": {"prompt": "Hi"},
    "logs": "",
    "output": ["Hello", "!", " How", " can", " I", " help", "?"],
    "error": None,
    "status": "succeeded",
    "created_at": "2024-04-20T08:43:50.000Z",
    "metrics": {"input_token_count": 12, "output_token_count": 7, "predict_time": 0.3},
    "urls": {"get": "https://api.replicate.com/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu"},
}

REPLICATE_PROCESSING = {**REPLICATE_DONE, "status": "processing", "output": None, "metrics": {}}


def test_replicate_route_headers_auth() -> None:
    c = call("replicate", "meta/meta-llama-3-8b-instruct")
    assert REPLICATE.route(c) == ("predictions", {})
    assert REPLICATE.extra_headers(c) == {"Prefer": "wait"}
    assert REPLICATE.auth_headers("r8_x", c) == {"Authorization": "Bearer r8_x"}


def test_replicate_body_prompt_and_system_prompt() -> None:
    body = REPLICATE.body(call("replicate", "meta/meta-llama-3-8b-instruct", CHAT))
    assert body == {
        "version": "meta/meta-llama-3-8b-instruct",
        "input": {
            "prompt": "User: Hi\n\nAssistant: Hello\n\nUser: Name a colour.\n\nAssistant:",
            "system_prompt": "Be brief",
        },
    }


def test_replicate_single_message_prompt() -> None:
    body = REPLICATE.body(call("replicate", "owner/model:abc123"))
    assert body == {"version": "owner/model:abc123", "input": {"prompt": "Hi"}}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_tokens": 128}, {"max_tokens": 128, "max_new_tokens": 128}),
        ({"max_completion_tokens": 64}, {"max_tokens": 64, "max_new_tokens": 64}),
        ({"stop": ["<|eot_id|>", "\n\n"]}, {"stop_sequences": "<|eot_id|>,\n\n"}),
        (
            {"temperature": 0.7, "top_p": 0.95, "top_k": 50},
            {"temperature": 0.7, "top_p": 0.95, "top_k": 50},
        ),
        ({"prompt_template": "{prompt}"}, {"prompt_template": "{prompt}"}),
    ],
)
def test_replicate_input_mapping(options: dict[str, Any], expected: dict[str, Any]) -> None:
    body = REPLICATE.body(call("replicate", "m/m", options=options))
    assert body["input"] == {"prompt": "Hi", **expected}


def test_replicate_prompt_prefix_and_suffix_wrap_the_prompt_as_in_promptfoo() -> None:
    # promptfoo's gemma-vs-mistral example writes each model's chat template this way
    template = {"prefix": "<s>[INST] ", "suffix": " [/INST]"}
    body = REPLICATE.body(call("replicate", "m/m", options={"prompt": template}))
    assert body["input"] == {"prompt": "<s>[INST] Hi [/INST]"}
    body = REPLICATE.body(call("replicate", "m/m", options={"prompt": {"suffix": "\nA:"}}))
    assert body["input"] == {"prompt": "Hi\nA:"}


@pytest.mark.parametrize("bad", ["<s>", {"prefix": 1}, {"prefix": "a", "other": "b"}])
def test_replicate_prompt_option_must_be_prefix_and_suffix(bad: Any) -> None:
    with pytest.raises(GatewayConfigError, match="option 'prompt'"):
        REPLICATE.body(call("replicate", "m/m", options={"prompt": bad}))


def test_replicate_webhook_is_a_prediction_field() -> None:
    body = REPLICATE.body(call("replicate", "m/m", options={"webhook": "https://h/x"}))
    assert body["webhook"] == "https://h/x"
    assert "webhook" not in body["input"]


def test_replicate_rejects_images_stream_and_empty_model() -> None:
    with pytest.raises(GatewayConfigError, match="replicate"):
        REPLICATE.body(call("replicate", "m/m", IMAGE_MSG))
    assert "urls.stream" in (REPLICATE.stream_refusal(call("replicate", "m/m")) or "")
    with pytest.raises(GatewayConfigError, match="streaming is not supported"):
        REPLICATE.stream_assembler(call("replicate", "m/m"))
    with pytest.raises(GatewayConfigError, match="needs a model"):
        REPLICATE.body(call("replicate", ""))


def test_replicate_parse_token_list_and_metrics() -> None:
    reply = REPLICATE.parse(raw(REPLICATE_DONE, 201), call("replicate", "m/m"))
    assert reply.text == "Hello! How can I help?"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 7)
    assert reply.usage.total_tokens == 19
    assert reply.model == "meta/meta-llama-3-8b-instruct"


def test_replicate_parse_string_output_without_metrics() -> None:
    body = {**REPLICATE_DONE, "output": "Plain text", "metrics": None}
    reply = REPLICATE.parse(raw(body), call("replicate", "m/m"))
    assert reply.text == "Plain text"
    assert reply.usage.total_tokens == 0


def test_replicate_poll_path() -> None:
    c = call("replicate", "m/m")
    assert (
        REPLICATE.poll_path(raw(REPLICATE_PROCESSING), c)
        == "predictions/gm3qorzdhgbfurvjtvhg6dckhu"
    )
    assert REPLICATE.poll_path(raw({**REPLICATE_PROCESSING, "status": "starting"}), c) is not None
    assert REPLICATE.poll_path(raw(REPLICATE_DONE), c) is None


def test_replicate_parse_unfinished_is_a_provider_error() -> None:
    with pytest.raises(GatewayProviderError, match="still processing"):
        REPLICATE.parse(raw(REPLICATE_PROCESSING), call("replicate", "m/m"))


@pytest.mark.parametrize("status", ["failed", "canceled"])
def test_replicate_failed_raises_with_error(status: str) -> None:
    body = {**REPLICATE_DONE, "status": status, "output": None, "error": "CUDA out of memory"}
    with pytest.raises(GatewayProviderError, match=f"{status}: CUDA out of memory"):
        REPLICATE.parse(raw(body), call("replicate", "m/m"))


@pytest.mark.parametrize("body", ["x", {"output": "no status"}])
def test_replicate_wrong_shape(body: Any) -> None:
    with pytest.raises(GatewayProviderError, match="replicate"):
        REPLICATE.parse(raw(body), call("replicate", "m/m"))
