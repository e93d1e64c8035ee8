"""Fault injection: queue, error rate (seeded), drops, slow first byte, latency, retries."""

from __future__ import annotations

import time

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator, FaultError
from pytest_cfgateway.emulator.faults import Fault, Faults, parse_fault

from .conftest import ANTHROPIC_HEADERS, GW, OPENAI_AUTH, chat

URL = f"{GW}/openai/chat/completions"


def post(http: httpx.Client, **headers: str) -> httpx.Response:
    return http.post(URL, json=chat(), headers={**OPENAI_AUTH, **headers})


def test_fail_next_queue_in_order_in_provider_format(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = [429, 503, 500]
    r = post(http)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert post(http).status_code == 503
    r = post(http)
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    assert post(http).status_code == 200
    assert [x.fault for x in emu.requests] == ["injected 429", "injected 503", "injected 500", None]


def test_fault_in_anthropic_format_and_custom_retry_after(
    http: httpx.Client, emu: Emulator
) -> None:
    emu.faults.fail_next = [{"status": 429, "retry_after": 7}, 529]
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    r = http.post(f"{GW}/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json()["error"]["type"] == "rate_limit_error"
    r = http.post(f"{GW}/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    assert r.status_code == 529 and r.json()["error"]["type"] == "overloaded_error"


def test_fault_targeted_at_a_provider(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = [{"status": 502, "provider": "groq"}]
    assert post(http).status_code == 200
    r = http.post(f"{GW}/groq/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert r.status_code == 502
    assert emu.faults.fail_next == []


def test_drop_closes_the_connection_without_response(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = ["drop"]
    with pytest.raises(httpx.RemoteProtocolError):
        post(http)
    assert emu.requests[-1].fault == "drop" and emu.requests[-1].status == 0
    assert post(http).status_code == 200  # the client reconnects


def test_slow_first_byte_trips_a_client_timeout(emu: Emulator) -> None:
    emu.faults.fail_next = [{"kind": "slow", "delay_ms": 600}]
    with (
        httpx.Client(base_url=emu.base_url, timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(URL, json=chat(), headers=OPENAI_AUTH)


def test_latency_and_first_byte_delay(http: httpx.Client, emu: Emulator) -> None:
    emu.latency_ms = 60
    emu.faults.first_byte_delay_ms = 40
    t = time.perf_counter()
    assert post(http).status_code == 200
    assert time.perf_counter() - t >= 0.095


def test_error_rate_is_seeded_and_repeatable(http: httpx.Client, emu: Emulator) -> None:
    def run() -> list[int]:
        emu.faults.reseed(42)
        emu.error_rate = 0.5
        return [post(http).status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 200 in first and set(first) - {200} <= {500, 502, 503} and len(set(first)) > 1


def test_gateway_retries_with_max_attempts(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = [503, 503]
    r = post(http, **{"cf-aig-max-attempts": "3", "cf-aig-retry-delay": "10"})
    assert r.status_code == 200
    assert emu.faults.fail_next == []


def test_request_timeout_header(http: httpx.Client, emu: Emulator) -> None:
    emu.latency_ms = 300
    r = post(http, **{"cf-aig-request-timeout": "50"})
    assert r.status_code == 504 and "timed out" in r.json()["error"]["message"]


def test_parse_fault_errors_name_the_fix() -> None:
    assert parse_fault("503") == Fault("status", status=503)
    assert parse_fault("slow", 100) == Fault("slow", delay_ms=100)
    for bad in (200, "explode", True, {"oops": 1}, {"provider": "openai"}, 1.5):
        with pytest.raises(FaultError):
            parse_fault(bad)
    with pytest.raises(FaultError, match="error_rate"):
        Faults(error_rate=2)


def test_bad_settings_are_rejected(emu: Emulator) -> None:
    from pytest_cfgateway.emulator import EmulatorConfigError

    with pytest.raises(EmulatorConfigError, match="between 0 and 1"):
        emu.error_rate = 1.5
    with pytest.raises(EmulatorConfigError, match="rate_limit"):
        emu.rate_limit = "ten per minute"
    with pytest.raises(EmulatorConfigError, match="fixed' or 'sliding"):
        emu.rate_limit_technique = "leaky"  # type: ignore[assignment]
    with pytest.raises(EmulatorConfigError, match="account_id/gateway_id"):
        emu.gateways = ["just-a-gateway"]
    with pytest.raises(EmulatorConfigError, match="byok"):
        emu.byok = {"openai": 123}


def test_mid_stream_drop_faults_parse_and_reject_misuse() -> None:
    assert parse_fault("drop:3") == Fault("drop", after_chunks=3)
    assert parse_fault({"kind": "drop", "after_chunks": 0}) == Fault("drop", after_chunks=0)
    assert Fault("drop", after_chunks=2).label == "drop after 2 chunks"
    for bad in ("drop:x", "drop:-1", {"kind": "drop", "after_chunks": -1},
                {"status": 503, "after_chunks": 1}):  # fmt: skip
        with pytest.raises(FaultError):
            parse_fault(bad)
    with pytest.raises(FaultError, match="chunk_delay_ms"):
        Faults(chunk_delay_ms=-1)


def test_stream_is_sent_in_chunks_and_cut_mid_way(http: httpx.Client, emu: Emulator) -> None:
    body = chat("one two three four", stream=True)
    with http.stream("POST", URL, json=body, headers=OPENAI_AUTH) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in r.headers  # chunked, sent event by event
        text = b"".join(r.iter_raw()).decode()
    assert text.count("data: ") == 7 and text.endswith("data: [DONE]\n\n")
    emu.faults.fail_next = ["drop:2"]
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", URL, json=body, headers=OPENAI_AUTH) as r,
    ):
        assert r.status_code == 200
        for piece in r.iter_raw():
            received += piece
    assert received.decode().count("data: ") == 2
    assert emu.requests[-1].fault == "drop after 2 chunks"


def test_non_streamed_body_cut_after_headers(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = [{"kind": "drop", "after_chunks": 0}]
    with pytest.raises(httpx.RemoteProtocolError):
        post(http)
