"""The cf_gateway / cf_assert fixtures end to end: record against the emulator, replay with no
keys and no gateway, changed requests, live drift, the marker, secrets."""

from __future__ import annotations

import pytest

from .conftest import FAKE_OPENAI_KEY, assert_no_secret

pytestmark = pytest.mark.usefixtures("keyed_env")

SUMMARY_TEST = """
import pytest

def test_summary(cf_gateway, cf_assert):
    c = cf_gateway.complete("openai:gpt-4o-mini", "PROMPT")
    assert c.text
    cf_assert(c, "icontains", "weather")
"""


def _write(pytester: pytest.Pytester, prompt: str = "the weather is nice") -> None:
    pytester.makepyfile(test_summary=SUMMARY_TEST.replace("PROMPT", prompt))


def test_record_then_replay_offline(pytester, emu, monkeypatch):
    _write(pytester)
    rec = pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url)
    rec.assert_outcomes(passed=1)
    assert len(emu.requests) == 1
    snaps = [p for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file()]
    assert len(snaps) == 1, snaps
    text = snaps[0].read_text()
    assert "the weather is nice" in text
    # replay: no ids, no keys, no gateway URL at all
    for k in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_GATEWAY_ID", "OPENAI_API_KEY"):
        monkeypatch.delenv(k)
    emu.clear()
    rep = pytester.runpytest()
    rep.assert_outcomes(passed=1)
    assert emu.requests == []
    assert_no_secret(pytester.path, FAKE_OPENAI_KEY)


def test_replay_of_changed_request_fails_with_record_command(pytester, emu):
    _write(pytester)
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    _write(pytester, prompt="the weather is bad")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "--cf-mode record" in out
    assert "test_summary.py::test_summary" in out


def test_missing_snapshot_fails_in_replay_and_never_calls(pytester, emu):
    _write(pytester)
    result = pytester.runpytest("--cf-gateway-url", emu.url)
    result.assert_outcomes(failed=1)
    assert "--cf-mode record" in result.stdout.str()
    assert emu.requests == []


def test_live_reports_drift_and_fail_mode(pytester, emu):
    _write(pytester)
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    emu.rules = [{"match": "weather", "reply": "Weather: sunny, and different now"}]
    live = pytester.runpytest("--cf-mode", "live", "--cf-gateway-url", emu.url, "-v")
    live.assert_outcomes(passed=1)
    assert "drift" in live.stdout.str()
    # live sends skip-cache so the gateway cache cannot hide drift
    assert emu.requests[-1].headers.get("cf-aig-skip-cache") == "true"
    failing = pytester.runpytest(
        "--cf-mode", "live", "--cf-drift", "fail", "--cf-gateway-url", emu.url
    )
    assert failing.ret != 0
    assert "drift" in failing.stdout.str()
    emu.rules = []


def test_marker_sets_provider_and_options(pytester, emu):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.cf_gateway(provider="openai:gpt-4o-mini", temperature=0.3, cache_ttl=300,
                                metadata={"team": "evals"})
        def test_marked(cf_gateway):
            c = cf_gateway.complete("hello there")
            assert c.text == "hello there"
        """
    )
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    (req,) = emu.requests
    assert req.body["temperature"] == 0.3
    assert req.headers["cf-aig-cache-ttl"] == "300"
    assert '"team"' in req.headers["cf-aig-metadata"]
    # caching on -> the fingerprint is the cache key
    assert len(req.headers["cf-aig-cache-key"]) == 64


def test_async_calls_in_any_order_replay(pytester, emu):
    pytester.makepyfile(
        """
        import asyncio
        import random

        def test_gather(cf_gateway):
            async def main():
                prompts = [f"question {i}" for i in range(6)]
                random.shuffle(prompts)
                return await asyncio.gather(
                    *(cf_gateway.acomplete("openai:gpt-4o-mini", p) for p in prompts)
                ), prompts
            answers, prompts = asyncio.run(main())
            assert [a.text for a in answers] == prompts
        """
    )
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    assert len(emu.requests) == 6
    emu.clear()
    pytester.runpytest().assert_outcomes(passed=1)
    assert emu.requests == []


def test_cf_assert_soft_result_and_graded_through_gateway(pytester, emu):
    emu.rules = [
        {"match": "(?s)Rubric|rubric", "reply": '{"pass": false, "score": 0.2, "reason": "rude"}'}
    ]
    pytester.makepyfile(
        """
        def test_graded(cf_gateway, cf_assert):
            c = cf_gateway.complete("openai:gpt-4o-mini", "You are wrong, idiot.")
            r = cf_assert(c, "llm-rubric", "is polite", raise_on_fail=False)
            assert not r.passed and r.score == 0.2 and "rude" in r.reason
            r2 = cf_assert(c, "not-llm-rubric", "is polite", raise_on_fail=False)
            assert r2.passed
            r3 = cf_assert("hello world", "contains", "world", raise_on_fail=False)
            assert r3.passed and r3.score == 1
        """
    )
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    emu.rules = []
    emu.clear()
    # verdicts replay too
    pytester.runpytest().assert_outcomes(passed=1)
    assert emu.requests == []


def test_cf_assert_raises_with_reason(pytester):
    pytester.makepyfile(
        """
        def test_plain(cf_assert):
            cf_assert("hello world", "contains", "goodbye")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert 'contain "goodbye"' in result.stdout.str()


