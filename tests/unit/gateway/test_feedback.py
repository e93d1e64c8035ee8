"""`LogsClient` against the emulator's Logs API: bodies, limits, retries, secrets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator
from pytest_cfgateway.gateway.feedback import (
    FeedbackError,
    LogAnnotation,
    LogsClient,
)
from pytest_cfgateway.gateway.redact import Secrets

TOKEN = "cf-api-token-unit-0123456789"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def log_id(emu: Emulator) -> str:
    emu.reset()
    emu.logs_api.token = TOKEN
    r = httpx.post(
        f"{emu.url}/acct/gw/openai/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer sk-test"},
    )
    return r.headers["cf-aig-log-id"]


def _client(emu: Emulator, token: str = TOKEN, **kw: object) -> LogsClient:
    return LogsClient(token, f"{emu.base_url}/client/v4", retry_delay=0.01, **kw)  # type: ignore[arg-type]


async def _patch(client: LogsClient, annotation: LogAnnotation) -> object:
    try:
        return await client.patch(annotation)
    finally:
        await client.aclose()


def test_patch_and_get(emu: Emulator, log_id: str) -> None:
    client = _client(emu)
    note = LogAnnotation("acct", "gw", log_id, feedback=1, score=87.5, metadata={"eval_test": "t"})

    async def go() -> tuple[object, dict[str, object]]:
        try:
            return await client.patch(note), await client.get("acct", "gw", log_id)
        finally:
            await client.aclose()

    outcome, entry = asyncio.run(go())
    assert outcome.ok and outcome.status == 200 and outcome.attempts == 1  # type: ignore[attr-defined]
    assert (entry["feedback"], entry["score"], entry["metadata"]) == (1, 87.5, {"eval_test": "t"})


def test_retries_429_and_5xx_then_succeeds(emu: Emulator, log_id: str) -> None:
    emu.logs_api.fail_next = [429, 503]
    outcome = asyncio.run(_patch(_client(emu), LogAnnotation("acct", "gw", log_id, feedback=-1)))
    assert outcome.ok and outcome.attempts == 3  # type: ignore[attr-defined]
    assert [c.status for c in emu.logs_api.calls] == [429, 503, 200]


def test_gives_up_after_max_retries_with_the_reason(emu: Emulator, log_id: str) -> None:
    emu.logs_api.fail_status = 500
    client = _client(emu, max_retries=2)
    outcome = asyncio.run(_patch(client, LogAnnotation("acct", "gw", log_id, feedback=1)))
    assert not outcome.ok and outcome.attempts == 3 and outcome.status == 500  # type: ignore[attr-defined]
    assert outcome.error == "HTTP 500: injected fault (code 10500)"  # type: ignore[attr-defined]


def test_client_errors_are_not_retried(emu: Emulator, log_id: str) -> None:
    outcome = asyncio.run(_patch(_client(emu), LogAnnotation("acct", "gw", "no-such-log", score=1)))
    assert (outcome.ok, outcome.status, outcome.attempts) == (False, 404, 1)  # type: ignore[attr-defined]
    assert "not found" in outcome.error  # type: ignore[attr-defined]


def test_connection_errors_are_retried_and_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound (so no one else takes the port) but not listening
        port = s.getsockname()[1]
        client = LogsClient(
            TOKEN, f"http://127.0.0.1:{port}/client/v4", max_retries=1, retry_delay=0
        )
        outcome = asyncio.run(_patch(client, LogAnnotation("a", "g", "l", feedback=1)))
    assert not outcome.ok and outcome.status is None and outcome.attempts == 2  # type: ignore[attr-defined]
    assert outcome.error.startswith("no answer: ConnectError")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (LogAnnotation("a", "g", "l", feedback=0), "feedback must be 1 or -1"),
        (LogAnnotation("a", "g", "l", score=100.5), "score must be a number from 0 to 100"),
        (LogAnnotation("a", "g", "l", metadata={str(i): i for i in range(6)}), "at most 5"),
        (LogAnnotation("a", "g", "l", metadata={"x": [1]}), "metadata['x'] must be"),  # type: ignore[dict-item]
        (LogAnnotation("a", "g", "l", metadata={"x": float("nan")}), "metadata['x'] must be"),
        (LogAnnotation("a", "g", "l"), "nothing to write"),
        (LogAnnotation("a", "", "l", feedback=1), "gateway_id must be"),
        (LogAnnotation("a", "g", "x/y", feedback=1), "log_id must be"),
    ],
)
def test_bad_annotations_are_refused_before_sending(note: LogAnnotation, message: str) -> None:
    with pytest.raises(FeedbackError, match=message.replace("[", r"\[").replace("]", r"\]")):
        note.body()
    client = LogsClient(TOKEN, "http://127.0.0.1:9/client/v4")
    outcome = asyncio.run(_patch(client, note))
    assert not outcome.ok and outcome.attempts == 0 and message.split("[")[0] in outcome.error  # type: ignore[attr-defined]


def test_token_never_in_repr_or_errors(emu: Emulator, log_id: str) -> None:
    client = _client(emu, token="cf-api-token-WRONG-42424242")
    assert "WRONG" not in repr(client)
    outcome = asyncio.run(_patch(client, LogAnnotation("acct", "gw", log_id, feedback=1)))
    assert outcome.status == 401 and "WRONG" not in repr(outcome)  # type: ignore[attr-defined]


def test_errors_are_scrubbed_of_known_secrets(emu: Emulator, log_id: str) -> None:
    secret = "fake.leaky.secret.value.1234"  # the emulator's 404 echoes the log id it was given
    client = _client(emu, secrets=Secrets({"OPENAI_API_KEY": secret}))
    outcome = asyncio.run(_patch(client, LogAnnotation("acct", "gw", secret, feedback=1)))
    assert outcome.status == 404  # type: ignore[attr-defined]
    assert secret not in outcome.error and "<secret:OPENAI_API_KEY>" in outcome.error  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(token=""), "needs a Cloudflare API token"),
        (dict(token=TOKEN, api_base="api.cloudflare.com"), "must start with http"),
        (dict(token=TOKEN, concurrency=0), "concurrency must be >= 1"),
    ],
)
def test_bad_client_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FeedbackError, match=message):
        LogsClient(**kwargs)  # type: ignore[arg-type]
