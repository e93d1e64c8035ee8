"""The Python API: start/stop, URLs, cheap import, missing-dependency message."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator, EmulatorDependencyError


def test_start_stop_context_manager_and_url() -> None:
    emu = Emulator(latency_ms=0, token="t", gateways="acct/gw")
    assert not emu.running
    with emu:
        assert emu.running and emu.url == f"http://127.0.0.1:{emu.port}/v1"
        assert emu.port > 0
        r = httpx.post(f"{emu.url}/acct/gw/openai/chat/completions", json={}, timeout=5)
        assert r.json()["internalCode"] == 2009
    assert not emu.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.base_url}/_emulator/health", timeout=2)


def test_reset_restores_constructor_settings() -> None:
    emu = Emulator(latency_ms=5, token="t", cache_ttl=60)
    emu.latency_ms = 100
    emu.token = None
    emu.faults.fail_next = [503]
    emu.reset()
    assert (emu.latency_ms, emu.token, emu.cache_ttl, emu.faults.fail_next) == (5, "t", 60, [])


def test_importing_the_package_is_cheap() -> None:
    code = (
        "import sys, pytest_cfgateway.emulator as e; "
        "assert not {'starlette', 'uvicorn'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_missing_starlette_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_cfgateway.emulator.app import build_app

    monkeypatch.setitem(sys.modules, "starlette.requests", None)
    with pytest.raises(
        EmulatorDependencyError, match=r"pip install 'pytest-cfgateway\[emulator\]'"
    ):
        build_app(Emulator())
