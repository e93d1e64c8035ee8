"""Shared helpers of the benchmark scripts: temp projects, a gateway emulator subprocess,
timed child processes (wall time and peak memory) and a plain-text table.

Nothing here is part of the plugin; the scripts are run by hand (see bench/README.md).
"""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: The interpreter running the benchmark; run the scripts with the project's venv python.
PYTHON = sys.executable

#: Ids and a dummy key so record/live runs can build gateway requests (the emulator accepts any).
GATEWAY_ENV = {
    "CLOUDFLARE_ACCOUNT_ID": "acct",
    "CLOUDFLARE_GATEWAY_ID": "gw",
    "OPENAI_API_KEY": "sk-anything",
}

#: pytest.ini of every generated project (silences pytest-asyncio's loop-scope warning).
PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished child process."""

    seconds: float
    returncode: int
    maxrss_mb: float
    output: str
    #: CPU seconds (user + sys) of the child and the children it waited for (xdist workers)
    cpu_s: float = 0.0


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child pytest: ours, plus gateway ids, no bytecode surprises.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: with it set (as on the session machine), no
    ``__pycache__`` is written, so every child re-compiles the plugin and pytest re-parses
    and assertion-rewrites each of the plugin's modules (a pytest11 plugin's package is
    rewritten) on every run: measured as most of the start-up gap and a visible share
    (``ast.parse``, ``_rewrite_test``: 11% of samples) of a live run. Users' runs write
    bytecode, so the benchmark does too."""
    env = dict(os.environ)
    env.update(GATEWAY_ENV)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def run(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300.0,
    check: bool = True,
) -> Run:
    """Run ``cmd`` and return its wall time, exit code, peak RSS (of that child alone, from
    ``wait4``) and combined output. Kills it after ``timeout`` seconds."""
    with tempfile.TemporaryFile(mode="w+b") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=env or child_env(), stdout=out, stderr=subprocess.STDOUT
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    result = Run(seconds, proc.returncode, usage.ru_maxrss / 1024.0, text, cpu)
    if check and result.returncode != 0:
        tail = "\n".join(text.splitlines()[-30:])
        raise SystemExit(
            f"benchmark child failed (exit {result.returncode}, {seconds:.1f} s): "
            f"{' '.join(cmd)}\n--- last lines of its output ---\n{tail}"
        )
    return result


def pytest_cmd(*args: str) -> list[str]:
    """``python -m pytest -q <args>`` with the benchmark's interpreter."""
    return [PYTHON, "-m", "pytest", "-q", *args]


def median_s(runs: Sequence[Run]) -> float:
    """Median wall time in seconds."""
    return statistics.median(r.seconds for r in runs)


def median_cpu_s(runs: Sequence[Run]) -> float:
    """Median CPU seconds (user + sys) of the child and its reaped children."""
    return statistics.median(r.cpu_s for r in runs)


def max_rss_mb(runs: Sequence[Run]) -> float:
    """Largest peak RSS in MB over the runs."""
    return max(r.maxrss_mb for r in runs)


@contextmanager
def project(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary project directory with the shared pytest.ini."""
    root = Path(tempfile.mkdtemp(prefix=f"cfgw-bench-{prefix}-"))
    (root / "pytest.ini").write_text(PYTEST_INI)
    try:
        yield root
    finally:
        if keep:
            print(f"(kept {root})")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def write_plain_suite(root: Path, n: int) -> Path:
    """``test_plain.py``: ``n`` parametrized ``assert True`` tests."""
    path = root / "test_plain.py"
    path.write_text(
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('i', range({n}))\n"
        "def test_trivial(i):\n"
        "    assert True\n"
    )
    return path


def write_syrupy_suite(root: Path, n: int) -> Path:
    """``test_syrupy.py``: ``n`` parametrized tests that each assert one small syrupy
    snapshot (one file per test, like the plugin's cassettes); record it with
    ``--snapshot-update`` first."""
    path = root / "test_syrupy.py"
    path.write_text(
        "import pytest\n"
        "from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode\n\n\n"
        "class Text(SingleFileSnapshotExtension):\n"
        "    file_extension = 'txt'\n"
        "    _write_mode = WriteMode.TEXT\n\n\n"
        f"@pytest.mark.parametrize('i', range({n}))\n"
        "def test_snap(i, snapshot):\n"
        "    assert snapshot(extension_class=Text) == f'answer {i}'\n"
    )
    return path


def write_eval_config(root: Path, n: int) -> Path:
    """``promptfooconfig.yaml``: 1 prompt x ``openai:gpt-4o-mini`` x ``n`` tests, each with
    one ``contains`` assertion (the emulator echoes the prompt, so every case passes)."""
    lines = [
        "description: benchmark",
        "prompts:",
        "  - 'Repeat after me: {{word}}'",
        "providers:",
        "  - openai:gpt-4o-mini",
        "tests:",
    ]
    for i in range(n):
        lines += [
            f"  - vars: {{word: w{i}}}",
            "    assert:",
            "      - type: contains",
            f"        value: w{i}",
        ]
    path = root / "promptfooconfig.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


_URL = re.compile(r"listening on (http://\S+)")


@contextmanager
def emulator(latency_ms: float = 0.0, extra: Sequence[str] = ()) -> Iterator[str]:
    """Run the gateway emulator in its own process (so it does not share a GIL with what is
    measured) on a free port; yield its gateway base URL. ``extra``: more CLI flags."""
    cmd = [
        PYTHON,
        "-m",
        "pytest_cfgateway.emulator",
        "--port",
        "0",
        "--latency-ms",
        str(latency_ms),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        seen: list[str] = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = _URL.search(line)
            if match:
                url = match.group(1)
        if url is None:
            raise SystemExit("the gateway emulator did not start:\n" + "".join(seen))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned plain-text (and Markdown-compatible) table."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def count_passed(output: str) -> int:
    """The ``N passed`` figure of pytest's last line (0 when absent)."""
    match = re.search(r"(\d+) passed", output)
    return int(match.group(1)) if match else 0


def expect_passed(r: Run, n: int, what: str) -> None:
    """Fail loudly when a run did not pass all ``n`` items (a benchmark of a broken run is
    meaningless)."""
    got = count_passed(r.output)
    if got != n:
        tail = "\n".join(r.output.splitlines()[-15:])
        raise SystemExit(f"{what}: expected {n} passed, got {got}\n{tail}")
