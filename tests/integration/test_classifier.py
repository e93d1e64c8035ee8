"""``classifier`` end to end: recorded through the real emulator's Hugging Face route,
replayed offline with no keys (serial and ``-n 2``), with real promptfoo 0.123.1's verdicts.

``data/classifier/`` holds the config, the emulator's reply rules (a model error and a reply
of another shape), and promptfoo's verdicts (``promptfoo_0.123.1.json``, written by
``bench/promptfoo_graded_verdicts.py``, which ran promptfoo with its Hugging Face provider's
``apiEndpoint`` pointed at the same emulator). The emulator scores a label 0.9 when the text
holds ``class:<label>``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_moderation_conversation import _promptfoo_error

DATA = Path(__file__).parent / "data" / "classifier"
ARGS = ("--cf-config", "promptfooconfig.yaml", "--cf-output", "out.json", "-p", "no:cacheprovider")
HF_KEY = "fake.hf.PLANTED.2222222222"
OUTCOMES = {"passed": 6, "failed": 9, "errors": 3}


def assert_same_verdicts(root: Path) -> None:
    rows = json.loads((DATA / "promptfoo_0.123.1.json").read_text(encoding="utf-8"))
    expected = {r["description"]: r for r in rows}
    doc = json.loads(root.joinpath("out.json").read_text(encoding="utf-8"))
    ours = {r["description"]: r for r in doc["results"]["results"]}
    assert sorted(ours) == sorted(expected)
    for name, want in expected.items():
        got = ours[name]
        where = f"row {name!r}: promptfoo {want}, ours {got.get('gradingResult')} {got['error']}"
        assert got["success"] == want["success"], where
        assert got["failureReason"] == want["failureReason"], where
        assert got["score"] == pytest.approx(want["score"], abs=1e-9), where
        if want["failureReason"] == 2:
            assert _promptfoo_error(want["reason"]) in got["error"], where
        elif not want["success"]:
            assert got["gradingResult"]["reason"] == want["reason"], where


@pytest.fixture
def project(pytester: pytest.Pytester, emu: Any) -> pytest.Pytester:
    shutil.copy(DATA / "promptfooconfig.yaml", pytester.path / "promptfooconfig.yaml")
    emu.rules = yaml.safe_load((DATA / "rules.yaml").read_text(encoding="utf-8"))
    return pytester


def test_verdicts_match_promptfoo_recorded_then_replayed(project, emu, keyed_env, monkeypatch):
    monkeypatch.setenv("HF_API_TOKEN", HF_KEY)
    record = project.runpytest(*ARGS, "--cf-mode", "record", "--cf-gateway-url", emu.url)
    record.assert_outcomes(**OUTCOMES)
    assert_same_verdicts(project.path)
    calls = [r for r in emu.requests if "/huggingface/" in r.path]
    assert len(calls) == 15  # one per row that reaches a classification provider
    assert all(r.headers["authorization"] == f"Bearer {HF_KEY}" for r in calls)
    assert {r.path.split("/huggingface/", 1)[1] for r in calls} == {
        "facebook/roberta-hate-speech-dynabench-r4-target",
        "bigcode/starpii",
    }
    first = next(r for r in calls if "I like bananas" in json.dumps(r.body))
    assert first.body == {"inputs": "I like bananas class:nothate", "parameters": {}}
    token = next(r for r in calls if "I am Jo" in json.dumps(r.body))
    assert token.body == {
        "inputs": "I am Jo class:NAME",
        "parameters": {"aggregation_strategy": "simple"},
        "options": {"use_cache": True, "wait_for_model": True},
    }

    snaps = project.path / "__snapshots__" / "promptfooconfig.yaml"
    text = (snaps / "class above threshold[echo].yaml").read_text(encoding="utf-8")
    assert "- role: classifier\n" in text
    assert "route: facebook/roberta-hate-speech-dynabench-r4-target" in text
    assert "output_text: nothate=0.9, other=0.1" in text
    assert HF_KEY not in "".join(p.read_text() for p in snaps.glob("*.yaml"))

    monkeypatch.delenv("HF_API_TOKEN")
    for key in keyed_env:
        monkeypatch.delenv(key)
    emu.clear()
    project.path.joinpath("out.json").unlink()
    replay = project.runpytest(*ARGS)
    replay.assert_outcomes(**OUTCOMES)
    assert emu.requests == []
    assert_same_verdicts(project.path)

    project.path.joinpath("out.json").unlink()
    xdist = project.runpytest_subprocess(*ARGS, "-n", "2", "-p", "xdist")
    xdist.assert_outcomes(**OUTCOMES)
    assert emu.requests == []
    assert_same_verdicts(project.path)


def test_cf_assert_classifies_and_replays(pytester, emu, keyed_env, monkeypatch):
    monkeypatch.setenv("HF_API_TOKEN", HF_KEY)
    pytester.makepyfile(
        """
        HF = "huggingface:text-classification:facebook/roberta-hate-speech-dynabench-r4-target"

        def test_classified(cf_assert):
            r = cf_assert(
                "class:nothate", "classifier", value="nothate", threshold=0.5, provider=HF
            )
            assert r.passed and r.reason == "Classification nothate has score 0.90 >= 0.5"
            r = cf_assert(
                "class:hate", "not-classifier", value="hate", threshold=0.5, provider=HF,
                raise_on_fail=False,
            )
            assert not r.passed and round(r.score, 6) == 0.1
        """
    )
    args = ("-p", "no:cacheprovider")
    pytester.runpytest(*args, "--cf-mode", "record", "--cf-gateway-url", emu.url).assert_outcomes(
        passed=1
    )
    assert len(emu.requests) == 2
    (snap,) = pytester.path.glob("__snapshots__/**/*.yaml")
    roles = [line for line in snap.read_text().splitlines() if line.startswith("- role:")]
    assert roles == ["- role: classifier", "- role: classifier-2"]
    monkeypatch.delenv("HF_API_TOKEN")
    for key in keyed_env:
        monkeypatch.delenv(key)
    emu.clear()
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert emu.requests == []
