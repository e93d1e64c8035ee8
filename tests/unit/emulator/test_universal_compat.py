"""The Universal endpoint (fallback chains, cf-aig-step) and /compat/chat/completions."""

from __future__ import annotations

from typing import Any

import httpx

from pytest_cfgateway.emulator import Emulator

from .conftest import GW, OPENAI_AUTH, chat
from .test_gateway import assert_envelope


def step(provider: str, endpoint: str, query: Any, **headers: str) -> dict[str, Any]:
    return {"provider": provider, "endpoint": endpoint, "headers": headers, "query": query}


WORKERS = step(
    "workers-ai",
    "@cf/meta/llama-3.1-8b-instruct",
    {"messages": [{"role": "user", "content": "hi"}]},
    Authorization="Bearer cf",
)
OPENAI = step("openai", "chat/completions", chat("hi"), Authorization="Bearer sk")


def test_single_step_answers_step_0(http: httpx.Client, emu: Emulator) -> None:
    r = http.post(GW, json=[WORKERS, OPENAI])
    assert r.status_code == 200, r.text
    assert r.headers["cf-aig-step"] == "0"
    assert r.json()["result"]["response"] == "hi"
    assert emu.requests[-1].provider == "workers-ai"


def test_one_object_is_a_one_step_chain(http: httpx.Client) -> None:
    r = http.post(GW, json=OPENAI)
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"


def test_fallback_when_step_0_fails(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = [503]
    r = http.post(GW, json=[WORKERS, OPENAI])
    assert r.status_code == 200, r.text
    assert r.headers["cf-aig-step"] == "1"
    assert r.json()["object"] == "chat.completion"
    rec = emu.requests[-1]
    assert rec.step == 1 and rec.provider == "openai"
    assert [(a.step, a.provider, a.status) for a in rec.attempts] == [
        (0, "workers-ai", 503),
        (1, "openai", 200),
    ]


def test_fallback_on_step_error_and_on_timeout(http: httpx.Client, emu: Emulator) -> None:
    no_key = step("anthropic", "v1/messages", {"model": "c"})  # 401 from the provider
    slow = dict(WORKERS, config={"requestTimeout": 50})
    emu.faults.fail_next = [{"kind": "slow", "delay_ms": 500, "provider": "workers-ai"}]
    r = http.post(GW, json=[no_key, slow, OPENAI])
    assert r.headers["cf-aig-step"] == "2", r.text
    assert [a.status for a in emu.requests[-1].attempts] == [401, 504, 200]
    assert emu.requests[-1].attempts[1].fault == "timeout"


def test_all_steps_fail_returns_the_last_error(http: httpx.Client, emu: Emulator) -> None:
    emu.faults.fail_next = [500, 502]
    r = http.post(GW, json=[WORKERS, OPENAI])
    assert r.status_code == 502 and r.headers["cf-aig-step"] == "1"


def test_step_headers_override_request_headers(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = 300
    steps = [dict(OPENAI, headers={"Authorization": "Bearer sk", "cf-aig-skip-cache": "true"})]
    http.post(GW, json=steps)
    r = http.post(GW, json=steps)
    assert r.headers["cf-aig-cache-status"] == "MISS"
    r = http.post(GW, json=[OPENAI])
    assert r.headers["cf-aig-cache-status"] == "HIT"


def test_gateway_token_must_be_on_the_outer_request(http: httpx.Client, emu: Emulator) -> None:
    emu.token = "tok-123456"
    inner = dict(
        OPENAI, headers={"Authorization": "Bearer sk", "cf-aig-authorization": "Bearer tok-123456"}
    )
    assert_envelope(http.post(GW, json=[inner]), 401, 2009)
    r = http.post(GW, json=[OPENAI], headers={"cf-aig-authorization": "Bearer tok-123456"})
    assert r.status_code == 200


def test_universal_bad_shapes(http: httpx.Client) -> None:
    assert_envelope(http.post(GW, json="nope"), 400, 2019)
    assert_envelope(http.post(GW, json=[]), 400, 2019)
    assert_envelope(
        http.post(GW, json=[{"provider": "nope", "endpoint": "x", "query": {}}]), 400, 2008
    )
    assert_envelope(http.post(GW, json=[{"provider": "openai", "query": {}}]), 400, 2019)


def test_universal_rate_limit_is_terminal(http: httpx.Client, emu: Emulator) -> None:
    emu.rate_limit = (1, 3600)
    emu.rate_limit_technique = "sliding"
    assert http.post(GW, json=[WORKERS, OPENAI]).status_code == 200
    assert_envelope(http.post(GW, json=[WORKERS, OPENAI]), 429, 2003)


def test_compat_endpoint(http: httpx.Client, emu: Emulator) -> None:
    for model in (
        "openai/gpt-4o-mini",
        "anthropic/claude-3-haiku",
        "workers-ai/@cf/meta/llama-3.1-8b-instruct",
    ):
        r = http.post(
            f"{GW}/compat/chat/completions",
            json=chat("compat hi", model=model),
            headers=OPENAI_AUTH,
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["object"] == "chat.completion" and out["model"] == model
        assert out["choices"][0]["message"]["content"] == "compat hi"
    assert emu.requests[-1].provider == "compat"


def test_compat_errors(http: httpx.Client) -> None:
    url = f"{GW}/compat/chat/completions"
    body = assert_envelope(
        http.post(url, json=chat(model="gpt-4o"), headers=OPENAI_AUTH), 400, 2019
    )
    assert "openai/gpt-4o-mini" in body["error"][0]["message"]
    assert_envelope(http.post(url, json=chat(model="nope/x"), headers=OPENAI_AUTH), 400, 2008)
    r = http.post(url, json=chat(model="openai/gpt-4o"))
    assert r.status_code == 401


def test_compat_byok_uses_the_prefixed_provider_key(http: httpx.Client, emu: Emulator) -> None:
    emu.token = "tok-123456"
    emu.byok = {"anthropic": "sk-ant"}
    r = http.post(
        f"{GW}/compat/chat/completions",
        json=chat(model="anthropic/claude-3-haiku"),
        headers={"cf-aig-authorization": "Bearer tok-123456"},
    )
    assert r.status_code == 200 and emu.requests[-1].byok_alias == "default"


def test_compat_step_in_universal(http: httpx.Client) -> None:
    s = step(
        "compat", "chat/completions", chat(model="groq/llama-3.1-8b"), Authorization="Bearer k"
    )
    r = http.post(GW, json=[s])
    assert r.status_code == 200 and r.json()["model"] == "groq/llama-3.1-8b"
