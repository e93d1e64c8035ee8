"""--cf-feedback end to end: a record run against the emulator leaves feedback, score and
metadata on every log entry it made (read back through the emulator's Logs API); a failing
Logs API is a warning, never a failed item; replay sends nothing; the API token leaks nowhere."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import httpx
import pytest

from .conftest import assert_no_secret

API_TOKEN = "cf-api-token-PLANTED-5f3c9a1e77"

CONFIG = """
prompts: ['Say {{word}}']
providers: [openai:gpt-4o-mini]
defaultTest:
  options:
    provider: openai:gpt-4o-mini
tests:
  - description: passes
    vars: {word: hello}
    assert: [{type: icontains, value: hello}]
  - description: fails
    vars: {word: bye}
    assert: [{type: contains, value: never-said}]
  - description: graded
    vars: {word: hi friend}
    assert:
      - {type: icontains, value: friend}
      - {type: llm-rubric, value: is a friendly greeting}
"""
RULES = [
    {"match": "friendly greeting", "reply": '{"pass": false, "score": 0.5, "reason": "meh"}'},
]


@pytest.fixture
def project(pytester: pytest.Pytester, emu: Any, keyed_env: dict[str, str], monkeypatch) -> Any:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", API_TOKEN)
    emu.rules = RULES
    emu.logs_api.token = API_TOKEN  # the emulated Logs API accepts only this token
    return pytester


def _args(emu: Any, *more: str) -> list[str]:
    return [
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-gateway-url",
        emu.url,
        "--cf-api-url",
        f"{emu.base_url}/client/v4",
        "--cf-output",
        "out/results.json",
        *more,
    ]


def _logs(emu: Any) -> list[dict[str, Any]]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as http:
        r = http.get(
            "/client/v4/accounts/acct/ai-gateway/gateways/gw/logs",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
    assert r.status_code == 200
    rows: list[dict[str, Any]] = r.json()["result"]
    return rows


def _check_every_entry_annotated(project: Any, emu: Any) -> None:
    logs = _logs(emu)
    assert len(logs) == 4  # three items' calls and one grader call
    by_test = {}
    for entry in logs:
        meta = entry["metadata"]
        assert set(meta) == {
            "eval_test",
            "eval_config",
            "eval_prompt",
            "eval_provider",
            "eval_call",
        }, entry
        assert meta["eval_config"] == "promptfooconfig.yaml"
        assert meta["eval_prompt"] == "Say {{word}}"
        assert meta["eval_provider"] == "openai:gpt-4o-mini"
        by_test.setdefault(meta["eval_test"].rsplit("::", 1)[-1], []).append(entry)
    (passes,) = next(v for k, v in by_test.items() if k.startswith("passes"))
    assert (passes["feedback"], passes["score"], passes["metadata"]["eval_call"]) == (
        1,
        100,
        "case",
    )
    (fails,) = next(v for k, v in by_test.items() if k.startswith("fails"))
    assert (fails["feedback"], fails["score"]) == (-1, 0)
    graded = next(v for k, v in by_test.items() if k.startswith("graded"))
    assert sorted(e["metadata"]["eval_call"] for e in graded) == ["case", "grader"]
    # the item failed (the rubric said no); its score is the mean of 1 and 0.5
    assert {(e["feedback"], e["score"]) for e in graded} == {(-1, 75)}

    rows = json.loads(project.path.joinpath("out/results.json").read_text())["results"]["results"]
    # (under xdist the controller's rows come with the result records on the reports)
    annotated = [f for row in rows for f in row["feedback"]]
    assert {f["logId"] for f in annotated} == {e["id"] for e in logs}
    assert {f["status"] for f in annotated} == {"annotated"}


def test_record_run_annotates_every_log_entry(project, emu):
    result = project.runpytest(*_args(emu, "--cf-mode", "record", "--cf-feedback"))
    result.assert_outcomes(passed=1, failed=2)
    assert "feedback: 4 gateway log entries annotated" in result.stdout.str()
    _check_every_entry_annotated(project, emu)
    patches = [c for c in emu.logs_api.calls if c.method == "PATCH"]
    assert len(patches) == 4 and all(c.status == 200 for c in patches)
    assert API_TOKEN not in result.stdout.str() + result.stderr.str()
    assert_no_secret(project.path, API_TOKEN)


def test_under_xdist_workers_annotate_before_they_finish(project, emu):
    result = project.runpytest_subprocess(
        *_args(emu, "--cf-mode", "record", "--cf-feedback", "-n", "2", "-p", "xdist")
    )
    result.assert_outcomes(passed=1, failed=2)
    assert "feedback: 4 gateway log entries annotated" in result.stdout.str()
    _check_every_entry_annotated(project, emu)
    assert API_TOKEN not in result.stdout.str() + result.stderr.str()
    assert_no_secret(project.path, API_TOKEN)


def test_ini_key_and_token_env_option(project, emu, monkeypatch):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv("MY_CF_API", API_TOKEN)  # a name the scrubber would not guess
    project.makeini("[pytest]\ncf_feedback = true\n")
    result = project.runpytest(
        *_args(emu, "--cf-mode", "record", "--cf-api-token-env", "MY_CF_API", "-v")
    )
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "feedback: 4 gateway log entries annotated" in out
    assert all(e["feedback"] in (1, -1) for e in _logs(emu))
    assert API_TOKEN not in out + result.stderr.str()
    assert_no_secret(project.path, API_TOKEN)


def test_failing_logs_api_is_a_warning_not_a_failure(project, emu):
    emu.logs_api.fail_status = 500
    result = project.runpytest(
        *_args(emu, "--cf-mode", "record", "--cf-feedback", "--cf-max-retries", "1", "-k", "passes")
    )
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    out = result.stdout.str()
    assert "feedback: 0 gateway log entries annotated, 1 failed" in out
    assert "1 x HTTP 500: injected fault" in out
    assert [c.status for c in emu.logs_api.calls] == [500, 500]  # tried, retried once
    rows = json.loads(project.path.joinpath("out/results.json").read_text())["results"]["results"]
    assert rows[0]["feedback"][0]["status"].startswith("failed: HTTP 500")


def test_rate_limited_logs_api_is_retried(project, emu):
    emu.logs_api.fail_next = [429, 429]
    result = project.runpytest(*_args(emu, "--cf-mode", "record", "--cf-feedback", "-k", "passes"))
    result.assert_outcomes(passed=1)
    assert "feedback: 1 gateway log entries annotated" in result.stdout.str()
    assert [c.status for c in emu.logs_api.calls] == [429, 429, 200]
    assert [e["feedback"] for e in _logs(emu)] == [1]


def test_wrong_token_is_reported_once_per_reason(project, emu, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "cf-api-token-WRONG-000000")
    result = project.runpytest(*_args(emu, "--cf-mode", "record", "--cf-feedback"))
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "4 failed" in out and "4 x HTTP 401: Authentication error (code 10000)" in out
    assert "WRONG" not in out


def test_replay_sends_no_feedback(project, emu):
    project.runpytest(*_args(emu, "--cf-mode", "record")).assert_outcomes(passed=1, failed=2)
    result = project.runpytest(*_args(emu, "--cf-feedback"))
    result.assert_outcomes(passed=1, failed=2)
    assert "replay mode sends no feedback" in result.stdout.str()
    assert emu.logs_api.calls == []


def test_missing_token_is_a_usage_error(project, emu, monkeypatch):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    result = project.runpytest(*_args(emu, "--cf-mode", "record", "--cf-feedback"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "CLOUDFLARE_API_TOKEN" in result.stderr.str()


FIXTURE_TEST = """
def test_good(cf_gateway):
    assert "weather" in cf_gateway.complete("openai:gpt-4o-mini", "the weather").text

