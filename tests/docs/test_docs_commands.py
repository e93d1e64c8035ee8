"""Every command and code block of the documentation runs, as written, against the emulator.

One test per page. The page's blocks run in order in a fresh working directory holding a copy
of ``example_project/`` (so ``pytest example_project`` works as from the repository root),
with the gateway pointed at an emulator answering from the example's rules file
(``CF_GATEWAY_URL``), fake account/gateway ids and provider keys, and nothing else from the
developer's environment. ``tests/docs/docblocks.py`` describes the marker convention.

Two rewrites, both stated here: ``pip install ...`` (the network) is checked, not run: the
package spec must name this project and extras it defines, and the rest of the line (after
``&&``) runs; and the documented emulator port 8787 becomes a free port, so parallel runs on
one machine do not collide.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).parent


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


docblocks = _load("docblocks")
ROOT: Path = docblocks.ROOT
EXAMPLE = ROOT / "example_project"
RUNNABLE = [p for p in docblocks.pages() if any(b.runs for b in docblocks.blocks(p))]
FAKE_ENV = {
    "CLOUDFLARE_ACCOUNT_ID": "docs-account",
    "CLOUDFLARE_GATEWAY_ID": "docs-gateway",
    "OPENAI_API_KEY": "sk-docs-test",
    "ANTHROPIC_API_KEY": "sk-ant-docs-test",
    "CLOUDFLARE_API_TOKEN": "cf-docs-test",
}


def _extras() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(meta["project"]["optional-dependencies"])


_PIP_TARGET = re.compile(r"""^['"]?(?:-e\s+)?['"]?(\.|pytest-cfgateway)(?:\[([\w,-]+)\])?['"]?$""")


def without_pip(script: str) -> str:
    """Each ``pip install <this project>[extras] [&& rest]`` line checked and replaced by its
    rest (the test environment is that install; pip would need the network)."""
    out = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped.startswith("pip install "):
            out.append(line)
            continue
        install, _, rest = stripped.partition(" && ")
        target = install.removeprefix("pip install ").split("#", 1)[0].strip()
        m = _PIP_TARGET.match(target)
        assert m, f"pip installs something other than this project: {line!r}"
        unknown = set(filter(None, (m[2] or "").split(","))) - _extras()
        assert not unknown, f"{line!r} names extras pyproject.toml does not define: {unknown}"
        out.append(rest or ":")
    return "\n".join(out) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"background command exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} after {timeout} s")


@pytest.fixture
def gateway_url() -> Any:
    from pytest_cfgateway.emulator import Emulator

    emu = Emulator(rules=EXAMPLE / "emulator-rules.yaml")
    emu.start()
    try:
        yield emu.url
    finally:
        emu.stop()


class Session:
    """One shell session per page: state (exports, cwd) carried from block to block."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env
        self.state = work.parent / "shell-state.sh"
        self.state.write_text(f"cd {shlex.quote(str(work))}\n")
        self.background: list[subprocess.Popen[str]] = []

    def cwd(self) -> Path:
        done = subprocess.run(
            ["bash", "-c", f"source {shlex.quote(str(self.state))} && pwd"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(done.stdout.strip())

    def run(self, script: str, *, expect_failure: bool, where: str) -> None:
        state = shlex.quote(str(self.state))
        wrapped = (
            f"source {state}\nset -eo pipefail\n{script}\n"
            f'export -p > {state}\necho "cd $(printf %q "$PWD")" >> {state}\n'
        )
        done = subprocess.run(
            ["bash", "-c", wrapped],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        out = (done.stdout + done.stderr)[-4000:]
        print(done.stdout + done.stderr)
        if expect_failure:
            assert done.returncode != 0, f"{where}: expected to fail, but passed:\n{out}"
        else:
            assert done.returncode == 0, f"{where}: exit {done.returncode}:\n{script}\n{out}"

    def start(self, script: str, where: str) -> None:
        m = re.search(r"--port\s+(\d+)", script)
        assert m, f"{where}: a background command must name its --port"
        state = shlex.quote(str(self.state))
        proc = subprocess.Popen(
            ["bash", "-c", f"source {state}\nexec {script.strip()}"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.background.append(proc)
        wait_for_port(int(m[1]), proc)

    def close(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def page_env(gateway_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "USER")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(FAKE_ENV, CF_GATEWAY_URL=gateway_url, PYTHONDONTWRITEBYTECODE="1")
    return env


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_blocks_run(page: Path, tmp_path: Path, gateway_url: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(
        EXAMPLE,
        work / "example_project",
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"),
    )
    port = str(free_port())
    session = Session(work, page_env(gateway_url))
    ran = 0
    try:
        for block in docblocks.blocks(page):
            if not block.runs:
                continue
            where = block.where
            body = block.body
            if block.kind == "file":
                target = session.cwd() / block.arg
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body, encoding="utf-8")
            elif block.lang in ("bash", "sh"):
                script = without_pip(body).replace("8787", port)
                if block.kind == "background":
                    session.start(script, where)
                else:
                    session.run(script, expect_failure=block.kind == "fails", where=where)
            elif block.lang == "python":
                script = tmp_path / f"block_{block.line}.py"
                script.write_text(body, encoding="utf-8")
                done = subprocess.run(
                    [sys.executable, str(script)],
                    cwd=session.cwd(),
                    env=session.env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert done.returncode == 0, f"{where}:\n{done.stdout}{done.stderr}"
            elif block.lang == "yaml":
                assert yaml.safe_load(docblocks.include(body)) is not None, where
            elif block.lang == "ini":
                configparser.ConfigParser().read_string(body)
            ran += 1
    finally:
        session.close()
    assert ran, f"{page}: no block ran"


def test_every_block_is_run_or_marked() -> None:
    """Every fenced block has a known language and a valid marker; shell, python, yaml and
    ini blocks are run unless marked skip (with a reason)."""
    found = [
        msg for p in docblocks.pages() for b in docblocks.blocks(p) for msg in docblocks.problems(b)
    ]
    assert found == []
    counts = [b.runs for p in docblocks.pages() for b in docblocks.blocks(p)]
    assert sum(counts) >= 30  # the docs are not empty
    skipped = [b for p in docblocks.pages() for b in docblocks.blocks(p) if b.kind == "skip"]
    assert len(skipped) <= sum(counts) // 3, [b.where for b in skipped]


def test_pip_lines_are_checked() -> None:
    assert without_pip("pip install -e . && pytest x\n") == "pytest x\n"
    assert without_pip("pip install 'pytest-cfgateway[emulator]'\n") == ":\n"
    with pytest.raises(AssertionError, match="extras"):
        without_pip("pip install -e '.[nope]' && pytest\n")
    with pytest.raises(AssertionError, match="other than this project"):
        without_pip("pip install requests\n")
