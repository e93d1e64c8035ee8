"""Native-format adapters: Anthropic Messages, Gemini generateContent, Cohere chat v2/v1."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pytest_cfgateway.gateway.adapters.anthropic import AnthropicAdapter
from pytest_cfgateway.gateway.adapters.cohere import CohereAdapter
from pytest_cfgateway.gateway.adapters.gemini import GeminiAdapter
from pytest_cfgateway.gateway.errors import GatewayConfigError, GatewayProviderError

from .adapter_helpers import call, raw

ANTHROPIC = AnthropicAdapter()
GEMINI = GeminiAdapter()
COHERE = CohereAdapter()


SYSTEM_CHAT = [
    {"role": "system", "content": "Be brief"},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

TOOL_HISTORY = [
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18}'},
    {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
]

PNG = "data:image/png;base64,iVBORw0KGgo="

# ============================================================================ Anthropic

# Anthropic Messages API response (docs.anthropic.com/en/api/messages, "Response" example),
# with the prompt-caching usage fields (docs.anthropic.com prompt caching guide).
ANTHROPIC_REPLY = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2095,
        "output_tokens": 503,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1000,
    },
}

# Anthropic tool use response (docs.anthropic.com/en/docs/build-with-claude/tool-use).
ANTHROPIC_TOOL_REPLY = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-opus-4-1-20250805",
    "stop_reason": "tool_use",
    "content": [
        {"type": "thinking", "thinking": "I should call the tool.", "signature": "abc"},
        {"type": "text", "text": "I'll check the weather."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA", "unit": "celsius"},
        },
    ],
    "usage": {"input_tokens": 472, "output_tokens": 89},
}


def test_anthropic_route_and_headers() -> None:
    c = call("anthropic", "claude-sonnet-4-5")
    assert ANTHROPIC.route(c) == ("v1/messages", {})
    assert ANTHROPIC.auth_headers("sk-ant", c) == {"x-api-key": "sk-ant"}
    assert ANTHROPIC.extra_headers(c) == {"anthropic-version": "2023-06-01"}


def test_anthropic_body_system_top_level_and_default_max_tokens() -> None:
    body = ANTHROPIC.body(call("anthropic", "claude-sonnet-4-5", SYSTEM_CHAT))
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "Be brief",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        ],
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_tokens": 50}, {"max_tokens": 50}),
        ({"max_completion_tokens": 70}, {"max_tokens": 70}),
        ({"stop": "END"}, {"stop_sequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}),
        (
            {"temperature": 0.2, "top_p": 0.9, "top_k": 5},
            {"temperature": 0.2, "top_p": 0.9, "top_k": 5},
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        ({"tool_choice": "required"}, {"tool_choice": {"type": "any"}}),
        ({"tool_choice": "auto"}, {"tool_choice": {"type": "auto"}}),
        ({"tool_choice": "none"}, {"tool_choice": {"type": "none"}}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {"tool_choice": {"type": "tool", "name": "get_weather"}},
        ),
    ],
)
def test_anthropic_option_mapping(options: dict[str, Any], expected: dict[str, Any]) -> None:
    body = ANTHROPIC.body(call("anthropic", "claude-haiku-4-5", options=options))
    for key, value in expected.items():
        assert body[key] == value
    assert "stop" not in body
    assert "max_completion_tokens" not in body


def test_anthropic_converts_openai_tools() -> None:
    body = ANTHROPIC.body(call("anthropic", "claude", options={"tools": [WEATHER_TOOL]}))
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]


def test_anthropic_native_tools_pass_unchanged() -> None:
    native = {"name": "f", "input_schema": {"type": "object"}}
    body = ANTHROPIC.body(call("anthropic", "claude", options={"tools": [native]}))
    assert body["tools"] == [native]


def test_anthropic_tool_history_becomes_tool_use_and_grouped_tool_results() -> None:
    body = ANTHROPIC.body(call("anthropic", "claude", TOOL_HISTORY))
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp": 18}'},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "sunny"},
        ],
    }
    assert len(body["messages"]) == 3


def test_anthropic_images() -> None:
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": PNG}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        }
    ]
    content = ANTHROPIC.body(call("anthropic", "claude", msgs))["messages"][0]["content"]
    assert content[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert content[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }


def test_anthropic_audio_part_is_a_config_error_naming_the_provider() -> None:
    msgs = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x"}}]}]
    with pytest.raises(GatewayConfigError, match=r"anthropic.*input_audio"):
        ANTHROPIC.body(call("anthropic", "claude", msgs))


@pytest.mark.parametrize("option", ["seed", "response_format", "frequency_penalty", "n"])
def test_anthropic_rejects_openai_only_options(option: str) -> None:
    with pytest.raises(GatewayConfigError, match=option):
        ANTHROPIC.body(call("anthropic", "claude", options={option: 1}))


def test_anthropic_stream_body() -> None:
    c = dataclasses.replace(call("anthropic", "claude"), stream=True)
    assert ANTHROPIC.body(c)["stream"] is True
    assert "stream" not in ANTHROPIC.body(call("anthropic", "claude", options={"stream": True}))


def test_anthropic_parse_text_usage_and_cache_tokens() -> None:
    reply = ANTHROPIC.parse(raw(ANTHROPIC_REPLY), call("anthropic", "claude"))
    assert reply.text == "Hi! My name is Claude."
    assert reply.finish_reason == "stop"
    assert reply.model == "claude-sonnet-4-5-20250929"
    assert reply.usage.prompt_tokens == 2095 + 100 + 1000
    assert reply.usage.completion_tokens == 503
    assert reply.usage.total_tokens == 3698
    assert reply.usage.cached_tokens == 1100


def test_anthropic_parse_tool_use_skips_thinking() -> None:
    reply = ANTHROPIC.parse(raw(ANTHROPIC_TOOL_REPLY), call("anthropic", "claude"))
    assert reply.text == "I'll check the weather."
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls is not None
    tc = reply.tool_calls[0]
    assert tc["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert tc["type"] == "function"
    assert tc["function"]["name"] == "get_weather"
    assert json.loads(tc["function"]["arguments"]) == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ],
)
def test_anthropic_stop_reason_normalised(stop_reason: str, finish: str) -> None:
    body = {**ANTHROPIC_REPLY, "stop_reason": stop_reason}
    assert ANTHROPIC.parse(raw(body), call("anthropic", "c")).finish_reason == finish


@pytest.mark.parametrize("body", [{"type": "message"}, [1, 2], {"content": ["x"]}])
def test_anthropic_wrong_shape(body: Any) -> None:
    with pytest.raises(GatewayProviderError, match="anthropic: unexpected reply shape"):
        ANTHROPIC.parse(raw(body), call("anthropic", "c"))


# ============================================================================ Gemini

# Gemini generateContent response
# (ai.google.dev/api/generate-content#v1beta.GenerateContentResponse).
GEMINI_REPLY = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "thinking about it", "thought": True},
                    {"text": "AI learns patterns "},
                    {"text": "from data."},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
            "avgLogprobs": -0.12,
            "logprobsResult": {
                "topCandidates": [],
                "chosenCandidates": [
                    {"token": "AI", "logProbability": -0.1},
                    {"token": " learns", "logProbability": -0.25},
                ],
            },
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 8,
        "candidatesTokenCount": 12,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 25,
        "cachedContentTokenCount": 4,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "abc",
}

# Gemini function calling response (ai.google.dev/gemini-api/docs/function-calling).
GEMINI_TOOL_REPLY = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {
                            "name": "schedule_meeting",
                            "args": {"attendees": ["Bob", "Alice"], "time": "10:00"},
                        }
                    }
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120},
    "modelVersion": "gemini-2.5-flash",
}


def test_gemini_route_and_header() -> None:
    c = call("google-ai-studio", "gemini-2.5-flash")
    assert GEMINI.route(c) == ("v1beta/models/gemini-2.5-flash:generateContent", {})
    assert GEMINI.auth_headers("AIza", c) == {"x-goog-api-key": "AIza"}
    assert GEMINI.extra_headers(c) == {}


def test_gemini_route_strips_models_prefix_and_honours_api_version() -> None:
    c = call("google-ai-studio", "models/gemini-2.0-flash", config={"apiVersion": "v1"})
    assert GEMINI.route(c) == ("v1/models/gemini-2.0-flash:generateContent", {})


def test_gemini_body_contents_roles_and_system_instruction() -> None:
    body = GEMINI.body(call("google-ai-studio", "gemini", SYSTEM_CHAT))
    assert body == {
        "systemInstruction": {"parts": [{"text": "Be brief"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "Weather?"}]},
        ],
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_tokens": 100}, {"maxOutputTokens": 100}),
        ({"max_completion_tokens": 80}, {"maxOutputTokens": 80}),
        ({"temperature": 0.3}, {"temperature": 0.3}),
        ({"top_p": 0.8, "top_k": 40}, {"topP": 0.8, "topK": 40}),
        ({"stop": "END"}, {"stopSequences": ["END"]}),
        ({"seed": 1, "n": 2}, {"seed": 1, "candidateCount": 2}),
        (
            {"presence_penalty": 0.1, "frequency_penalty": 0.2},
            {"presencePenalty": 0.1, "frequencyPenalty": 0.2},
        ),
        ({"logprobs": True, "top_logprobs": 3}, {"responseLogprobs": True, "logprobs": 3}),
        ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object"}},
                }
            },
            {"responseMimeType": "application/json", "responseSchema": {"type": "object"}},
        ),
        ({"thinkingConfig": {"thinkingBudget": 0}}, {"thinkingConfig": {"thinkingBudget": 0}}),
        (
            {"generationConfig": {"candidateCount": 1}, "temperature": 1},
            {"candidateCount": 1, "temperature": 1},
        ),
    ],
)
def test_gemini_generation_config_mapping(
    options: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = GEMINI.body(call("google-ai-studio", "gemini", options=options))
    assert body["generationConfig"] == expected


def test_gemini_no_generation_config_when_no_options() -> None:
    assert "generationConfig" not in GEMINI.body(call("google-ai-studio", "gemini"))


def test_gemini_top_level_options_stay_top_level() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    body = GEMINI.body(call("google-ai-studio", "gemini", options={"safetySettings": safety}))
    assert body["safetySettings"] == safety
    assert "generationConfig" not in body


def test_gemini_tools_and_tool_choice() -> None:
    opts = {
        "tools": [WEATHER_TOOL, {"googleSearch": {}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    body = GEMINI.body(call("google-ai-studio", "gemini", options=opts))
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Get the weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                }
            ]
        },
        {"googleSearch": {}},
    ]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }


@pytest.mark.parametrize(
    ("choice", "mode"), [("auto", "AUTO"), ("required", "ANY"), ("none", "NONE")]
)
def test_gemini_tool_choice_modes(choice: str, mode: str) -> None:
    body = GEMINI.body(call("google-ai-studio", "g", options={"tool_choice": choice}))
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_gemini_snake_case_tool_config_is_sent_as_tool_config_like_promptfoo() -> None:
    # promptfoo's google-aistudio-gemini example; it was sent inside generationConfig (400)
    options = {
        "tool_choice": "required",
        "tool_config": {
            "function_calling_config": {"mode": "auto", "allowed_function_names": ["f"]},
            "retrieval_config": {"lat_lng": {"latitude": 1, "longitude": 2}},
        },
        "temperature": 0,
    }
    body = GEMINI.body(call("google-ai-studio", "gemini-2.5-pro", options=options))
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]},
        "retrievalConfig": {"latLng": {"latitude": 1, "longitude": 2}},
    }
    assert body["generationConfig"] == {"temperature": 0}
    with pytest.raises(GatewayConfigError, match="tool_config must be a mapping"):
        GEMINI.body(call("google-ai-studio", "g", options={"tool_config": "auto"}))


def test_gemini_tool_history_function_call_and_response() -> None:
    body = GEMINI.body(call("google-ai-studio", "gemini", TOOL_HISTORY))
    assert body["contents"][1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
        ],
    }
    assert body["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
            {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}},
        ],
    }


def test_gemini_tool_message_without_known_name_is_a_config_error() -> None:
    msgs = [
        {"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "zz", "content": "1"},
    ]
    with pytest.raises(GatewayConfigError, match="function name"):
        GEMINI.body(call("google-ai-studio", "gemini", msgs))


def test_gemini_inline_image_and_url_image_error() -> None:
    ok = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}]
    body = GEMINI.body(call("google-ai-studio", "gemini", ok))
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    ]
    bad = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
        }
    ]
    with pytest.raises(GatewayConfigError, match=r"google-ai-studio.*data URL"):
        GEMINI.body(call("google-ai-studio", "gemini", bad))


def test_gemini_parse_text_usage_logprobs_skips_thoughts() -> None:
    reply = GEMINI.parse(raw(GEMINI_REPLY), call("google-ai-studio", "gemini-2.5-flash"))
    assert reply.text == "AI learns patterns from data."
    assert reply.finish_reason == "stop"
    assert reply.usage.prompt_tokens == 8
    assert reply.usage.completion_tokens == 17  # candidates + thoughts
    assert reply.usage.total_tokens == 25
    assert reply.usage.cached_tokens == 4
    assert reply.logprobs == [-0.1, -0.25]
    assert reply.model == "gemini-2.5-flash"


def test_gemini_parse_function_call() -> None:
    reply = GEMINI.parse(raw(GEMINI_TOOL_REPLY), call("google-ai-studio", "gemini"))
    assert reply.text == ""
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        {
            "id": "call_0",
            "type": "function",
            "function": {
                "name": "schedule_meeting",
                "arguments": json.dumps({"attendees": ["Bob", "Alice"], "time": "10:00"}),
            },
        }
    ]
    assert reply.usage.total_tokens == 120


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("OTHER", "other"),
    ],
)
def test_gemini_finish_reason_normalised(reason: str, finish: str) -> None:
    body = json.loads(json.dumps(GEMINI_REPLY))
    body["candidates"][0]["finishReason"] = reason
    assert GEMINI.parse(raw(body), call("google-ai-studio", "g")).finish_reason == finish


def test_gemini_blocked_prompt_is_an_empty_content_filter_reply() -> None:
    # Blocked prompt reply (ai.google.dev/api/generate-content#PromptFeedback).
    body = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
    reply = GEMINI.parse(raw(body), call("google-ai-studio", "g"))
    assert (reply.text, reply.finish_reason, reply.usage.prompt_tokens) == ("", "content_filter", 7)


@pytest.mark.parametrize(
    "body", [{}, {"candidates": ["x"]}, "text", {"candidates": [{"content": {"parts": ["x"]}}]}]
)
def test_gemini_wrong_shape(body: Any) -> None:
    with pytest.raises(GatewayProviderError, match="google-ai-studio"):
        GEMINI.parse(raw(body), call("google-ai-studio", "g"))


def test_gemini_embeddings() -> None:
    c = call(
        "google-ai-studio", "gemini-embedding-001", inputs=["a", "b"], options={"dimensions": 3}
    )
    assert GEMINI.supports_embeddings
    assert GEMINI.embed_route(c) == ("v1beta/models/gemini-embedding-001:batchEmbedContents", {})
    assert GEMINI.embed_body(c) == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "a"}]},
                "outputDimensionality": 3,
            },
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "b"}]},
                "outputDimensionality": 3,
            },
        ]
    }
    # batchEmbedContents response (ai.google.dev/api/embeddings#method:-models.batchembedcontents).
    reply = GEMINI.parse_embeddings(
        raw({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}), c
    )
    assert reply.embeddings == [[0.1, 0.2], [0.3, 0.4]]


# ============================================================================ Cohere

# Cohere v2 chat response (docs.cohere.com/reference/chat, "Response" example).
COHERE_V2_REPLY = {
    "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
    "finish_reason": "COMPLETE",
    "message": {
        "role": "assistant",
        "content": [{"type": "text", "text": "LLMs are large language models."}],
    },
    "usage": {
        "billed_units": {"input_tokens": 17, "output_tokens": 12},
        "tokens": {"input_tokens": 215, "output_tokens": 12},
        "cached_tokens": 0,
    },
}

# Cohere v2 tool use response (docs.cohere.com/docs/tool-use-overview).
COHERE_V2_TOOL_REPLY = {
    "id": "abc",
    "finish_reason": "TOOL_CALL",
    "message": {
        "role": "assistant",
        "tool_plan": "I will look up the weather.",
        "tool_calls": [
            {
                "id": "get_weather_1byjy32y4hvq",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"location":"Toronto"}'},
            }
        ],
    },
    "usage": {"billed_units": {"input_tokens": 37, "output_tokens": 28}},
}

# Cohere v1 chat response (docs.cohere.com/v1/reference/chat).
COHERE_V1_REPLY = {
    "text": "The tallest penguin is the emperor penguin.",
    "generation_id": "7b3c6d3e",
    "finish_reason": "MAX_TOKENS",
    "chat_history": [],
    "meta": {
        "api_version": {"version": "1"},
        "billed_units": {"input_tokens": 31, "output_tokens": 9},
        "tokens": {"input_tokens": 97, "output_tokens": 9},
    },
}


def test_cohere_v2_route_auth_and_body() -> None:
    c = call("cohere", "command-a-03-2025", SYSTEM_CHAT)
    assert COHERE.route(c) == ("v2/chat", {})
    assert COHERE.auth_headers("co", c) == {"Authorization": "Bearer co"}
    assert COHERE.body(c) == {"model": "command-a-03-2025", "messages": SYSTEM_CHAT}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"top_p": 0.7, "top_k": 9}, {"p": 0.7, "k": 9}),
        ({"stop": "END"}, {"stop_sequences": ["END"]}),
        (
            {"max_tokens": 10, "temperature": 0.1, "seed": 3},
            {"max_tokens": 10, "temperature": 0.1, "seed": 3},
        ),
        ({"max_completion_tokens": 11}, {"max_tokens": 11}),
        ({"tool_choice": "required"}, {"tool_choice": "REQUIRED"}),
        ({"tool_choice": "none"}, {"tool_choice": "NONE"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "object"}},
                }
            },
            {"response_format": {"type": "json_object", "json_schema": {"type": "object"}}},
        ),
        ({"tools": [WEATHER_TOOL]}, {"tools": [WEATHER_TOOL]}),
        ({"safety_mode": "STRICT"}, {"safety_mode": "STRICT"}),
    ],
)
def test_cohere_v2_option_mapping(options: dict[str, Any], expected: dict[str, Any]) -> None:
    body = COHERE.body(call("cohere", "command-r", options=options))
    for key, value in expected.items():
        assert body[key] == value
    assert not {"top_p", "top_k", "stop"} & set(body)


def test_cohere_tool_choice_auto_is_omitted_and_named_choice_rejected() -> None:
    assert "tool_choice" not in COHERE.body(call("cohere", "c", options={"tool_choice": "auto"}))
    with pytest.raises(GatewayConfigError, match="tool_choice"):
        COHERE.body(call("cohere", "c", options={"tool_choice": {"type": "function"}}))


def test_cohere_v2_parse() -> None:
    reply = COHERE.parse(raw(COHERE_V2_REPLY), call("cohere", "command-a"))
    assert reply.text == "LLMs are large language models."
    assert reply.finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (215, 12)
    assert reply.usage.total_tokens == 227


def test_cohere_v2_parse_tool_calls_and_billed_units_fallback() -> None:
    reply = COHERE.parse(raw(COHERE_V2_TOOL_REPLY), call("cohere", "command-a"))
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        {
            "id": "get_weather_1byjy32y4hvq",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Toronto"}'},
        }
    ]
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (37, 28)


def test_cohere_v2_logprobs() -> None:
    body = {
        **COHERE_V2_REPLY,
        "logprobs": [{"token_ids": [1, 2], "text": "LL", "logprobs": [-0.5, -0.25]}],
    }
    assert COHERE.parse(raw(body), call("cohere", "c")).logprobs == [-0.5, -0.25]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("COMPLETE", "stop"),
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("TOOL_CALL", "tool_calls"),
        ("ERROR", "error"),
    ],
)
def test_cohere_finish_reasons(reason: str, finish: str) -> None:
    body = {**COHERE_V2_REPLY, "finish_reason": reason}
    assert COHERE.parse(raw(body), call("cohere", "c")).finish_reason == finish


def test_cohere_v1_route_and_body() -> None:
    c = call(
        "cohere", "command-r", SYSTEM_CHAT, options={"top_p": 0.5}, config={"apiVersion": "v1"}
    )
    assert COHERE.route(c) == ("v1/chat", {})
    assert COHERE.body(c) == {
        "model": "command-r",
        "message": "Weather?",
        "chat_history": [
            {"role": "USER", "message": "Hi"},
            {"role": "CHATBOT", "message": "Hello"},
        ],
        "preamble": "Be brief",
        "p": 0.5,
    }


def test_cohere_v1_later_system_message_goes_to_history_as_system() -> None:
    msgs = [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    body = COHERE.body(call("cohere", "c", msgs, config={"apiVersion": "v1"}))
    assert body["chat_history"] == [
        {"role": "USER", "message": "a"},
        {"role": "SYSTEM", "message": "b"},
    ]
    assert "preamble" not in body


def test_cohere_v1_response_format_uses_schema_key() -> None:
    opts = {
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
    }
    body = COHERE.body(call("cohere", "c", options=opts, config={"apiVersion": "v1"}))
    assert body["response_format"] == {"type": "json_object", "schema": {"type": "object"}}


def test_cohere_v1_rejects_conversation_not_ending_with_user_and_openai_tools() -> None:
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    with pytest.raises(GatewayConfigError, match="end with a user message"):
        COHERE.body(call("cohere", "c", msgs, config={"apiVersion": "v1"}))
    with pytest.raises(GatewayConfigError, match="apiVersion v2"):
        COHERE.body(
            call("cohere", "c", options={"tools": [WEATHER_TOOL]}, config={"apiVersion": "v1"})
        )


def test_cohere_v1_parse() -> None:
    reply = COHERE.parse(raw(COHERE_V1_REPLY), call("cohere", "c", config={"apiVersion": "v1"}))
    assert reply.text == "The tallest penguin is the emperor penguin."
    assert reply.finish_reason == "length"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (97, 9)


def test_cohere_bad_api_version() -> None:
    with pytest.raises(GatewayConfigError, match="apiVersion"):
        COHERE.route(call("cohere", "c", config={"apiVersion": "v3"}))


def test_cohere_non_text_part_rejected_in_v1_and_audio_in_v2() -> None:
    msgs = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}]
    with pytest.raises(GatewayConfigError, match="cohere"):
        COHERE.body(call("cohere", "c", msgs, config={"apiVersion": "v1"}))
    assert COHERE.body(call("cohere", "c", msgs))["messages"] == msgs  # v2 takes images
    audio = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]
    with pytest.raises(GatewayConfigError, match="cohere"):
        COHERE.body(call("cohere", "c", audio))


@pytest.mark.parametrize("body", [{"finish_reason": "COMPLETE"}, "oops"])
def test_cohere_wrong_shape(body: Any) -> None:
    with pytest.raises(GatewayProviderError, match="cohere"):
        COHERE.parse(raw(body), call("cohere", "c"))


def test_cohere_embeddings_v2() -> None:
    c = call("cohere", "embed-v4.0", inputs=["a"])
    assert COHERE.embed_route(c) == ("v2/embed", {})
    assert COHERE.embed_body(c) == {
        "model": "embed-v4.0",
        "texts": ["a"],
        "input_type": "search_document",
        "embedding_types": ["float"],
    }
    # v2 embed response (docs.cohere.com/reference/embed).
    body = {
        "id": "x",
        "embeddings": {"float": [[0.1, 0.2]]},
        "texts": ["a"],
        "meta": {"billed_units": {"input_tokens": 1}},
    }
    reply = COHERE.parse_embeddings(raw(body), c)
    assert reply.embeddings == [[0.1, 0.2]]
    assert reply.usage.prompt_tokens == 1


@pytest.mark.parametrize("adapter", [ANTHROPIC, GEMINI], ids=["anthropic", "gemini"])
@pytest.mark.parametrize(
    "tool_calls",
    [["not-a-dict"], [{"id": "x", "type": "function"}], "nope"],
)
def test_malformed_assistant_tool_calls_are_config_errors(adapter: Any, tool_calls: Any) -> None:
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": tool_calls}]
    with pytest.raises(GatewayConfigError, match=adapter.slug):
        adapter.body(call(adapter.slug, "m", msgs))


def test_bad_tool_arguments_json_is_a_config_error() -> None:
    msgs = [
        {"role": "user", "content": "a"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{not json"}}],
        },
    ]
    with pytest.raises(GatewayConfigError, match="JSON object string"):
        ANTHROPIC.body(call("anthropic", "c", msgs))


def test_content_part_that_is_not_an_object_names_the_provider() -> None:
    msgs = [{"role": "user", "content": [42]}]
    with pytest.raises(GatewayConfigError, match="google-ai-studio: message content parts"):
        GEMINI.body(call("google-ai-studio", "g", msgs))
