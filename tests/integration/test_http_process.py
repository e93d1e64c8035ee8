"""The HTTP worker process (`gateway/_wire.py`): the Gateway's exchanges made by a child
process against the real emulator, the same on the wire as in-process, and every way it can
fail falling back to this process's own client without losing a call."""

from __future__ import annotations

import os
import signal
import socket
import textwrap
import time
from typing import Any

import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import GatewayTimeoutError

from .test_scheduler import CONFIG  # eight cases: a1 ... h8

PLANTED_KEY = "fake.openai.PLANTED.4444444444"


def _gateway(url: str, **kwargs: Any) -> Gateway:
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("retry_delay", 0.01)
    return Gateway(
        account_id="acct",
        gateway_id="gw",
        base_url=url,
        api_keys={"openai": PLANTED_KEY},
        env={},
        concurrency=4,
        **kwargs,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive: it ended and waits to be reaped
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wire_children(parent: int | None = None) -> list[int]:
    """Live HTTP worker processes whose parent is ``parent`` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[-1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and b"_wire_child" in cmdline:
            found.append(int(entry))
    return found


def _wire(gw: Gateway) -> Any:
    wire = gw._shared.transport.wire
    assert wire is not None
    return wire


def test_the_worker_makes_the_exchanges_and_the_wire_is_the_same(emu: Any) -> None:
    with _gateway(emu.url) as local:
        texts_local = [local.complete("openai:gpt-4o-mini", f"say {i}").text for i in range(3)]
    seen_local = [(r.method, r.path, r.headers, r.body) for r in emu.requests]
    emu.clear()
    with _gateway(emu.url) as gw:
        assert gw.start_http_process()
        assert not gw.start_http_process()  # one worker per transport
        texts = [gw.complete("openai:gpt-4o-mini", f"say {i}").text for i in range(3)]
        wire = _wire(gw)
        assert wire.exchanges == 3 and wire.failure is None
        pid = wire.pid
        assert pid is not None and pid != os.getpid()
    assert texts == texts_local == ["say 0", "say 1", "say 2"]
    seen = [(r.method, r.path, r.headers, r.body) for r in emu.requests]
    assert seen == seen_local  # method, path, every header and the body, byte for byte
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "closing the gateway must end its worker process"


def test_async_calls_on_the_background_loop_use_the_worker(emu: Any) -> None:
    with _gateway(emu.url) as gw:
        gw.start_http_process()
        futures = [gw.submit(gw.acomplete("openai:gpt-4o-mini", f"n{i}")) for i in range(20)]
        assert sorted(f.result(30).text for f in futures) == sorted(f"n{i}" for i in range(20))
        assert _wire(gw).exchanges == 20


def test_an_injected_transport_keeps_its_exchanges_in_process() -> None:
    import httpx

    gw = Gateway(
        account_id="a",
        gateway_id="g",
        api_keys={"openai": PLANTED_KEY},
        env={},
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
    )
    with gw:
        assert not gw.start_http_process()
        assert gw._shared.transport.wire is None


def test_connection_errors_from_the_worker_are_retried_and_named(emu: Any) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with _gateway(f"http://127.0.0.1:{port}/v1") as gw:
        gw.start_http_process()
        with pytest.raises(GatewayTimeoutError) as info:
            gw.complete("openai:gpt-4o-mini", "hi")
        assert "after 3 attempt(s): ConnectError" in str(info.value)
        assert gw.retries == 2
        assert _wire(gw).failure is None  # the worker is fine: the gateway was not


def test_a_dropped_connection_is_retried_through_the_worker(emu: Any) -> None:
    emu.faults.fail_next = ["drop"]
    with _gateway(emu.url) as gw:
        gw.start_http_process()
        assert gw.complete("openai:gpt-4o-mini", "again").text == "again"
        assert gw.retries == 1
        assert _wire(gw).exchanges == 2
        assert [r.fault for r in emu.requests] == ["drop", None]


def test_a_killed_worker_loses_no_call(emu: Any) -> None:
    emu.latency_ms = 300
    with _gateway(emu.url, max_retries=3) as gw:
        gw.start_http_process()
        assert gw.complete("openai:gpt-4o-mini", "first").text == "first"
        wire = _wire(gw)
        pending = [gw.submit(gw.acomplete("openai:gpt-4o-mini", f"p{i}")) for i in range(3)]
        time.sleep(0.1)  # the three are in the worker, waiting for the emulator
        os.kill(wire.pid, signal.SIGKILL)
        # the calls in flight fail over to this process's client (a retry), then succeed
        assert sorted(f.result(30).text for f in pending) == ["p0", "p1", "p2"]
        assert "ended (exit code -9)" in (wire.failure or "")
        assert gw.complete("openai:gpt-4o-mini", "after").text == "after"


def test_a_call_that_times_out_cancels_its_exchange_in_the_worker(emu: Any) -> None:
    emu.faults.slow_ms = 2500
    emu.faults.fail_next = ["slow"]  # only the first answer is slow
    with _gateway(emu.url, timeout=1.0, max_retries=0) as gw:
        gw.start_http_process()
        with pytest.raises(GatewayTimeoutError, match=r"no complete answer within 1 s"):
            gw.complete("openai:gpt-4o-mini", "slow")
        assert gw.complete("openai:gpt-4o-mini", "fast").text == "fast"
        assert _wire(gw).failure is None
    # the emulator logs the abandoned exchange when its own sleep ends: wait for it, so it
    # does not land in the next test's log
    deadline = time.monotonic() + 10
    while len(emu.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_worker_that_cannot_start_falls_back(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "executable", "/nonexistent/python-for-cfgateway-test")
    with _gateway(emu.url) as gw:
        gw.start_http_process()
        assert gw.complete("openai:gpt-4o-mini", "still").text == "still"
        assert "could not start the HTTP worker process" in (_wire(gw).failure or "")


class _Watch:
    """Counts the exchanges the run's worker processes made (read at session end)."""

    def __init__(self) -> None:
        self.exchanges: list[int] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from pytest_cfgateway.run.state import RunState

        state = RunState.get(session.config)
        assert state is not None
        for gw in state.gateway_clients():
            wire = gw._shared.transport.wire
            if wire is not None:
                self.exchanges.append(wire.exchanges)


@pytest.mark.parametrize(
    ("option", "expected"), [("on", [8]), ("off", []), ("auto", [])], ids=["on", "off", "auto"]
)
def test_a_live_run_with_and_without_the_worker(
    pytester: pytest.Pytester, emu: Any, keyed_env: Any, option: str, expected: list[int]
) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    watch = _Watch()
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    result = pytester.runpytest_inprocess(
        *args, "--cf-mode", "record", "--cf-http-process", option, plugins=[watch]
    )
    result.assert_outcomes(passed=8)
    assert watch.exchanges == expected  # auto: 8 calls are below the worker's threshold
    assert _wire_children() == []  # spawned ahead or adopted, it ended with the run
    assert len(emu.requests) == 8
    again = pytester.runpytest("--cf-config", "promptfooconfig.yaml")  # replay offline
    again.assert_outcomes(passed=8)


def test_a_live_run_under_xdist_uses_a_worker_per_process(
    pytester: pytest.Pytester, emu: Any, keyed_env: Any
) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    result = pytester.runpytest_subprocess(
        *args, "--cf-mode", "live", "--cf-http-process", "on", "-n", "2"
    )
    result.assert_outcomes(passed=8)
    asked = sorted(r.body["messages"][0]["content"] for r in emu.requests)
    assert asked == [f"{x}{i}" for i, x in enumerate("abcdefgh", 1)]  # each once


def test_graded_items_with_the_worker_record_and_replay(
    pytester: pytest.Pytester, emu: Any, keyed_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items evaluate in pytest's thread once the worker makes the exchanges: their grader
    and embedding calls (not scheduled) go through this process's own client, and everything
    is recorded with its item and replays offline, as without the worker."""
    from .test_graded_with_emulator import CONFIG as GRADED
    from .test_graded_with_emulator import RULES, assert_replays_offline

    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(GRADED).replace("providers: [echo]", "providers: [openai:gpt-4o-mini]")
    )
    emu.rules = RULES
    watch = _Watch()
    args = ("--cf-config", "promptfooconfig.yaml", "-rA")
    rec = pytester.runpytest_inprocess(
        *args,
        "--cf-mode",
        "record",
        "--cf-gateway-url",
        emu.url,
        "--cf-http-process",
        "on",
        plugins=[watch],
    )
    rec.assert_outcomes(passed=6, failed=1)
    assert watch.exchanges == [7]  # the seven scheduled answers; graders in-process
    assert "/v1/acct/gw/openai/embeddings" in {r.path for r in emu.requests}
    assert_replays_offline(pytester, emu, keyed_env, monkeypatch, args, passed=6, failed=1)


def test_a_killed_pytest_leaves_no_http_worker_behind(
    pytester: pytest.Pytester, emu: Any, keyed_env: Any
) -> None:
    """SIGKILL gives pytest no chance to close anything: the worker sees its stdin close and
    ends by itself (it must not be left running, like the user-code workers' orphans)."""
    import subprocess
    import sys

    emu.latency_ms = 3000  # the run is still waiting for its answers when it is killed
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "pytest", "--cf-config", "promptfooconfig.yaml"),
            *("--cf-gateway-url", emu.url, "--cf-mode", "live", "--cf-http-process", "on"),
        ],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = _wire_children(parent=proc.pid)
        assert workers, "the run never started its HTTP worker"
        time.sleep(0.5)  # its exchanges are under way (the emulator holds them 3 s)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "the HTTP worker outlived its pytest"
    time.sleep(3.2)  # the abandoned calls end on the emulator before the next test
