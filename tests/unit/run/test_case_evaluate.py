"""`run.case._evaluate`: replay steps an evaluation once outside the event loop, and hands
what is left (anything that waits) to the run's loop, in the same context."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from pytest_cfgateway.modes import Mode
from pytest_cfgateway.run.case import _evaluate

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outside")


class _Settings:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode


class _Config:
    def __init__(self) -> None:
        self.stash = pytest.Stash()


class _Runtime:
    """What `_evaluate` uses of `RunState`: its mode, stash and `run` (here: a loop in this
    thread that counts the coroutines it runs)."""

    def __init__(self, mode: Mode = Mode.REPLAY) -> None:
        self.settings = _Settings(mode)
        self.config = _Config()
        self.loop = asyncio.new_event_loop()
        self.ran: list[str] = []

    def run(self, gw: Any, coro: Any) -> Any:
        self.ran.append(coro.__qualname__)
        return self.loop.run_until_complete(coro)


@pytest.fixture
def runtime() -> Any:
    rt = _Runtime()
    yield rt
    rt.loop.close()


async def _no_wait() -> str:
    assert asyncio.get_running_loop() is not None  # futures and call_later can be made
    token = VAR.set("inside")
    try:
        return f"done {VAR.get()}"
    finally:
        VAR.reset(token)


async def _waits(loop_seen: list[Any]) -> str:
    token = VAR.set("inside")  # reset after the waits: the same context throughout
    try:
        loop = asyncio.get_running_loop()
        loop_seen.append(loop)
        fut = loop.create_future()
        loop.call_later(0.001, fut.set_result, "answer")
        await asyncio.sleep(0)
        got = await fut
        task = asyncio.create_task(asyncio.sleep(0, "task"))
        return f"{got} {await task} {VAR.get()}"
    finally:
        VAR.reset(token)


def test_an_evaluation_that_never_waits_finishes_without_the_loop(runtime: Any) -> None:
    assert _evaluate(runtime, None, _no_wait(), sync_first=True) == "done inside"
    assert _evaluate(runtime, None, _no_wait(), sync_first=True) == "done inside"
    assert runtime.ran == ["_running_loop"]  # once, to learn which loop is the run's
    assert VAR.get() == "outside"  # its context was a copy


def test_what_waits_goes_on_in_the_same_context_on_the_runs_loop(runtime: Any) -> None:
    seen: list[Any] = []
    assert _evaluate(runtime, None, _waits(seen), sync_first=True) == "answer task inside"
    assert seen == [runtime.loop]
    assert runtime.ran == ["_running_loop", "_rest_on_loop"]
    assert VAR.get() == "outside"
    assert asyncio._get_running_loop() is None


def test_errors_come_out_as_they_were_raised(runtime: Any) -> None:
    async def fails_at_once() -> None:
        raise KeyError("now")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("later")

    with pytest.raises(KeyError, match="now"):
        _evaluate(runtime, None, fails_at_once(), sync_first=True)
    with pytest.raises(ValueError, match="later"):
        _evaluate(runtime, None, fails_later(), sync_first=True)
    assert asyncio._get_running_loop() is None


def test_a_timeout_cancels_what_waits(runtime: Any) -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    async def bounded() -> str:
        try:
            await asyncio.wait_for(slow(), 0.01)
        except TimeoutError:
            return "timed out"
        return "finished"

    assert _evaluate(runtime, None, bounded(), sync_first=True) == "timed out"


@pytest.mark.parametrize(("mode", "sync_first"), [(Mode.RECORD, True), (Mode.REPLAY, False)])
def test_other_modes_and_custom_types_run_on_the_loop(mode: Mode, sync_first: bool) -> None:
    rt = _Runtime(mode)
    try:
        assert _evaluate(rt, None, _no_wait(), sync_first=sync_first) == "done inside"
        assert rt.ran == ["_no_wait"]
    finally:
        rt.loop.close()
