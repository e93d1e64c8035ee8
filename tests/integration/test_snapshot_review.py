"""Snapshots that read well in code review, checked in a git repository as a reviewer sees
them: idempotent re-recording, in-place one-file diffs, stable names under prompt edits, a
folder per source file, the format-1 migration without a call, no error kept, no temp left."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

# the example project as it was when format 1 was current (it has changed since)
FORMAT1_PROJECT = Path(__file__).parent / "data" / "format1" / "project"
FORMAT1 = Path(__file__).parent / "data" / "format1" / "__snapshots__"

CONFIG = """\
prompts: [file://prompts/reply_v1.txt]
providers:
  - id: cloudflare-gateway:openai:gpt-4o-mini
    label: mini
tests:
  - description: greets
    vars: {name: Ada, language: [French, German]}
    assert: [{type: icontains, value: Ada}]
  - description: thanks
    vars: {name: Grace, language: French}
    assert: [{type: icontains, value: Grace}]
"""


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "snapshots")


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    root = pytester.path
    (root / "prompts").mkdir()
    (root / "prompts" / "reply_v1.txt").write_text("Say hello to {{name}} in {{language}}.\n")
    (root / "promptfooconfig.yaml").write_text(CONFIG)
    (root / ".gitignore").write_text(".pytest_cache/\n__pycache__/\n")
    git(root, "init", "-q")
    return pytester


def run(p: pytest.Pytester, emu: object, *args: str) -> pytest.RunResult:
    return p.runpytest(
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-gateway-url",
        emu.url,  # type: ignore[attr-defined]
        "-p",
        "no:randomly",
        *args,
    )


def snapshot_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "__snapshots__").rglob("*") if p.is_file())


def test_refresh_with_identical_answers_changes_no_byte(repo, emu, keyed_env):
    first = run(repo, emu, "--cf-mode", "record")
    first.assert_outcomes(passed=3)
    # nothing was committed yet: new answers, not differences from the snapshots
    assert "review: 3 new answer(s) with no committed snapshot" in first.stdout.str()
    assert "differ from the committed snapshots" not in first.stdout.str()
    files = snapshot_files(repo.path)
    assert [f.parent.name for f in files] == ["promptfooconfig.yaml"] * 3
    commit_all(repo.path)
    emu.latency_ms = 3  # other latencies, event ids and log ids than the first recording
    run(repo, emu, "--cf-mode", "refresh").assert_outcomes(passed=3)
    assert len(emu.requests) == 6
    assert git(repo.path, "status", "--porcelain") == ""
    run(repo, emu, "--cf-mode", "record", "--snapshot-update").assert_outcomes(passed=3)
    assert git(repo.path, "status", "--porcelain") == ""
    text = files[0].read_text()
    for volatile in ("cf-aig-log-id", "cf-aig-event-id", "cf-aig-skip-cache", "kind:"):
        assert volatile not in text
    assert text.count("Say hello to Ada") == 2  # the request and the answer: one copy each


def test_one_changed_var_rewrites_one_file_in_place(repo, emu, keyed_env):
    run(repo, emu, "--cf-mode", "record").assert_outcomes(passed=3)
    commit_all(repo.path)
    config = repo.path / "promptfooconfig.yaml"
    config.write_text(CONFIG.replace("name: Grace", "name: Grace Hopper"))
    commit_all(repo.path)
    emu.clear()
    result = run(repo, emu, "--cf-mode", "record", "-v")
    result.assert_outcomes(passed=3)
    assert len(emu.requests) == 1  # only the changed item is called
    status = git(repo.path, "status", "--porcelain").splitlines()
    assert status == ['M "__snapshots__/promptfooconfig.yaml/thanks[mini].yaml"'] or status == [
        " M __snapshots__/promptfooconfig.yaml/thanks[mini].yaml"
    ]
    diff = git(repo.path, "diff", "-U0").splitlines()
    changed = [ln for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert 0 < len(changed) < 40, "\n".join(diff)
    assert not any("role:" in ln for ln in changed)  # the exchange stayed where it was
    assert any(ln.startswith("+") and "Grace Hopper" in ln for ln in changed)
    # the review view: both answers side by side, with the verdict
    out = result.stdout.str()
    assert "review: 1 answer(s) differ from the committed snapshots" in out
    assert "thanks[mini]  (verdict" in out
    row = next(ln for ln in result.stdout.lines if "Say hello to Grace in French." in ln)
    assert "Say hello to Grace Hopper in French." in row and " | " in row


def test_prompt_body_edit_renames_nothing(repo, emu, keyed_env):
    run(repo, emu, "--cf-mode", "record").assert_outcomes(passed=3)
    commit_all(repo.path)
    names = [f.name for f in snapshot_files(repo.path)]
    assert names == [
        "greets[mini-language=French].yaml",
        "greets[mini-language=German].yaml",
        "thanks[mini].yaml",
    ]
    (repo.path / "prompts" / "reply_v1.txt").write_text("Greet {{name}} warmly, in {{language}}.\n")
    run(repo, emu, "--cf-mode", "record").assert_outcomes(passed=3)
    status = git(repo.path, "status", "--porcelain").splitlines()
    assert len(status) == 4  # the prompt and three snapshots, all modified in place
    assert all(line.startswith(" M ") for line in status), status


def test_error_replies_are_never_kept(repo, emu, keyed_env, monkeypatch):
    emu.token = "right-token"
    monkeypatch.setenv("CF_AIG_TOKEN", "wrong-token")
    result = run(repo, emu, "--cf-mode", "record")
    assert result.ret != 0
    assert not (repo.path / "__snapshots__").exists() or not snapshot_files(repo.path)
    monkeypatch.setenv("CF_AIG_TOKEN", "right-token")
    run(repo, emu, "--cf-mode", "record").assert_outcomes(passed=3)
    for f in snapshot_files(repo.path):
        text = f.read_text()
        assert "status: 200" in text and "status: 401" not in text  # (hex ids may hold 401)


def test_stale_temp_files_are_removed(repo, emu, keyed_env):
    run(repo, emu, "--cf-mode", "record").assert_outcomes(passed=3)
    folder = repo.path / "__snapshots__" / "promptfooconfig.yaml"
    old = folder / ".thanks[mini].yaml.k1ll3d.tmp"
    young = folder / ".greets[mini-language=French].yaml.w0rk1n.tmp"
    for tmp in (old, young):
        tmp.write_text("version: 2\nexch")
    os.utime(old, (1, 1))  # left by a SIGKILL long ago
    run(repo, emu).assert_outcomes(passed=3)  # replay sweeps the folder
    assert not old.exists() and young.exists()
    run(repo, emu, "--cf-mode", "refresh", "-k", "French and greets").assert_outcomes(passed=1)
    assert young.exists()  # the answer did not change: the file was not written
    (repo.path / "promptfooconfig.yaml").write_text(CONFIG.replace("Ada", "Ada L"))
    run(repo, emu, "--cf-mode", "record", "-k", "French and greets").assert_outcomes(passed=1)
    assert not young.exists()  # writing a file removes its own leftovers


SIDE_CONFIG = """\
prompts: ['{{{{word}}}} from {{{{where}}}}']
providers: [{{id: cloudflare-gateway:openai:gpt-4o-mini, label: mini}}]
tests:
  - description: same
    vars: {{word: hello, where: {where}}}
"""


def test_same_stem_sources_keep_their_own_folders(pytester, emu, keyed_env, monkeypatch):
    root = pytester.path
    for name in ("evals.yaml", "evals.yml", "checks.yaml"):
        (root / name).write_text(SIDE_CONFIG.format(where=name))
    (root / "checks.py").write_text(
        textwrap.dedent(
            """\
            def test_same(cf_gateway):
                assert cf_gateway.complete("openai:gpt-4o-mini", "hi from checks.py").text
            """
        )
    )
    args = ["checks.py"]
    for name in ("evals.yaml", "evals.yml", "checks.yaml"):
        args += ["--cf-config", name]
    args += ["--cf-gateway-url", emu.url, "-p", "no:randomly"]
    pytester.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=4)
    folders = sorted(p.parent.name for p in snapshot_files(root))
    assert folders == ["checks.py", "checks.yaml", "evals.yaml", "evals.yml"]
    for name in ("evals.yaml", "evals.yml", "checks.yaml"):
        (text,) = [f.read_text() for f in (root / "__snapshots__" / name).iterdir()]
        assert f"hello from {name}" in text
    for k in keyed_env:
        monkeypatch.delenv(k)
    emu.reset()
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=4)
    assert "unused" not in result.stdout.str()
    assert emu.requests == []


def _format1_project(p: pytest.Pytester) -> Path:
    root = p.path
    for name in ("promptfooconfig.yaml", "pytest.ini", "test_summarizer.py"):
        shutil.copy(FORMAT1_PROJECT / name, root / name)
    shutil.copytree(FORMAT1, root / "__snapshots__")
    (root / ".gitignore").write_text(".pytest_cache/\n__pycache__/\n")
    git(root, "init", "-q")
    commit_all(root)
    return root


def test_format1_snapshots_replay_and_migrate_without_a_call(pytester, emu, no_keys):
    root = _format1_project(pytester)
    url = ("--cf-gateway-url", emu.url, "-p", "no:randomly")
    before = sorted(p.name for p in snapshot_files(root))
    # replay reads the old files (found by fingerprint) and writes nothing
    result = pytester.runpytest(*url)
    result.assert_outcomes(passed=14)
    assert "unused" not in result.stdout.str()
    assert git(root, "status", "--porcelain") == ""
    # --snapshot-update moves them to their new names and format, offline
    pytester.runpytest(*url, "--snapshot-update").assert_outcomes(passed=14)
    assert emu.requests == []
    after = snapshot_files(root)
    assert {p.parent.name for p in after} == {"promptfooconfig.yaml", "test_summarizer.py"}
    assert len(after) == len(before)
    assert all(p.read_text().startswith("version: 2\n") for p in after)
    assert not (root / "__snapshots__" / "promptfooconfig").exists()
    assert not (root / "__snapshots__" / "test_summarizer").exists()
    commit_all(root)
    result = pytester.runpytest(*url)
    result.assert_outcomes(passed=14)
    assert "unused" not in result.stdout.str() and "0 live" in result.stdout.str()
    pytester.runpytest(*url, "--snapshot-update").assert_outcomes(passed=14)
    assert git(root, "status", "--porcelain") == ""  # the migration is done once
    assert emu.requests == []


def test_format1_snapshots_migrate_in_record_mode_without_a_call(
    pytester, emu, keyed_env, monkeypatch
):
    root = _format1_project(pytester)
    result = pytester.runpytest("--cf-gateway-url", emu.url, "--cf-mode", "record")
    result.assert_outcomes(passed=14)
    assert emu.requests == []
    assert {p.parent.name for p in snapshot_files(root)} == {
        "promptfooconfig.yaml",
        "test_summarizer.py",
    }


def test_format1_snapshots_are_replaced_by_a_refresh(pytester, emu, keyed_env):
    root = _format1_project(pytester)
    result = pytester.runpytest("--cf-gateway-url", emu.url, "--cf-mode", "refresh")
    result.assert_outcomes(passed=14)
    assert len(emu.requests) == 9  # 6 config items and 3 cf_gateway calls, all called again
    assert not (root / "__snapshots__" / "promptfooconfig").exists()
    assert not (root / "__snapshots__" / "test_summarizer").exists()
    assert len(snapshot_files(root)) == 8
