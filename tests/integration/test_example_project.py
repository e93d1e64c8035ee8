"""The README's first command: the example project replays offline and passes."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "example_project"


def test_example_project_replays_offline(pytester, no_keys, monkeypatch):
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    monkeypatch.chdir(pytester.path)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=19)
    out = result.stdout.str()
    assert "snapshots passed" in out and "unused" not in out
    assert "0 live" in out


README = Path(__file__).parents[2] / "README.md"


def quickstart_lines() -> list[str]:
    """The commands of the README's Quickstart block, as written."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_quickstart_works_pasted_into_one_shell(pytester, no_keys, monkeypatch):
    """The Quickstart's lines, pasted in order into one fresh shell at the repository root.

    The ``pip install`` part of each line is checked, not run (the test environment is that
    install, and it needs the network); the rest of each line runs as written, in one bash
    process, so a ``cd`` in the first line carries over to the second as it would when
    pasted. The second line collects the whole suite but runs only the import-graph tests
    (``-k``): running the whole suite inside the suite would take minutes.
    """
    import os
    import subprocess
    import sys

    lines = quickstart_lines()
    assert len(lines) == 2, lines
    commands = []
    for line in lines:
        install, sep, rest = line.partition(" && ")
        assert sep and install.startswith("pip install -e "), line
        commands.append(rest)
    repo = pytester.path / "repo"
    root = Path(__file__).parents[2]
    shutil.copytree(
        root,
        repo,
        ignore=shutil.ignore_patterns(
            ".git", "__pycache__", ".pytest_cache", "*.egg-info", ".venv"
        ),
    )
    script = "set -e\n" + f"{commands[0]} -p no:cacheprovider\n"
    script += f"{commands[1]} -p no:cacheprovider -k test_import_graph\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    import re

    _, second = out.split("19 passed", 1)
    assert re.search(r"workers \[\d+ items?\]", second), out[-3000:]  # line 2 ran the suite
    assert re.search(r"=+ \d+ passed in ", second), out[-3000:]
