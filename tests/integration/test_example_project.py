"""The README's first command: the example project replays offline and passes."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "example_project"


def test_example_project_replays_offline(pytester, no_keys, monkeypatch):
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    monkeypatch.chdir(pytester.path)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=14)
    out = result.stdout.str()
    assert "snapshots passed" in out and "unused" not in out
    assert "0 live" in out
