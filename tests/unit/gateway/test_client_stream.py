"""The client's streaming path on a mock transport: error events are scrubbed, a stream
without its end marker is an error, retries happen before the first byte only, and a
non-streamed 2xx answer to a streamed request is read as an ordinary answer."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.streaming import StreamError, StreamIncompleteError

KEY = "fake.stream.SECRET.42424242"
SSE = {"content-type": "text/event-stream"}


def gateway(handler: Callable[[httpx.Request], httpx.Response]) -> Gateway:
    return Gateway(
        account_id="a",
        gateway_id="g",
        base_url="https://gw.test/v1",
        api_keys={"openai": KEY},
        transport=httpx.MockTransport(handler),
        retry_delay=0.001,
    )


def events(*chunks: object) -> bytes:
    return "".join(
        f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks
    ).encode()


def delta(text: str, finish: str | None = None) -> dict[str, object]:
    return {
        "id": "c",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


def test_error_event_is_raised_and_scrubbed() -> None:
    body = events(delta("a"), {"error": {"message": f"bad key {KEY}"}})
    with (
        gateway(lambda r: httpx.Response(200, headers=SSE, content=body)) as gw,
        pytest.raises(StreamError) as info,
    ):
        gw.complete("openai:gpt-4o", "hi", stream=True)
    assert KEY not in str(info.value) and KEY not in json.dumps(info.value.body)
    assert "mid-stream" in str(info.value)


def test_stream_without_done_is_incomplete() -> None:
    body = events(delta("a"), delta("b", "stop"))
    with (
        gateway(lambda r: httpx.Response(200, headers=SSE, content=body)) as gw,
        pytest.raises(StreamIncompleteError, match=r"data: \[DONE\].*the stream ended"),
    ):
        gw.complete("openai:gpt-4o", "hi", stream=True)


def test_retried_before_the_first_byte_only() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        assert json.loads(request.content)["stream"] is True
        if len(calls) == 1:
            return httpx.Response(503, json={"error": {"message": "busy"}})
        return httpx.Response(200, headers=SSE, content=events(delta("ok", "stop"), "[DONE]"))

    with gateway(handler) as gw:
        c = gw.complete("openai:gpt-4o", "hi", stream=True)
    assert (c.text, c.finish_reason, len(calls)) == ("ok", "stop", 2)
    assert c.ttft_ms is not None and c.ttft_ms <= c.latency_ms


def test_json_answer_to_a_streamed_request_is_read_as_is() -> None:
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"},
                          "finish_reason": "stop"}]}  # fmt: skip
    with gateway(lambda r: httpx.Response(200, json=reply)) as gw:
        c = gw.complete("openai:gpt-4o", "hi", stream=True)
    assert c.text == "whole" and c.ttft_ms is None
