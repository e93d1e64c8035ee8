"""The live progress line: drawn in a terminal (a pty here) while 300 scheduled calls run
against the emulator, quiet under -q, never drawn into a pipe; under xdist the controller
counts items; a grand-total line closes the summary."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.usefixtures("keyed_env")


def _config(n: int) -> str:
    lines = ["prompts: ['Say {{n}} please']", "providers: [openai:gpt-4o-mini]", "tests:"]
    for i in range(n):
        lines.append(f"  - vars: {{n: '{i}'}}\n    assert: [{{type: contains, value: '{i}'}}]")
    return "\n".join(lines) + "\n"


def in_pty(cwd: object, *args: str, timeout: float = 240) -> str:
    """pytest's output when its stdout is a terminal (bounded by ``timeout`` seconds)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(TERM="xterm", COLUMNS="160", LINES="40")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def big(pytester: pytest.Pytester, emu: object) -> pytest.Pytester:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(_config(300))
    emu.latency_ms = 5  # type: ignore[attr-defined]
    return pytester


def _args(emu: object) -> list[str]:
    url = emu.url  # type: ignore[attr-defined]
    return ["--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", url, "--cf-mode", "live"]


def test_progress_line_in_a_terminal(big, emu):
    out = in_pty(big.path, *_args(emu), "--cf-concurrency", "4")
    assert "300 passed" in out
    assert "\x1b7" in out and "\x1b[K" in out  # drawn after the dots, erased before them
    drawn = out.split("\x1b7", 1)[1].split("\x1b8", 1)[0]
    assert "/300 calls · " in drawn and " in flight · " in drawn and " retries · " in drawn
    assert " cached · " in drawn and " spent" in drawn
    assert "total (1 config): 300/300 passed (100%), 0 failed, 0 errors" in out
    assert "0 replayed / 300 live" in out


def test_quiet_and_piped_runs_draw_nothing(big, emu):
    quiet = in_pty(big.path, *_args(emu), "-q")
    assert "300 passed" in quiet and "\x1b7" not in quiet and "/300 calls" not in quiet
    piped = big.runpytest_subprocess(*_args(emu))  # a pipe: plain lines only, no drawing
    piped.assert_outcomes(passed=300)
    assert "\x1b7" not in piped.stdout.str()
    assert "total (1 config): 300/300 passed" in piped.stdout.str()


def test_xdist_controller_counts_items(big, emu):
    out = in_pty(big.path, *_args(emu), "-n", "2")
    assert "300 passed" in out
    drawn = [part.split("\x1b8", 1)[0] for part in out.split("\x1b7")[1:]]
    assert drawn and all("/300 items · " in d or "?" in d for d in drawn)
    assert any(" live calls · " in d for d in drawn)
    assert "in flight" not in "".join(drawn)  # not known on the controller
