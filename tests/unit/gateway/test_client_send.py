"""Gateway sending through httpx.MockTransport: URLs, retries, timeouts, polling, fallbacks,
sync/async bridges, per-loop clients, resolvers. No sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import (
    GatewayConfigError,
    GatewayProviderError,
    GatewayRateLimitError,
    GatewayTimeoutError,
)
from pytest_cfgateway.gateway.types import Completion, PreparedRequest, RawResponse

OPENAI_KEY = "sk-openai-test-0123456789"
TOKEN = "cf-token-0123456789"
Handler = Callable[[httpx.Request], Any]


def chat_reply(text: str = "hi") -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


class Recorder:
    """A MockTransport handler that answers from a script and records every request."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(request)
        assert isinstance(answer, httpx.Response)
        return answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def ok(text: str = "hi", **headers: str) -> httpx.Response:
    return httpx.Response(200, json=chat_reply(text), headers=headers)


def make(handler: Handler, *, env: dict[str, str] | None = None, **kw: Any) -> Gateway:
    kw.setdefault("retry_delay", 0.001)
    return Gateway(
        kw.pop("account_id", "acct"),
        kw.pop("gateway_id", "gw"),
        env={"OPENAI_API_KEY": OPENAI_KEY} if env is None else env,
        transport=httpx.MockTransport(handler),
        **kw,
    )


# --- the request on the wire ---------------------------------------------------------------


def test_sync_complete_sends_the_documented_request() -> None:
    rec = Recorder(ok("hello", **{"cf-aig-log-id": "L1", "cf-aig-cache-status": "MISS"}))
    with make(rec) as g:
        c = g.complete("openai:gpt-4o", "Hello", temperature=0.2)
    assert c.text == "hello" and c.log_id == "L1" and c.cache_status == "MISS"
    assert c.latency_ms > 0 and not c.replayed
    req = rec.last
    assert str(req.url) == "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/chat/completions"
    assert req.method == "POST"
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content)["temperature"] == 0.2


