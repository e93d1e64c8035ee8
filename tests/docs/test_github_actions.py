"""The GitHub Actions recipe (docs/ci/github-actions.yml, included in the CI how-to) is a valid
workflow, and its replay job's commands work as written, offline, on a copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / "docs" / "ci" / "github-actions.yml"


def load() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    # YAML 1.1 (PyYAML, and GitHub's own parser accepts both) reads the key `on` as True
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def test_workflow_structure() -> None:
    doc = load()
    assert doc["name"]
    assert {"push", "pull_request", "workflow_dispatch"} <= set(doc["on"])
    jobs = doc["jobs"]
    assert set(jobs) == {"replay", "record"}
    for name, job in jobs.items():
        assert job["runs-on"] == "ubuntu-latest", name
        steps = job["steps"]
        assert steps and all(("uses" in s) != ("run" in s) for s in steps), name
        assert steps[0]["uses"].startswith("actions/checkout@v"), name
        assert any(s.get("uses", "").startswith("actions/setup-python@v") for s in steps)
    # replay needs no secret; record reads every key from the repository's secrets
    assert "secrets." not in yaml.safe_dump(jobs["replay"])
    env = jobs["record"]["env"]
    assert all(v == f"${{{{ secrets.{k} }}}}" for k, v in env.items()), env
    assert {"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_GATEWAY_ID", "OPENAI_API_KEY"} <= set(env)
    assert "--cf-mode record" in " ".join(s.get("run", "") for s in jobs["record"]["steps"])


def test_the_workflow_is_included_in_the_ci_guide() -> None:
    guide = (ROOT / "docs" / "how-to" / "record-and-replay-in-ci.md").read_text()
    assert '--8<-- "ci/github-actions.yml"' in guide


def test_replay_job_runs_offline_as_written(tmp_path: Path) -> None:
    steps = load()["jobs"]["replay"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    install, *commands = runs
    # the install step needs the network (pip); the test environment is that install
    assert install.strip() == "python -m pip install -e ."
    repo = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        repo,
        ignore=shutil.ignore_patterns(
            ".git", "__pycache__", ".pytest_cache", "*.egg-info", ".venv", "site"
        ),
    )
    # as on a runner without secrets: no ids, no keys, no gateway address
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "CF_", "CLOUDFLARE_"))
        and not any(word in k for word in ("KEY", "TOKEN", "SECRET"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command in commands:
        done = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, (command, (done.stdout + done.stderr)[-3000:])
    report = (repo / "eval-report.html").read_text(encoding="utf-8")
    assert "<table" in report  # the artifact the next step uploads
