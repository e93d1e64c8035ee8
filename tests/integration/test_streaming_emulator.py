"""`stream: true` through the gateway, against the real emulator, for every streaming wire
format: the assembled answer (text, tool calls, finish reason, usage), the time to first
token, retries before the first byte, and mid-stream cuts.

Timings are checked only as lower bounds the emulator's sleeps guarantee (never as speed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import GatewayTimeoutError
from pytest_cfgateway.gateway.streaming import StreamIncompleteError

ENV = {
    "OPENAI_API_KEY": "sk-stream-FAKE-1",
    "ANTHROPIC_API_KEY": "sk-ant-stream-FAKE",
    "GOOGLE_API_KEY": "g-stream-FAKE",
    "COHERE_API_KEY": "co-stream-FAKE",
    "CLOUDFLARE_API_KEY": "cf-stream-FAKE",
    "MISTRAL_API_KEY": "mi-stream-FAKE",
    "GROQ_API_KEY": "gq-stream-FAKE",
    "PERPLEXITY_API_KEY": "px-stream-FAKE",
    "XAI_API_KEY": "xai-stream-FAKE",
    "AZURE_OPENAI_API_KEY": "az-stream-FAKE",
}
PROMPT = "the quick brown fox jumps"  # the emulator echoes it: 5 words in, 5 words out

#: (provider id, options, events before the first one carrying text, expected wire path)
FORMATS: list[tuple[str, dict[str, Any], int, str]] = [
    ("openai:gpt-4o-mini", {}, 1, "openai/chat/completions"),
    ("groq:llama-3.1-8b-instant", {}, 1, "groq/chat/completions"),
    ("mistral:mistral-small-latest", {}, 1, "mistral/v1/chat/completions"),
    ("perplexity-ai:sonar", {}, 1, "perplexity-ai/chat/completions"),
    ("grok:grok-3", {}, 1, "grok/v1/chat/completions"),
    (
        "azure-openai:gpt-4o",
        {"resourceName": "res", "deploymentName": "dep"},
        1,
        "azure-openai/res/dep/chat/completions",
    ),
    ("compat:workers-ai/@cf/meta/llama-3.1-8b-instruct", {}, 1, "compat/chat/completions"),
    ("anthropic:claude-sonnet-4-5", {}, 3, "anthropic/v1/messages"),
    (
        "google-ai-studio:gemini-2.5-flash",
        {},
        0,
        "google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    ),
    ("cohere:command-a-03-2025", {}, 2, "cohere/v2/chat"),
    (
        "workers-ai:@cf/meta/llama-3.1-8b-instruct",
        {},
        0,
        "workers-ai/@cf/meta/llama-3.1-8b-instruct",
    ),
]
IDS = [f[0].split(":")[0] for f in FORMATS]


@pytest.fixture
def gw(emu: Any) -> Iterator[Gateway]:
    g = Gateway(base_url=emu.url, account_id="acct", gateway_id="gw", env=ENV, retry_delay=0.01)
    yield g
    g.close()


@pytest.mark.parametrize(("provider", "options", "lead", "path"), FORMATS, ids=IDS)
def test_streamed_answer_is_assembled(
    gw: Gateway, emu: Any, provider: str, options: dict[str, Any], lead: int, path: str
) -> None:
    emu.first_byte_delay_ms = 40
    emu.chunk_delay_ms = 15
    c = gw.complete(provider, PROMPT, stream=True, **options)
    assert c.text == PROMPT
    expected_finish = None if provider.startswith("workers-ai") else "stop"
    assert c.finish_reason == expected_finish
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens) == (5, 5, 10)
    assert c.streamed and c.ttft_ms is not None
    # the first token cannot come before the first byte plus the events that precede it
    assert c.ttft_ms >= 40 + 15 * lead
    # four more word events follow the first one, each sent 15 ms later: the whole answer
    # cannot be complete before then (a lower bound only, never a speed check)
    assert c.latency_ms >= 40 + 15 * (lead + 4)
    (req,) = emu.requests
    assert req.path == f"/v1/acct/gw/{path}"
    assert req.status == 200
    if provider.startswith("google"):
        assert dict(req.query) == {"alt": "sse"}
    else:
        assert req.body["stream"] is True


TOOL_RULE = [
    {
        "match": "weather",
        "reply": "",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}],
    }
]


@pytest.mark.parametrize(
    "provider",
    ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "google-ai-studio:gemini-2.5-flash",
     "cohere:command-a-03-2025"],
)  # fmt: skip
def test_tool_calls_are_assembled_from_deltas(gw: Gateway, emu: Any, provider: str) -> None:
    emu.rules = TOOL_RULE
    c = gw.complete(provider, "what is the weather in Paris?", stream=True)
    assert c.finish_reason == "tool_calls"
    assert c.tool_calls is not None and len(c.tool_calls) == 1
    fn = c.tool_calls[0]["function"]
    assert fn["name"] == "get_weather"
    assert json.loads(fn["arguments"]) == {"city": "Paris", "unit": "c"}


@pytest.mark.parametrize(("provider", "options", "lead", "path"), FORMATS, ids=IDS)
def test_mid_stream_cut_is_a_clear_error_and_not_retried(
    gw: Gateway, emu: Any, provider: str, options: dict[str, Any], lead: int, path: str
) -> None:
    emu.faults.fail_next = [{"kind": "drop", "after_chunks": lead + 2}]
    with pytest.raises(StreamIncompleteError, match="stream was cut") as info:
        gw.complete(provider, PROMPT, stream=True, **options)
    assert "partial answer was discarded" in str(info.value)
    assert f"{lead + 2} event(s) received" in str(info.value)
    (req,) = emu.requests  # cut after the first byte: no retry
    assert req.fault == f"drop after {lead + 2} chunks"


def test_retry_before_first_byte_then_stream(gw: Gateway, emu: Any) -> None:
    emu.faults.fail_next = [503, "drop"]
    c = gw.complete("anthropic:claude-sonnet-4-5", PROMPT, stream=True)
    assert c.text == PROMPT and c.ttft_ms is not None
    assert [r.status for r in emu.requests] == [503, 0, 200]


def test_timeout_covers_the_whole_stream(emu: Any) -> None:
    emu.chunk_delay_ms = 200
    g = Gateway(base_url=emu.url, account_id="acct", gateway_id="gw", env=ENV, timeout=0.3)
    try:
        with pytest.raises(GatewayTimeoutError, match="no complete streamed answer"):
            g.complete("openai:gpt-4o-mini", PROMPT, stream=True)
    finally:
        g.close()


def test_non_streamed_call_has_no_ttft(gw: Gateway) -> None:
    c = gw.complete("openai:gpt-4o-mini", PROMPT)
    assert c.ttft_ms is None and not c.streamed
    assert c.text == PROMPT


def test_gemini_without_alt_sse_still_assembles(emu: Any) -> None:
    """The emulator answers ``streamGenerateContent`` without ``alt=sse`` as one JSON array
    (as Gemini does); the client always asks for SSE, so this documents the emulator."""
    r = httpx.post(
        f"{emu.url}/acct/gw/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "a b"}]}]},
        headers={"x-goog-api-key": "k"},
    )
    chunks = r.json()
    assert isinstance(chunks, list) and chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_fallbacks_stream_from_the_step_that_answered(gw: Gateway, emu: Any) -> None:
    emu.faults.fail_next = [{"status": 503, "provider": "openai"}]
    c = gw.complete(
        "openai:gpt-4o-mini",
        PROMPT,
        stream=True,
        fallbacks=["anthropic:claude-sonnet-4-5"],
        maxAttempts=1,
    )
    assert (c.step, c.provider, c.text, c.finish_reason) == (1, "anthropic", PROMPT, "stop")
    assert c.ttft_ms is not None and c.usage.total_tokens == 10
    (req,) = emu.requests
    assert [a.status for a in req.attempts] == [503, 200]