def test_bad(cf_gateway):
    assert "sun" in cf_gateway.complete("openai:gpt-4o-mini", "the rain").text
"""


def test_cf_gateway_tests_are_annotated_with_their_outcome(pytester, emu, keyed_env, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", API_TOKEN)
    pytester.makepyfile(test_calls=FIXTURE_TEST)
    result = pytester.runpytest(
        "--cf-mode",
        "record",
        "--cf-gateway-url",
        emu.url,
        "--cf-api-url",
        f"{emu.base_url}/client/v4",
        "--cf-feedback",
    )
    result.assert_outcomes(passed=1, failed=1)
    assert "feedback: 2 gateway log entries annotated" in result.stdout.str()
    got = {
        e["metadata"]["eval_test"]: (e["feedback"], e["score"], e["metadata"]) for e in _logs(emu)
    }
    assert got == {
        "test_calls.py::test_good": (
            1,
            None,
            {
                "eval_provider": "openai",
                "eval_test": "test_calls.py::test_good",
                "eval_config": "test_calls.py",
                "eval_call": "test",
            },
        ),
        "test_calls.py::test_bad": (
            -1,
            None,
            {
                "eval_provider": "openai",
                "eval_test": "test_calls.py::test_bad",
                "eval_config": "test_calls.py",
                "eval_call": "test",
            },
        ),
    }


def test_bad_api_url_is_a_usage_error(project, emu):
    result = project.runpytest(
        "--cf-mode", "record", "--cf-feedback", "--cf-api-url", "api.cloudflare.com/client/v4"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "is not an http(s) URL" in result.stderr.str()
