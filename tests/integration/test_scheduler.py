"""Calls are scheduled ahead of pytest's item loop, and the cost budget stops new calls."""

from __future__ import annotations

import itertools
import textwrap
import time

import pytest

CONFIG = """
prompts: ['{{x}}']
providers: ['openai:gpt-4o-mini']
tests:
  - vars: {x: [a1, b2, c3, d4, e5, f6, g7, h8]}
    assert: [{type: regex, value: '^[a-h][1-8]$'}]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    return pytester


def test_live_calls_are_scheduled_ahead_and_each_item_gets_its_own(project, emu, keyed_env):
    emu.latency_ms = 50
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    result = project.runpytest(*args, "--cf-mode", "live", "--cf-concurrency", "4")
    result.assert_outcomes(passed=8)
    assert "scheduler: 8 gateway calls started ahead" in result.stdout.str()
    # one call per item, none repeated by the item itself
    assert sorted(r.body["messages"][0]["content"] for r in emu.requests) == [
        "a1",
        "b2",
        "c3",
        "d4",
        "e5",
        "f6",
        "g7",
        "h8",
    ]


def test_record_schedules_only_what_is_missing(project, emu, keyed_env):
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    project.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=8)
    assert len(emu.requests) == 8
    emu.clear()
    again = project.runpytest(*args, "--cf-mode", "record")
    again.assert_outcomes(passed=8)
    assert emu.requests == []
    assert "scheduler:" not in again.stdout.str()
    # a changed case is the only one called again
    project.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(CONFIG).replace("h8", "h7")
    )
    third = project.runpytest(*args, "--cf-mode", "record", "--snapshot-warn-unused")
    third.assert_outcomes(passed=8)
    assert [r.body["messages"][0]["content"] for r in emu.requests] == ["h7"]


def test_deselected_items_are_not_called(project, emu, keyed_env):
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    listed = project.runpytest(*args, "--collect-only", "-q").stdout.lines
    names = [ln.split("::", 1)[1] for ln in listed if "::" in ln]
    var_id = names[0].rsplit("=", 1)[-1].rstrip("]")  # the value of the first var combination
    result = project.runpytest(*args, "--cf-mode", "live", "-k", var_id)
    result.assert_outcomes(passed=1)
    assert len(emu.requests) == 1


def test_max_cost_stops_new_live_calls(project, emu, keyed_env):
    # every emulated call costs something (gpt-4o-mini is priced); a tiny budget stops the run
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    result = project.runpytest(
        *args, "--cf-mode", "live", "--cf-max-cost", "0.0000001", "--cf-concurrency", "1", "-rs"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 1, result.stdout.str()
    assert "--cf-max-cost" in result.stdout.str()
    assert len(emu.requests) < 8


def _overlaps(requests) -> int:
    spans = sorted((r.created_at, r.created_at + r.duration_ms / 1000) for r in requests)
    return sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end - 0.005)


def test_max_concurrency_and_delay_from_evaluate_options(pytester, emu, keyed_env):
    emu.latency_ms = 40
    base = textwrap.dedent(CONFIG)
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url, "--cf-mode", "live")
    pytester.path.joinpath("promptfooconfig.yaml").write_text(base)
    pytester.runpytest(*args).assert_outcomes(passed=8)
    assert _overlaps(emu.requests) > 0  # by default calls overlap
    for extra in ("evaluateOptions: {maxConcurrency: 1}\n", "evaluateOptions: {delay: 5}\n"):
        emu.clear()
        pytester.path.joinpath("promptfooconfig.yaml").write_text(base + extra)
        pytester.runpytest(*args).assert_outcomes(passed=8)
        assert len(emu.requests) == 8
        assert _overlaps(emu.requests) == 0, extra


def test_timeout_ms_makes_slow_cases_errors(pytester, emu, keyed_env):
    # the call is scheduled when the run loop starts; the latency is far above what a loaded
    # machine may take to reach the item (600 ms was not: the answer could already be there)
    emu.latency_ms = 2500
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ['{{x}}']
            providers: ['openai:gpt-4o-mini']
            evaluateOptions: {timeoutMs: 50}
            tests: [{vars: {x: slow}, assert: [{type: contains, value: slow}]}]
            """
        )
    )
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url, "--cf-mode", "live"
    )
    result.assert_outcomes(errors=1)
    assert "timeoutMs = 50 ms" in result.stdout.str()
    # the abandoned call still ends on the server; let it land in this test's log, not the next
    deadline = time.monotonic() + 10
    while not emu.requests and time.monotonic() < deadline:
        time.sleep(0.05)


def test_timeout_ms_cases_replay(pytester, emu, keyed_env):
    # replay steps an evaluation outside the loop; with timeoutMs it must not: on Python
    # 3.12+ asyncio.wait_for needs a current task ("Timeout should be used inside a task")
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ['{{x}}']
            providers: ['openai:gpt-4o-mini']
            evaluateOptions: {timeoutMs: 5000}
            tests: [{vars: {x: quick}, assert: [{type: contains, value: quick}]}]
            """
        )
    )
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    pytester.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=1)
    pytester.runpytest(*args).assert_outcomes(passed=1)


def _max_in_flight(requests) -> int:
    events = sorted(
        [(r.created_at, 1) for r in requests]
        + [(r.created_at + r.duration_ms / 1000 - 0.005, -1) for r in requests]
    )
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_xdist_workers_schedule_their_queued_items(project, emu, keyed_env):
    emu.latency_ms = 150
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url, "--cf-mode")
    result = project.runpytest_subprocess(
        *args, "live", "-n", "2", "-p", "xdist", "--dist", "loadfile"
    )
    result.assert_outcomes(passed=8)
    assert len(emu.requests) == 8
    # two workers without scheduling ahead would have at most 2 calls in flight
    assert _max_in_flight(emu.requests) > 2


def test_rate_limits_are_reported_apart_from_assertion_failures(project, emu, keyed_env):
    emu.rate_limit = (2, 3600)  # the gateway answers 429/2003 after two calls
    result = project.runpytest(
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-gateway-url",
        emu.url,
        "--cf-mode",
        "live",
        "--cf-max-retries",
        "0",
        "--cf-concurrency",
        "1",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 and outcomes.get("errors") == 6
    assert "6 rate-limited (429 after retries; not assertion failures)" in result.stdout.str()
