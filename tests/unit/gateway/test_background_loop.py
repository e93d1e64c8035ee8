"""The background event loop: no unbounded wait, a dead loop thread is reported and replaced."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pytest_cfgateway.gateway.http import BackgroundLoop, BackgroundLoopDied


async def _value(x: int) -> int:
    await asyncio.sleep(0)
    return x


async def _forever() -> None:
    await asyncio.Event().wait()


async def _kill_the_loop() -> None:
    raise SystemExit(0)  # escapes run_forever and ends the loop's thread


def test_run_returns_values_and_errors() -> None:
    bg = BackgroundLoop(name="test-bg")
    try:
        assert bg.run(_value(3)) == 3

        async def boom() -> None:
            raise TimeoutError("from the coroutine")

        with pytest.raises(TimeoutError, match="from the coroutine"):
            bg.run(boom())
    finally:
        bg.stop()


def test_a_dead_loop_is_reported_to_waiters_and_replaced() -> None:
    bg = BackgroundLoop(name="test-bg")
    try:
        waiting = bg.submit(_forever())
        bg.submit(_kill_the_loop())
        with pytest.raises(BackgroundLoopDied, match=r"cause: SystemExit: 0"):
            bg.wait(waiting)
        # the next use starts a fresh loop
        assert bg.run(_value(5)) == 5
    finally:
        bg.stop()


def test_stop_is_bounded_when_the_thread_is_gone() -> None:
    bg = BackgroundLoop(name="test-bg")
    waiting = bg.submit(_forever())
    bg.submit(_kill_the_loop())
    with pytest.raises(BackgroundLoopDied):
        bg.wait(waiting)
    bg.stop()  # returns: nothing waits on a dead thread
    assert not bg.started


def test_submit_many_starts_a_batch_with_outcomes_and_cancellation() -> None:
    import asyncio
    import concurrent.futures

    bg = BackgroundLoop(name="cfgateway-test-batch")
    gate = threading.Event()
    started: list[int] = []

    async def ok(i: int) -> int:
        started.append(i)
        return i * 10

    async def boom() -> int:
        raise ValueError("boom")

    async def slow() -> int:
        await asyncio.sleep(30)
        return -1

    try:
        # cancelled before the loop starts the batch: the coroutine never runs
        blocker = bg.submit(asyncio.to_thread(gate.wait, 10))
        futures = bg.submit_many([ok(1), boom(), slow(), ok(4)])
        assert futures[3].cancel()
        gate.set()
        blocker.result(10)
        assert futures[0].result(10) == 10
        with pytest.raises(ValueError, match="boom"):
            futures[1].result(10)
        assert futures[3].cancelled()
        # cancelling a running one cancels its task on the loop
        assert futures[2].cancel()
        with pytest.raises(concurrent.futures.CancelledError):
            futures[2].result(1)
        assert sorted(started) == [1]
    finally:
        bg.stop()
