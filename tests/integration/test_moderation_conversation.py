"""``moderation`` and ``conversation-relevance`` end to end: recorded through the real
emulator, replayed offline (serial and ``-n 2``), with real promptfoo 0.123.1's verdicts.

``data/moderation_conversation/`` holds the config, the emulator's reply rules, and
promptfoo's verdicts for them (``promptfoo_0.123.1.json``, written by
``bench/promptfoo_graded_verdicts.py``, which ran promptfoo against the same emulator and
rules). The emulator flags a text for a category when it holds ``flag:<category>``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).parent / "data" / "moderation_conversation"
ARGS = ("--cf-config", "promptfooconfig.yaml", "--cf-output", "out.json", "-p", "no:cacheprovider")


def _expected() -> dict[str, dict[str, Any]]:
    rows = json.loads((DATA / "promptfoo_0.123.1.json").read_text(encoding="utf-8"))
    return {r["description"]: r for r in rows}


def _ours(root: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads(root.joinpath("out.json").read_text(encoding="utf-8"))
    return {r["description"]: r for r in doc["results"]["results"]}


def _promptfoo_error(text: str) -> str:
    """promptfoo's error line without its JavaScript prefixes."""
    for prefix in ("Error: ", "Invariant failed: "):
        text = text.removeprefix(prefix)
    return text


def assert_same_verdicts(root: Path) -> None:
    expected, ours = _expected(), _ours(root)
    assert sorted(ours) == sorted(expected)
    for name, want in expected.items():
        got = ours[name]
        where = f"row {name!r}: promptfoo {want}, ours {got.get('gradingResult')} {got['error']}"
        assert got["success"] == want["success"], where
        assert got["failureReason"] == want["failureReason"], where
        assert got["score"] == pytest.approx(want["score"], abs=1e-9), where
        if want["failureReason"] == 2:
            assert _promptfoo_error(want["reason"]) in got["error"], where
        else:
            assert got["gradingResult"]["reason"] == want["reason"], where


@pytest.fixture
def project(pytester: pytest.Pytester, emu: Any) -> pytest.Pytester:
    shutil.copy(DATA / "promptfooconfig.yaml", pytester.path / "promptfooconfig.yaml")
    emu.rules = yaml.safe_load((DATA / "rules.yaml").read_text(encoding="utf-8"))
    return pytester


def test_verdicts_match_promptfoo_recorded_then_replayed(project, emu, keyed_env, monkeypatch):
    record = project.runpytest(*ARGS, "--cf-mode", "record", "--cf-gateway-url", emu.url)
    record.assert_outcomes(passed=6, failed=10, errors=5)
    assert_same_verdicts(project.path)
    moderations = [r for r in emu.requests if r.path.endswith("/openai/moderations")]
    assert len(moderations) == 9
    assert all(
        r.headers["authorization"] == f"Bearer {keyed_env['OPENAI_API_KEY']}" for r in moderations
    )
    assert {r.body["model"] for r in moderations} == {
        "omni-moderation-latest",
        "omni-moderation-2024-09-26",
    }
    flagged = next(r for r in moderations if "flag:harassment" in json.dumps(r.body))
    assert flagged.body["input"] == [
        {"type": "text", "text": "You are awful flag:harassment flag:violence"}
    ]

    snaps = project.path / "__snapshots__" / "promptfooconfig.yaml"
    text = (snaps / "flagged[echo].yaml").read_text(encoding="utf-8")
    assert "- role: moderation\n" in text and "route: moderations" in text
    assert "output_text: 'flagged: harassment, violence'" in text
    multi = (snaps / "multi turn[echo].yaml").read_text(encoding="utf-8")
    # three windows, then the summary of the irrelevant one
    assert [line for line in multi.splitlines() if line.startswith("- role:")] == [
        "- role: grader",
        "- role: grader-2",
        "- role: grader-3",
        "- role: grader-4",
    ]

    for key in keyed_env:
        monkeypatch.delenv(key)
    emu.clear()
    project.path.joinpath("out.json").unlink()
    replay = project.runpytest(*ARGS)
    replay.assert_outcomes(passed=6, failed=10, errors=5)
    assert emu.requests == []
    assert_same_verdicts(project.path)

    project.path.joinpath("out.json").unlink()
    xdist = project.runpytest_subprocess(*ARGS, "-n", "2", "-p", "xdist")
    xdist.assert_outcomes(passed=6, failed=10, errors=5)
    assert emu.requests == []
    assert_same_verdicts(project.path)


def test_a_changed_moderation_answer_is_drift_in_live_mode(project, emu, keyed_env):
    """Live mode compares the moderation verdict with the recorded one, as for graders."""
    project.path.joinpath("promptfooconfig.yaml").write_text(
        "prompts: ['{{answer}}']\nproviders: [echo]\n"
        "tests:\n  - description: checked\n    vars: {answer: 'a calm reply'}\n"
        "    assert: [{type: moderation}]\n",
        encoding="utf-8",
    )
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    project.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=1)
    snap = project.path / "__snapshots__" / "promptfooconfig.yaml" / "checked[echo].yaml"
    # the recorded answer said "flagged"; today's answer does not
    stored = snap.read_text(encoding="utf-8")
    snap.write_text(
        stored.replace("output_text: not flagged", "output_text: 'flagged: violence'"),
        encoding="utf-8",
    )
    live = project.runpytest(*args, "--cf-mode", "live", "-v")
    live.assert_outcomes(passed=1)
    out = live.stdout.str()
    assert "1 drifted" in out and "flagged: violence" in out and "not flagged" in out
    strict = project.runpytest(*args, "--cf-mode", "live", "--cf-drift", "fail")
    strict.assert_outcomes(failed=1)
    # refresh re-records today's verdict; replay then agrees with it
    project.runpytest(*args, "--cf-mode", "refresh").assert_outcomes(passed=1)
    assert "output_text: not flagged" in snap.read_text(encoding="utf-8")
    project.runpytest(*args, "--cf-mode", "live", "--cf-drift", "fail").assert_outcomes(passed=1)


def test_cf_assert_moderates_and_replays(pytester, emu, keyed_env, monkeypatch):
    pytester.makepyfile(
        """
        def test_moderated(cf_assert):
            r = cf_assert("You are awful flag:harassment", "moderation", raise_on_fail=False)
            assert not r.passed and r.reason == "Moderation flags detected: harassment"
            assert cf_assert("a calm reply", "moderation", raise_on_fail=False).passed
            r = cf_assert("flag:hate", "not-moderation", value=["hate"], raise_on_fail=False)
            assert r.passed and r.score == 1
        """
    )
    args = ("-p", "no:cacheprovider")
    pytester.runpytest(*args, "--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(
        passed=1
    )
    assert len(emu.requests) == 3
    (snap,) = pytester.path.glob("__snapshots__/**/*.yaml")
    roles = [line for line in snap.read_text().splitlines() if line.startswith("- role:")]
    assert roles == ["- role: moderation", "- role: moderation-2", "- role: moderation-3"]
    for key in keyed_env:
        monkeypatch.delenv(key)
    emu.clear()
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert emu.requests == []
