"""The real Gateway client against the real emulator: every provider's route, headers, body
and parsing (sync and async), BYOK, authenticated gateways, fallbacks and error codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_cfgateway.emulator import Emulator
from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import (
    GatewayAuthError,
    GatewayConfigError,
    GatewayError,
    GatewayRateLimitError,
)

KEYS = {
    "openai": "sk-openai-test",
    "anthropic": "sk-ant-test",
    "groq": "gsk-test",
    "perplexity-ai": "pplx-test",
    "google-ai-studio": "goog-test",
    "mistral": "mistral-test",
    "cohere": "cohere-test",
    "azure-openai": "azure-test",
    "workers-ai": "cf-api-test",
    "huggingface": "hf_test",
    "replicate": "r8_test",
    "grok": "xai-test",
}

# provider id, options, expected route (regex), auth header, expected auth value
CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("openai:gpt-4o", {}, r"chat/completions", "authorization", "Bearer sk-openai-test"),
    (
        "openai:gpt-5.2",
        {"max_tokens": 50},
        r"chat/completions",
        "authorization",
        "Bearer sk-openai-test",
    ),
    ("anthropic:claude-sonnet-4-5-20250929", {}, r"v1/messages", "x-api-key", "sk-ant-test"),
    ("groq:llama-3.1-8b-instant", {}, r"chat/completions", "authorization", "Bearer gsk-test"),
    ("perplexity-ai:sonar", {}, r"chat/completions", "authorization", "Bearer pplx-test"),
    (
        "google-ai-studio:gemini-2.0-flash",
        {"max_tokens": 50},
        r"v1beta/models/gemini-2\.0-flash:generateContent",
        "x-goog-api-key",
        "goog-test",
    ),
    (
        "mistral:mistral-large-latest",
        {},
        r"v1/chat/completions",
        "authorization",
        "Bearer mistral-test",
    ),
    ("cohere:command-r-plus", {}, r"v2/chat", "authorization", "Bearer cohere-test"),
    ("cohere:command-r", {"apiVersion": "v1"}, r"v1/chat", "authorization", "Bearer cohere-test"),
    (
        "azure-openai:gpt-4o",
        {"resourceName": "res", "deploymentName": "dep"},
        r"res/dep/chat/completions",
        "api-key",
        "azure-test",
    ),
    (
        "workers-ai:@cf/meta/llama-3.1-8b-instruct",
        {},
        r"@cf/meta/llama-3\.1-8b-instruct",
        "authorization",
        "Bearer cf-api-test",
    ),
    ("huggingface:gpt2", {"max_tokens": 50}, r"gpt2", "authorization", "Bearer hf_test"),
    (
        "replicate:meta/meta-llama-3-8b-instruct",
        {},
        r"predictions",
        "authorization",
        "Bearer r8_test",
    ),
    ("grok:grok-3", {}, r"v1/chat/completions", "authorization", "Bearer xai-test"),
    (
        "compat:anthropic/claude-3-haiku",
        {},
        r"chat/completions",
        "authorization",
        "Bearer sk-ant-test",
    ),
]

PROMPT = [
    {"role": "system", "content": "Be brief"},
    {"role": "user", "content": "hello emulator world"},
]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    emu.reset()
    emu.faults.retry_after = 0.01


_MADE: list[Gateway] = []
#: whether `gateway` makes its clients' exchanges in the HTTP worker process
_HTTP_WORKER: list[bool] = [False]


@pytest.fixture(autouse=True, params=["in-process", "http-worker"])
def _exchanges(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test twice: exchanges in this process, and (for the sync API, which runs on the
    gateway's background loop) in the HTTP worker process (`--cf-http-process`), which must
    give the same routes, headers, bodies, retries, polling, fallbacks and errors."""
    _HTTP_WORKER[0] = request.param == "http-worker"
    yield
    _HTTP_WORKER[0] = False


@pytest.fixture(autouse=True)
def _close_gateways() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def gateway(emu: Emulator, **kw: Any) -> Gateway:
    """A Gateway on the emulator; closed after the test (async tests close it themselves)."""
    kw.setdefault("api_keys", KEYS)
    kw.setdefault("max_retries", 0)
    gw = Gateway(
        base_url=emu.url,
        account_id=kw.pop("account_id", "acct"),
        gateway_id=kw.pop("gateway_id", "gw"),
        env={},
        retry_delay=0.01,
        poll_interval=0.01,
        **kw,
    )
    if _HTTP_WORKER[0]:
        assert gw.start_http_process()
    _MADE.append(gw)
    return gw


