"""Gateway cache (HIT/MISS, skip, TTL, custom key) and rate limiting (fixed, sliding)."""

from __future__ import annotations

import httpx

from pytest_cfgateway.emulator import Emulator

from .conftest import GW, OPENAI_AUTH, chat
from .test_gateway import assert_envelope

URL = f"{GW}/openai/chat/completions"


def post(http: httpx.Client, body: object = None, **headers: str) -> httpx.Response:
    hdrs = {**OPENAI_AUTH, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return http.post(URL, json=body or chat(), headers=hdrs)


def test_cache_off_by_default_still_says_miss(http: httpx.Client) -> None:
    assert post(http).headers["cf-aig-cache-status"] == "MISS"
    assert post(http).headers["cf-aig-cache-status"] == "MISS"


def test_gateway_cache_ttl_hits_identical_requests(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = 300
    first = post(http)
    second = post(http)
    assert first.headers["cf-aig-cache-status"] == "MISS"
    assert second.headers["cf-aig-cache-status"] == "HIT"
    assert second.json() == first.json()
    assert second.headers["cf-aig-log-id"] != first.headers["cf-aig-log-id"]
    assert emu.requests[-1].cache_status == "HIT" and emu.requests[-1].cost == 0.0
    # a different body, a different key, or another gateway is a different entry
    assert post(http, chat("other")).headers["cf-aig-cache-status"] == "MISS"
    other_key = http.post(URL, json=chat(), headers={"Authorization": "Bearer sk-2"})
    assert other_key.headers["cf-aig-cache-status"] == "MISS"
    other_gw = http.post("/v1/acct/gw2/openai/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert other_gw.headers["cf-aig-cache-status"] == "MISS"


def test_per_gateway_cache_ttl_mapping(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = {"acct/other": 60}
    post(http)
    assert post(http).headers["cf-aig-cache-status"] == "MISS"


def test_request_ttl_opts_in_and_expires(http: httpx.Client, emu: Emulator) -> None:
    post(http, cf_aig_cache_ttl="60")
    assert post(http, cf_aig_cache_ttl="60").headers["cf-aig-cache-status"] == "HIT"
    emu.advance_time(61)
    assert post(http, cf_aig_cache_ttl="60").headers["cf-aig-cache-status"] == "MISS"


def test_ttl_below_minimum_is_clamped_to_60s(http: httpx.Client, emu: Emulator) -> None:
    post(http, cf_aig_cache_ttl="1")
    emu.advance_time(30)
    assert post(http, cf_aig_cache_ttl="1").headers["cf-aig-cache-status"] == "HIT"


def test_ttl_zero_disables_even_with_gateway_ttl(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = 300
    post(http)
    assert post(http, cf_aig_cache_ttl="0").headers["cf-aig-cache-status"] == "MISS"


def test_cache_key_opts_in_and_replaces_the_key(http: httpx.Client, emu: Emulator) -> None:
    post(http, chat("a"), cf_aig_cache_key="k1")
    hit = post(http, chat("b"), cf_aig_cache_key="k1")
    assert hit.headers["cf-aig-cache-status"] == "HIT"
    assert hit.json()["choices"][0]["message"]["content"] == "a"
    emu.advance_time(301)  # key without TTL -> 5 minutes
    assert post(http, chat("b"), cf_aig_cache_key="k1").headers["cf-aig-cache-status"] == "MISS"


def test_skip_cache_bypasses_the_read_only(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = 300
    post(http)
    assert post(http, cf_aig_skip_cache="true").headers["cf-aig-cache-status"] == "MISS"
    assert post(http).headers["cf-aig-cache-status"] == "HIT"


def test_errors_are_never_cached(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = 300
    bad = {"model": "gpt-4o"}
    assert post(http, bad).status_code == 400
    r = post(http, bad)
    assert r.status_code == 400 and r.headers["cf-aig-cache-status"] == "MISS"
    emu.faults.fail_next = [503]
    assert post(http).status_code == 503
    assert post(http).headers["cf-aig-cache-status"] == "MISS"


def test_bad_cache_ttl_header_is_a_warning(http: httpx.Client, emu: Emulator) -> None:
    assert post(http, cf_aig_cache_ttl="soon").status_code == 200
    assert "cf-aig-cache-ttl" in emu.requests[-1].warnings[0]


def test_fixed_rate_limit_2003_and_window_reset(http: httpx.Client, emu: Emulator) -> None:
    emu.rate_limit = (2, 60)
    # align to the start of a clock window so the test cannot straddle two windows
    emu.time_offset = 0.0
    emu.advance_time(60 - emu.now() % 60 + 1)
    assert post(http, chat("1")).status_code == 200
    assert post(http, chat("2")).status_code == 200
    body = assert_envelope(post(http, chat("3")), 429, 2003)
    assert body["error"][0]["message"] == "Rate limited"
    emu.advance_time(60)
    assert post(http, chat("4")).status_code == 200


def test_rate_limit_is_per_gateway(http: httpx.Client, emu: Emulator) -> None:
    emu.rate_limit = "1/60"
    emu.rate_limit_technique = "sliding"
    assert post(http).status_code == 200
    other = http.post("/v1/acct/gw2/openai/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert other.status_code == 200


def test_sliding_differs_from_fixed_across_a_window_edge(http: httpx.Client, emu: Emulator) -> None:
    for technique, expected in (("fixed", 200), ("sliding", 429)):
        emu.reset()
        emu.rate_limit = (2, 60)
        emu.rate_limit_technique = technique  # type: ignore[assignment]
        emu.advance_time(60 - emu.now() % 60 - 5)  # 5 s before a window edge
        assert post(http, chat("a")).status_code == 200
        assert post(http, chat("b")).status_code == 200
        emu.advance_time(10)  # next clock window, but inside the trailing 60 s
        assert post(http, chat("c")).status_code == expected, technique


def test_cache_hits_are_exempt_from_the_rate_limit(http: httpx.Client, emu: Emulator) -> None:
    emu.rate_limit = (1, 3600)
    emu.rate_limit_technique = "sliding"
    emu.cache_ttl = 300
    assert post(http).status_code == 200
    for _ in range(3):
        r = post(http)
        assert r.status_code == 200 and r.headers["cf-aig-cache-status"] == "HIT"
    assert post(http, chat("new")).status_code == 429