def test_unknown_assertion_type_suggests(pytester):
    pytester.makepyfile(
        """
        def test_plain(cf_assert):
            cf_assert("hello", "icontain", "x")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert "icontains" in result.stdout.str()


def test_replay_with_the_emulator_stopped(pytester, keyed_env):
    from pytest_cfgateway.emulator import Emulator

    _write(pytester)
    with Emulator() as own:
        url = own.url
        pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", url).assert_outcomes(passed=1)
    # the server is gone; replay still passes (and never tries to connect)
    pytester.runpytest("--cf-gateway-url", url).assert_outcomes(passed=1)


def test_emulator_fixture_inside_a_user_suite(pytester):
    pytester.makepyfile(
        """
        from pytest_cfgateway import Gateway, GatewayAuthError
        import pytest

        def test_uses_the_emulator(cf_gateway_emulator):
            cf_gateway_emulator.token = "t0ken-for-tests"
            with Gateway(account_id="a", gateway_id="g", base_url=cf_gateway_emulator.url,
                         api_keys={"openai": "sk-x"}, env={}) as gw:
                with pytest.raises(GatewayAuthError) as info:
                    gw.complete("openai:gpt-4o-mini", "hi")
                assert info.value.code == 2009
            with Gateway(account_id="a", gateway_id="g", base_url=cf_gateway_emulator.url,
                         token="t0ken-for-tests", api_keys={"openai": "sk-x"}, env={}) as gw:
                assert gw.complete("openai:gpt-4o-mini", "hi").text == "hi"
            assert [r.status for r in cf_gateway_emulator.requests] == [401, 200]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_cf_assert_in_live_mode_grades_fresh_answers(pytester, emu):
    emu.rules = [{"match": "Rubric|rubric", "reply": '{"pass": true, "score": 1, "reason": "ok"}'}]
    pytester.makepyfile(
        """
        def test_graded(cf_gateway, cf_assert):
            c = cf_gateway.complete("openai:gpt-4o-mini", "Hello friend")
            cf_assert(c, "llm-rubric", "is friendly")
        """
    )
    pytester.runpytest("--cf-mode", "live", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    assert len(emu.requests) == 2  # the answer and the grader, both live
    assert all(r.headers.get("cf-aig-skip-cache") == "true" for r in emu.requests)
    assert not [
        p for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file()
    ]  # live never writes


def test_snapshot_update_implies_record_and_conflicts_with_live(pytester, emu):
    _write(pytester)
    pytester.runpytest("--snapshot-update", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    assert len(emu.requests) == 1
    bad = pytester.runpytest("--snapshot-update", "--cf-mode", "live")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--snapshot-update" in bad.stderr.str()


def test_plugin_can_be_disabled(pytester):
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cfgateway", "--cf-mode", "replay")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # its options are gone with it
    pytester.runpytest("-p", "no:cfgateway").assert_outcomes(passed=1)


def test_corrupt_snapshot_is_an_error_naming_the_file(pytester, emu):
    _write(pytester)
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    (snap,) = [p for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file()]
    snap.write_text("version: 1\nexchanges: [unclosed\n")
    result = pytester.runpytest()
    assert result.ret != 0
    out = result.stdout.str()
    assert snap.name in out and "INTERNALERROR" not in out


def test_embed_records_and_replays(pytester, emu, monkeypatch):
    pytester.makepyfile(
        """
        def test_vectors(cf_gateway):
            v = cf_gateway.embed("openai:text-embedding-3-large", ["a cat", "a dog"])
            assert len(v) == 2 and len(v[0]) > 0
        """
    )
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    assert [r.path for r in emu.requests] == ["/v1/acct/gw/openai/embeddings"]
    monkeypatch.delenv("OPENAI_API_KEY")
    emu.clear()
    pytester.runpytest().assert_outcomes(passed=1)
    assert emu.requests == []


def test_custom_assertion_from_conftest_in_cf_assert(pytester):
    pytester.makeconftest(
        """
        def pytest_cfgateway_register_assertions(register):
            register("even-length", lambda output, value, context: len(output) % 2 == 0)
        """
    )
    pytester.makepyfile(
        """
        def test_custom(cf_assert):
            assert cf_assert("ab", "even-length").passed
            assert cf_assert("abc", "not-even-length").passed
            r = cf_assert("abc", "even-length", raise_on_fail=False)
            assert not r.passed
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_duplicate_assertion_registration_is_a_clear_error(pytester):
    pytester.makeconftest(
        """
        def pytest_cfgateway_register_assertions(register):
            register("mine", lambda output, value, context: True)
            register("mine", lambda output, value, context: False)
        """
    )
    pytester.makepyfile("def test_x(cf_assert):\n    cf_assert('a', 'contains', 'a')\n")
    result = pytester.runpytest()
    out = result.stdout.str()
    assert result.ret != 0 and "INTERNALERROR" not in out
    assert "mine" in out