def _check(emu: Emulator, pid: str, route: str, header: str, value: str, c: Any) -> None:
    provider = pid.split(":", 1)[0]
    if provider == "huggingface":  # one flat `inputs` string: the echo is the whole prompt
        assert "hello emulator world" in c.text and "Be brief" in c.text
    else:
        assert c.text == "hello emulator world"
    assert c.provider == provider
    assert c.step == 0 and c.log_id and c.cache_status == "MISS"
    first = next(r for r in emu.requests if r.method == "POST")
    assert first.status in (200, 201), first
    assert first.account_id == "acct" and first.gateway_id == "gw"
    assert first.provider == provider and re.fullmatch(route, first.route), first.route
    assert first.headers.get(header) == value
    assert c.log_id == emu.requests[-1].log_id
    if provider not in ("huggingface",):
        assert c.usage.completion_tokens == 3 and c.usage.prompt_tokens == 5


@pytest.mark.parametrize(
    ("pid", "opts", "route", "header", "value"), CASES, ids=[c[0] for c in CASES]
)
def test_every_provider_sync(
    emu: Emulator, pid: str, opts: dict[str, Any], route: str, header: str, value: str
) -> None:
    c = gateway(emu).complete(pid, PROMPT, **opts)
    _check(emu, pid, route, header, value, c)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("pid", "opts", "route", "header", "value"), CASES, ids=[c[0] for c in CASES]
)
async def test_every_provider_async(
    emu: Emulator, pid: str, opts: dict[str, Any], route: str, header: str, value: str
) -> None:
    async with gateway(emu) as gw:
        c = await gw.acomplete(pid, PROMPT, **opts)
    _check(emu, pid, route, header, value, c)


def test_wire_details(emu: Emulator) -> None:
    gw = gateway(emu)
    gw.complete("openai:gpt-5.2", "x", max_tokens=10)
    assert emu.requests[-1].body.get("max_completion_tokens") == 10
    gw.complete("azure-openai:gpt-4o", "x", resourceName="r", deploymentName="d")
    assert emu.requests[-1].query.get("api-version") == "2024-12-01-preview"
    assert "model" not in emu.requests[-1].body
    gw.complete("anthropic:claude-3-haiku", "x")
    assert emu.requests[-1].headers.get("anthropic-version") == "2023-06-01"
    gw.complete("google-ai-studio:gemini-2.0-flash", "x", max_tokens=7)
    assert emu.requests[-1].body["generationConfig"]["maxOutputTokens"] == 7


def test_embeddings(emu: Emulator) -> None:
    v = gateway(emu).embed("openai:text-embedding-3-large", ["a cat", "a dog"])
    assert len(v) == 2 and len(v[0]) == 16
    assert emu.requests[-1].route == "embeddings"


def test_moderation(emu: Emulator) -> None:
    gw = gateway(emu)
    m = gw.moderate("openai:omni-moderation-latest", "a reply with flag:violence in it")
    assert (m.flagged, m.flags, m.text) == (True, {"violence": 0.9}, "flagged: violence")
    rec = emu.requests[-1]
    assert (rec.route, rec.headers["authorization"]) == ("moderations", "Bearer sk-openai-test")
    clean = gw.run(gw.amoderate("openai:text-moderation-latest", "a calm reply"))
    assert (clean.flagged, clean.text) == (False, "not flagged")
    assert emu.requests[-1].body == {"model": "text-moderation-latest", "input": "a calm reply"}


def test_classification(emu: Emulator) -> None:
    gw = gateway(emu)
    k = gw.classify("huggingface:facebook/roberta-hate-speech-dynabench-r4-target", "class:hate")
    assert (k.scores, k.text) == ({"hate": 0.9, "other": 0.1}, "hate=0.9, other=0.1")
    rec = emu.requests[-1]
    assert rec.route == "facebook/roberta-hate-speech-dynabench-r4-target"
    assert rec.body == {"inputs": "class:hate", "parameters": {}}
    assert rec.headers["authorization"] == "Bearer hf_test"
    pii = gw.run(gw.aclassify("huggingface:bigcode/starpii", "x", task="token-classification"))
    assert pii.scores == {} and pii.provider == "huggingface"


def test_replicate_polls_through_the_gateway(emu: Emulator) -> None:
    emu.replicate_wait_finishes = False
    c = gateway(emu).complete("replicate:meta/meta-llama-3-8b-instruct", "poll this")
    assert c.text == "poll this"
    assert [r.method for r in emu.requests] == ["POST", "GET", "GET"]
    assert all(r.route.startswith("predictions") for r in emu.requests)


