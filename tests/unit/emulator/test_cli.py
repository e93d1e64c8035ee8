"""The command line: --help, argument errors, and a real start/stop as a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pytest_cfgateway.emulator.__main__ import build_parser, settings_from_args

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_cfgateway.emulator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_help() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for flag in (
        "--port",
        "--latency-ms",
        "--error-rate",
        "--token",
        "--gateways",
        "--rules",
        "--byok",
        "--rate-limit",
        "--rate-limit-technique",
        "--cache-ttl",
    ):
        assert flag in out.stdout


def test_settings_from_args() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "--byok",
            "openai=sk-1",
            "--byok",
            "anthropic:prod=a-2",
            "--valid-key",
            "openai=sk-1",
            "--fail-next",
            "429, drop",
            "--rate-limit",
            "10/60",
            "--gateways",
            "a/g,a/h",
        ]
    )
    s = settings_from_args(args, parser)
    assert s["byok"] == {"openai": {"default": "sk-1"}, "anthropic": {"prod": "a-2"}}
    assert s["valid_keys"] == {"openai": {"sk-1"}}
    assert s["fail_next"] == ["429", "drop"] and s["rate_limit"] == "10/60"


def test_bad_arguments_exit_2_with_a_message() -> None:
    out = run_cli("--port", "0", "--rate-limit", "lots")
    assert out.returncode == 2 and "rate_limit" in out.stderr
    out = run_cli("--port", "0", "--byok", "openai")
    assert out.returncode == 2 and "PROVIDER=KEY" in out.stderr
    out = run_cli("--port", "0", "--token-env", "CFG_EMU_SURELY_UNSET_VAR")
    assert out.returncode == 2 and "not set" in out.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_real_start_serve_and_stop(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {match: ping, reply: pong}\n")
    env = {**os.environ, "EMU_TEST_TOKEN": "tok-abcdef"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_cfgateway.emulator",
            "--port",
            "0",
            "--rules",
            str(rules),
            "--token-env",
            "EMU_TEST_TOKEN",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert m, line
        url = m.group(1)
        r = httpx.post(
            f"{url}/a/g/openai/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "ping"}]},
            headers={"Authorization": "Bearer k", "cf-aig-authorization": "Bearer tok-abcdef"},
            timeout=5,
        )
        assert r.json()["choices"][0]["message"]["content"] == "pong"
        assert (
            httpx.post(f"{url}/a/g/openai/chat/completions", json={}, timeout=5).status_code == 401
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "stopped" in out
        assert "tok-abcdef" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
