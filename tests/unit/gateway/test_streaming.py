"""The SSE parser and the per-provider stream assemblers (pure, no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_cfgateway.gateway.adapters.anthropic import AnthropicAdapter
from pytest_cfgateway.gateway.adapters.cohere import CohereAdapter
from pytest_cfgateway.gateway.adapters.gemini import GeminiAdapter
from pytest_cfgateway.gateway.adapters.openai_chat import OpenAIChatAdapter
from pytest_cfgateway.gateway.adapters.workers_ai import WorkersAIAdapter
from pytest_cfgateway.gateway.streaming import (
    AnthropicAssembler,
    CohereV2Assembler,
    GeminiAssembler,
    OpenAIChatAssembler,
    SSEEvent,
    SSEParser,
    StreamAssembler,
    StreamError,
    WorkersAIAssembler,
)
from pytest_cfgateway.gateway.types import RawResponse

from .adapter_helpers import call

# --- the parser -----------------------------------------------------------------------------


def parse_all(data: bytes, step: int) -> tuple[list[SSEEvent], SSEParser]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(data), step):
        events += parser.feed(data[i : i + step])
    events += parser.close()
    return events, parser


STREAM = (
    "\ufeff: keep-alive comment\r\n"
    "event: message_start\r\n"
    'data: {"a": 1}\r\n'
    "\r\n"
    "data: first line\n"
    "data: second line\n"
    "id: 7\n"
    "retry: 100\n"
    "\n"
    "data:no-space\r"
    "\r"
    "data: caf\u00e9 \u2603\n"
    "\n"
).encode()


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(STREAM)])
def test_parser_handles_every_line_ending_and_any_split(step: int) -> None:
    events, parser = parse_all(STREAM, step)
    assert events == [
        SSEEvent('{"a": 1}', "message_start"),
        SSEEvent("first line\nsecond line", "message", "7"),
        SSEEvent("no-space", "message", "7"),
        SSEEvent("caf\u00e9 \u2603", "message", "7"),
    ]
    assert not parser.pending


def test_parser_flags_an_unfinished_event_at_eof() -> None:
    events, parser = parse_all(b"data: one\n\ndata: half", 4)
    assert [e.data for e in events] == ["one"]
    assert parser.pending


# --- assemblers -----------------------------------------------------------------------------


def feed(assembler: StreamAssembler, events: list[tuple[str | None, Any]]) -> list[bool]:
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append(assembler.feed(SSEEvent(text, name or "message")))
    return out


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Any:
    return (
        None,
        {
            "id": "c1",
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        },
    )


def test_openai_assembles_text_tool_calls_and_usage() -> None:
    a = OpenAIChatAssembler("openai")
    output = feed(
        a,
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hi"}),
            chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get_"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"name": "w", "arguments": '{"ci'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "P"}'}}]}),
            chunk({}, "tool_calls"),
            (None, {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "total_tokens": 5}}),
            (None, "[DONE]"),
        ],
    )
    assert output == [False, True, True, True, True, False, False, False]
    assert a.complete
    parsed = OpenAIChatAdapter().parse(RawResponse(200, {}, a.result()), call("openai", "m"))
    assert parsed.text == "Hi"
    assert parsed.finish_reason == "tool_calls"
    assert parsed.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_w", "arguments": '{"city": "P"}'},
        }
    ]
    assert parsed.usage.prompt_tokens == 3 and parsed.usage.total_tokens == 5
    assert parsed.model == "gpt-4o"


def test_openai_groq_usage_and_error_chunk() -> None:
    a = OpenAIChatAssembler("groq")
    feed(
        a,
        [
            chunk({"content": "x"}, "stop", x_groq={"usage": {"completion_tokens": 1}}),
            (None, "[DONE]"),
        ],
    )
    assert a.result()["usage"] == {"completion_tokens": 1}
    b = OpenAIChatAssembler("openai")
    with pytest.raises(StreamError, match="mid-stream: overloaded"):
        feed(b, [(None, {"error": {"message": "overloaded"}})])


def test_openai_without_done_is_incomplete() -> None:
    a = OpenAIChatAssembler("openai")
    feed(a, [chunk({"content": "x"}, "stop")])
    assert not a.complete
    assert "data: [DONE]" in str(a.incomplete("the stream ended"))


def test_anthropic_assembles_blocks_and_cumulative_usage() -> None:
    a = AnthropicAssembler("anthropic")
    start = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
             "model": "claude", "content": [], "stop_reason": None,
             "usage": {"input_tokens": 9, "output_tokens": 1}}}  # fmt: skip
    output = feed(
        a,
        [
            ("message_start", start),
            ("ping", {"type": "ping"}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "Hel"}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "lo"}}),
            ("content_block_start", {"type": "content_block_start", "index": 1,
                                     "content_block": {"type": "tool_use", "id": "t1",
                                                       "name": "f", "input": {}}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                     "delta": {"type": "input_json_delta",
                                               "partial_json": '{"a": '}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                     "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                               "usage": {"output_tokens": 12}}),
            ("message_stop", {"type": "message_stop"}),
        ],
    )  # fmt: skip
    assert output == [False, False, False, True, True, True, True, True, False, False]
    assert a.complete
    parsed = AnthropicAdapter().parse(RawResponse(200, {}, a.result()), call("anthropic", "c"))
    assert parsed.text == "Hello"
    assert parsed.finish_reason == "tool_calls"
    assert parsed.tool_calls == [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    assert (parsed.usage.prompt_tokens, parsed.usage.completion_tokens) == (9, 12)


def test_anthropic_error_event() -> None:
    a = AnthropicAssembler("anthropic")
    with pytest.raises(StreamError, match="overloaded_error: Overloaded"):
        feed(a, [("error", {"type": "error", "error": {"type": "overloaded_error",
                                                       "message": "Overloaded"}})])  # fmt: skip


def test_gemini_assembles_chunks_and_ends_on_finish_reason() -> None:
    a = GeminiAssembler("google-ai-studio")

    def g(parts: list[Any], finish: str | None = None, usage: Any = None) -> Any:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        return (None, {"candidates": [cand], "usageMetadata": usage or {"promptTokenCount": 4},
                       "modelVersion": "gemini-2.5-flash"})  # fmt: skip

    output = feed(
        a,
        [
            g([{"text": "thinking", "thought": True}]),
            g([{"text": "Hi "}]),
            g([{"text": "there"}, {"functionCall": {"name": "f", "args": {"x": 1}}}], "STOP",
              {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}),
        ],
    )  # fmt: skip
    assert output == [False, True, True]
    assert a.complete
    parsed = GeminiAdapter().parse(RawResponse(200, {}, a.result()), call("google-ai-studio", "g"))
    assert parsed.text == "Hi there"
    assert parsed.finish_reason == "tool_calls"
    assert parsed.tool_calls is not None and parsed.tool_calls[0]["function"]["name"] == "f"
    assert parsed.usage.total_tokens == 6


def test_cohere_v2_assembles_and_reports_end_errors() -> None:
    a = CohereV2Assembler("cohere")
    msg = {"message": {"content": {"text": "Hi"}}}
    output = feed(
        a,
        [
            ("message-start", {"type": "message-start", "id": "r1", "delta": {"message": {}}}),
            ("content-start", {"type": "content-start", "index": 0,
                               "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
            ("content-delta", {"type": "content-delta", "index": 0, "delta": msg}),
            ("content-end", {"type": "content-end", "index": 0}),
            ("message-end", {"type": "message-end", "delta": {"finish_reason": "MAX_TOKENS",
             "usage": {"tokens": {"input_tokens": 2, "output_tokens": 1}}}}),
        ],
    )  # fmt: skip
    assert output == [False, False, True, False, False]
    parsed = CohereAdapter().parse(RawResponse(200, {}, a.result()), call("cohere", "c"))
    assert (parsed.text, parsed.finish_reason, parsed.usage.total_tokens) == ("Hi", "length", 3)
    b = CohereV2Assembler("cohere")
    with pytest.raises(StreamError, match="boom"):
        feed(b, [("message-end", {"type": "message-end", "delta": {"error": "boom"}})])


def test_workers_ai_native_and_openai_shaped_streams() -> None:
    a = WorkersAIAssembler("workers-ai")
    feed(
        a,
        [
            (None, {"response": "Hel", "p": "x"}),
            (None, {"response": "lo"}),
            (None, {"response": "", "usage": {"prompt_tokens": 2, "completion_tokens": 2}}),
            (None, "[DONE]"),
        ],
    )
    assert a.complete
    parsed = WorkersAIAdapter().parse(
        RawResponse(200, {}, a.result()), call("workers-ai", "@cf/x/y")
    )
    assert (parsed.text, parsed.usage.total_tokens) == ("Hello", 4)
    b = WorkersAIAssembler("workers-ai")
    feed(b, [chunk({"content": "Yo"}, "stop"), (None, "[DONE]")])
    parsed = WorkersAIAdapter().parse(
        RawResponse(200, {}, b.result()), call("workers-ai", "@cf/x/y")
    )
    assert (parsed.text, parsed.finish_reason) == ("Yo", "stop")


def test_non_json_event_is_a_clear_error() -> None:
    with pytest.raises(StreamError, match="not JSON"):
        feed(OpenAIChatAssembler("openai"), [(None, "{broken")])