def test_byok_sends_no_provider_key(emu: Emulator) -> None:
    emu.token = "tok-123456789"
    emu.byok = {"openai": "sk-stored", "anthropic": {"default": "a", "prod": "b"}}
    gw = gateway(emu, token="tok-123456789", api_keys={})
    assert gw.complete("openai:gpt-4o", "hi").text == "hi"
    rec = emu.requests[-1]
    assert "authorization" not in rec.headers and rec.byok_alias == "default"
    assert rec.headers["cf-aig-authorization"] == "Bearer tok-123456789"
    gw.complete("anthropic:claude-3-haiku", "hi", byokAlias="prod")
    assert "x-api-key" not in emu.requests[-1].headers and emu.requests[-1].byok_alias == "prod"
    with pytest.raises(GatewayConfigError) as info:
        gw.complete("anthropic:claude-3-haiku", "hi", byokAlias="nope")
    assert info.value.code == 2040


def test_authenticated_gateway(emu: Emulator) -> None:
    emu.token = "tok-123456789"
    with pytest.raises(GatewayAuthError) as info:
        gateway(emu).complete("openai:gpt-4o", "hi")
    assert (info.value.status, info.value.code) == (401, 2009)
    assert "tok-123456789" not in str(info.value)
    assert gateway(emu, token="tok-123456789").complete("openai:gpt-4o", "hi").text == "hi"


def test_unknown_gateway_2001(emu: Emulator) -> None:
    emu.gateways = {"acct/gw"}
    with pytest.raises(GatewayConfigError) as info:
        gateway(emu, gateway_id="typo").complete("openai:gpt-4o", "hi")
    assert info.value.code == 2001


def test_unknown_provider_never_reaches_the_gateway(emu: Emulator) -> None:
    with pytest.raises(GatewayConfigError):
        gateway(emu).complete("bedrock:anthropic.claude", "hi")
    assert emu.requests == []


def test_compat_without_prefix(emu: Emulator) -> None:
    with pytest.raises(GatewayConfigError) as info:
        gateway(emu).complete("compat:gpt-4o", "hi")
    assert info.value.code in (None, 2019)


def test_rate_limit_2003(emu: Emulator) -> None:
    emu.rate_limit = (1, 3600)
    emu.rate_limit_technique = "sliding"
    gw = gateway(emu)
    gw.complete("openai:gpt-4o", "one")
    with pytest.raises(GatewayRateLimitError) as info:
        gw.complete("openai:gpt-4o", "two")
    assert (info.value.status, info.value.code) == (429, 2003)


def test_provider_auth_error(emu: Emulator) -> None:
    emu.valid_keys = {"openai": "sk-other"}
    with pytest.raises(GatewayAuthError) as info:
        gateway(emu).complete("openai:gpt-4o", "hi")
    assert info.value.status == 401 and info.value.code is None
    assert "sk-openai-test" not in str(info.value)


def test_retries_on_429_5xx_and_dropped_connections(emu: Emulator) -> None:
    emu.faults.fail_next = [429, 503, "drop"]
    c = gateway(emu, max_retries=3).complete("openai:gpt-4o", "persist")
    assert c.text == "persist"
    assert [r.fault for r in emu.requests] == ["injected 429", "injected 503", "drop", None]


def test_errors_after_retries_are_typed(emu: Emulator) -> None:
    emu.faults.fail_next = [500, 500]
    with pytest.raises(GatewayError) as info:
        gateway(emu, max_retries=1).complete("openai:gpt-4o", "x")
    assert info.value.status == 500


def test_fallback_chain_when_step_0_fails(emu: Emulator) -> None:
    emu.faults.fail_next = [{"status": 503, "provider": "openai"}]
    c = gateway(emu).complete("openai:gpt-4o", "fall back", fallbacks=["anthropic:claude-3-haiku"])
    assert c.text == "fall back" and c.step == 1
    rec = emu.requests[-1]
    assert rec.route == "v1/messages" and [a.status for a in rec.attempts] == [503, 200]


def test_cache_and_control_headers(emu: Emulator) -> None:
    gw = gateway(emu)
    opts = {"cacheTtl": 120, "metadata": {"suite": "ci"}}
    first = gw.complete("openai:gpt-4o", "cache me", **opts)
    second = gw.complete("openai:gpt-4o", "cache me", **opts)
    assert (first.cached, second.cached) == (False, True)
    rec = emu.requests[-1]
    assert rec.headers["cf-aig-cache-ttl"] == "120" and rec.metadata == {"suite": "ci"}