@pytest.mark.parametrize(
    ("kw", "options", "env", "expected"),
    [
        ({}, {}, {}, "https://gateway.ai.cloudflare.com/v1/acct/gw/"),
        ({}, {}, {"CF_GATEWAY_URL": "http://127.0.0.1:9/v1"}, "http://127.0.0.1:9/v1/acct/gw/"),
        (
            {"base_url": "http://arg/v1/"},
            {},
            {"CF_GATEWAY_URL": "http://env/v1"},
            "http://arg/v1/acct/gw/",
        ),
        (
            {"base_url": "http://arg/v1"},
            {"gatewayUrl": "http://cfg/v1", "accountId": "A2", "gatewayId": "G2"},
            {},
            "http://cfg/v1/A2/G2/",
        ),
    ],
)
def test_base_url_precedence(
    kw: dict[str, Any], options: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    rec = Recorder(ok())
    with make(rec, env={**env, "OPENAI_API_KEY": OPENAI_KEY}, **kw) as g:
        g.complete("openai:gpt-4o", "x", **options)
    assert str(rec.last.url) == expected + "openai/chat/completions"


def test_byok_request_on_the_wire_has_only_the_gateway_token() -> None:
    rec = Recorder(ok())
    with make(rec, env={"CF_AIG_TOKEN": TOKEN}) as g:
        g.complete("openai:gpt-4o", "x", byokAlias="prod")
    headers = rec.last.headers
    for name in ("authorization", "x-api-key", "api-key"):
        assert name not in headers
    assert headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    assert headers["cf-aig-byok-alias"] == "prod"


def test_missing_ids_fail_at_send_time_without_a_request() -> None:
    rec = Recorder(ok())
    with Gateway(env={"OPENAI_API_KEY": OPENAI_KEY}, transport=httpx.MockTransport(rec)) as g:
        with pytest.raises(GatewayConfigError, match="CLOUDFLARE_ACCOUNT_ID"):
            g.complete("openai:gpt-4o", "x")
        with pytest.raises(GatewayConfigError, match="CLOUDFLARE_GATEWAY_ID"):
            g.complete("openai:gpt-4o", "x", accountId="a")
    assert rec.requests == []


def test_missing_key_without_token_fails_at_send_time() -> None:
    rec = Recorder(ok())
    with make(rec, env={}) as g, pytest.raises(GatewayConfigError) as info:
        g.complete("anthropic:claude-haiku-4-5", "x")
    msg = str(info.value)
    assert "ANTHROPIC_API_KEY" in msg and "BYOK" in msg and "CF_AIG_TOKEN" in msg
    assert rec.requests == []


def test_from_env() -> None:
    env = {
        "CLOUDFLARE_ACCOUNT_ID": "ea",
        "CLOUDFLARE_GATEWAY_ID": "eg",
        "CF_AIG_TOKEN": TOKEN,
        "CF_GATEWAY_URL": "http://127.0.0.1:1/v1",
    }
    rec = Recorder(ok())
    with Gateway.from_env(env, transport=httpx.MockTransport(rec)) as g:
        assert (g.account_id, g.gateway_id, g.base_url) == ("ea", "eg", "http://127.0.0.1:1/v1")
        assert TOKEN not in repr(g)
        g.complete("openai:gpt-4o", "x")
    assert str(rec.last.url) == "http://127.0.0.1:1/v1/ea/eg/openai/chat/completions"
    assert rec.last.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"


# --- retries and timeouts ----------------------------------------------------------------------


def test_retries_429_honouring_retry_after_then_succeeds() -> None:
    rec = Recorder(httpx.Response(429, headers={"retry-after": "0"}, json={"error": "slow"}), ok())
    with make(rec) as g:
        assert g.complete("openai:gpt-4o", "x").text == "hi"
    assert len(rec.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_retries_5xx_then_succeeds(status: int) -> None:
    rec = Recorder(httpx.Response(status, text="oops"), ok())
    with make(rec) as g:
        assert g.complete("openai:gpt-4o", "x").text == "hi"
    assert len(rec.requests) == 2


def test_retries_connection_errors_then_succeeds() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped"), ok())
    with make(rec) as g:
        assert g.complete("openai:gpt-4o", "x").text == "hi"
    assert len(rec.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 404, 501])
def test_no_retry_on_4xx_or_501(status: int) -> None:
    rec = Recorder(httpx.Response(status, json={"error": {"message": "nope"}}))
    with make(rec) as g, pytest.raises(Exception) as info:
        g.complete("openai:gpt-4o", "x")
    assert len(rec.requests) == 1
    assert getattr(info.value, "status", None) == status


def test_rate_limit_after_all_retries() -> None:
    envelope = {
        "success": False,
        "error": [{"code": 2003, "message": "Rate limited"}],
        "name": "AiGatewayError",
        "internalCode": 2003,
    }
    rec = Recorder(httpx.Response(429, json=envelope, headers={"retry-after": "0"}))
    with make(rec, max_retries=2) as g, pytest.raises(GatewayRateLimitError) as info:
        g.complete("openai:gpt-4o", "x")
    assert len(rec.requests) == 3
    assert info.value.code == 2003 and info.value.retry_after == 0.0


def test_retry_after_beyond_the_timeout_is_not_waited_for() -> None:
    rec = Recorder(httpx.Response(429, headers={"retry-after": "30"}, json={"error": "x"}))
    with make(rec, timeout=2.0) as g, pytest.raises(GatewayRateLimitError):
        g.complete("openai:gpt-4o", "x")
    assert len(rec.requests) == 1


def test_connection_errors_exhaust_into_a_scrubbed_timeout_error() -> None:
    rec = Recorder(httpx.ConnectError(f"refused for {OPENAI_KEY}"))
    with make(rec, max_retries=1) as g, pytest.raises(GatewayTimeoutError) as info:
        g.complete("openai:gpt-4o", "x")
    assert len(rec.requests) == 2
    assert "ConnectError" in str(info.value) and OPENAI_KEY not in str(info.value)


@pytest.mark.asyncio
async def test_total_timeout() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return ok()

    g = make(slow, timeout=0.05)
    with pytest.raises(GatewayTimeoutError, match=r"within 0\.05 s"):
        await g.acomplete("openai:gpt-4o", "x")
    await g.aclose()


# --- Replicate polling --------------------------------------------------------------------------


def test_replicate_polls_until_the_prediction_finishes() -> None:
    def prediction(status: str, output: Any = None) -> httpx.Response:
        body = {"id": "p1", "status": status, "output": output, "model": "meta/llama"}
        return httpx.Response(201 if status == "starting" else 200, json=body)

    rec = Recorder(
        prediction("starting"),
        prediction("processing", ["Hel"]),
        prediction("succeeded", ["Hel", "lo"]),
    )
    with make(
        rec, env={"REPLICATE_API_TOKEN": "r8_token_123456"}, cache_ttl=60, poll_interval=0.0
    ) as g:
        c = g.complete("replicate:meta/meta-llama-3-8b-instruct", "Hi")
    assert c.text == "Hello"
    assert [r.method for r in rec.requests] == ["POST", "GET", "GET"]
    post, poll = rec.requests[0], rec.requests[1]
    assert post.headers["prefer"] == "wait"
    assert str(poll.url) == "https://gateway.ai.cloudflare.com/v1/acct/gw/replicate/predictions/p1"
    assert poll.headers["authorization"] == "Bearer r8_token_123456"
    assert "cf-aig-cache-key" not in poll.headers and "prefer" not in poll.headers


# --- fallbacks ----------------------------------------------------------------------------------


def test_fallback_step_one_answers() -> None:
    anthropic_reply = {
        "type": "message",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "from claude"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1000, "output_tokens": 100},
    }
    rec = Recorder(httpx.Response(200, json=anthropic_reply, headers={"cf-aig-step": "1"}))
    env = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": "sk-ant-0123456789"}
    with make(rec, env=env, token=TOKEN) as g:
        c = g.complete("openai:gpt-4o", "Hi", fallbacks=["anthropic:claude-haiku-4-5"])
    assert (c.text, c.step, c.provider, c.model) == (
        "from claude",
        1,
        "anthropic",
        "claude-haiku-4-5",
    )
    assert c.cost == pytest.approx((1000 * 1.0 + 100 * 5.0) / 1e6)
    req = rec.last
    assert str(req.url) == "https://gateway.ai.cloudflare.com/v1/acct/gw"
    assert req.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    steps = json.loads(req.content)
    assert [s["provider"] for s in steps] == ["openai", "anthropic"]
    assert steps[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert steps[1]["headers"]["x-api-key"] == "sk-ant-0123456789"
    assert all("cf-aig-authorization" not in s["headers"] for s in steps)


def test_fallback_all_steps_failing_is_an_error() -> None:
    rec = Recorder(httpx.Response(400, json={"error": {"message": "all steps failed"}}))
    with make(rec, token=TOKEN) as g, pytest.raises(GatewayProviderError, match="all steps"):
        g.complete("openai:gpt-4o", "Hi", fallbacks=["groq:llama-3.1-8b-instant"])


# --- async, loops, concurrency --------------------------------------------------------------------


def test_two_asyncio_runs_in_a_row_use_their_own_clients() -> None:
    rec = Recorder(ok())
    g = make(rec)

    async def call() -> str:
        c = await g.acomplete("openai:gpt-4o", "x")
        return c.text

    assert asyncio.run(call()) == "hi"
    assert asyncio.run(call()) == "hi"
    # each loop's clients were closed (and forgotten) when that loop shut down
    assert g._shared.transport.loops() == 0
    assert g.complete("openai:gpt-4o", "x").text == "hi"  # and the background loop
    assert g._shared.transport.loops() == 1
    assert len(rec.requests) == 3
    g.close()
    assert g._shared.transport.loops() == 0


@pytest.mark.asyncio
async def test_async_api_and_embeddings() -> None:
    body = {"data": [{"index": 0, "embedding": [0.5, 0.5]}], "usage": {"prompt_tokens": 2}}
    rec = Recorder(
        lambda r: (
            httpx.Response(200, json=body) if r.url.path.endswith("embeddings") else ok("async")
        )
    )
    async with make(rec) as g:
        c = await g.acomplete("openai:gpt-4o", [{"role": "user", "content": "Hi"}])
        v = await g.aembed("openai:text-embedding-3-large", "a")
    assert c.text == "async" and v.vectors == [[0.5, 0.5]]
    assert str(rec.last.url).endswith("/openai/embeddings")


def test_sync_embed() -> None:
    body = {"data": [{"embedding": [1.0]}, {"embedding": [2.0]}], "usage": {"prompt_tokens": 2}}
    with make(Recorder(httpx.Response(200, json=body))) as g:
        v = g.embed("openai:text-embedding-3-large", ["a", "b"])
    assert list(v) == [[1.0], [2.0]]


@pytest.mark.asyncio
async def test_concurrency_bounds_in_flight_calls() -> None:
    state = {"now": 0, "peak": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return ok()

    g = make(handler, concurrency=2)
    results = await asyncio.gather(*(g.acomplete("openai:gpt-4o", str(i)) for i in range(6)))
    assert len(results) == 6 and state["peak"] == 2
    await g.aclose()


def test_sync_call_from_the_gateways_own_loop_is_refused() -> None:
    g = make(Recorder(ok()))

    async def nested() -> Completion:
        return g.complete("openai:gpt-4o", "x")

    with pytest.raises(RuntimeError, match="use the async method"):
        g.run(nested())
    g.close()


# --- resolvers (the snapshot layer's hook) ------------------------------------------------


def test_with_resolver_can_replay_without_network_or_ids() -> None:
    rec = Recorder(ok())
    g = Gateway(env={}, transport=httpx.MockTransport(rec))
    seen: list[str] = []

    async def replay(req: PreparedRequest, send: Any) -> RawResponse:
        seen.append(g.fingerprint(req))
        return RawResponse(200, {"cf-aig-cache-status": "MISS"}, chat_reply("stored"), 42.0, True)

    replaying = g.with_resolver(replay)
    c = replaying.complete("openai:gpt-4o", "x")  # no ids, no key, no token: fine on replay
    assert (c.text, c.replayed, c.latency_ms) == ("stored", True, 42.0)
    assert seen == [c.fingerprint]
    assert replaying.complete("echo", "local").text == "local"  # echo bypasses the resolver
    assert len(seen) == 1 and rec.requests == []
    replaying.close()  # a copy does not own the clients
    assert g._shared.background.started
    g.close()


def test_resolver_can_record_by_calling_send() -> None:
    rec = Recorder(ok("live"))
    stored: list[RawResponse] = []

    async def record(req: PreparedRequest, send: Any) -> RawResponse:
        raw: RawResponse = await send(req)
        stored.append(raw)
        return raw

    with make(rec) as g:
        c = g.with_resolver(record).complete("openai:gpt-4o", "x")
    assert c.text == "live" and stored[0].status == 200 and len(rec.requests) == 1
