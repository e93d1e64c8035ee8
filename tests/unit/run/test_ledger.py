"""The session ledger: claims, answers, crash take-over, budget reservations, slots, pauses.
Several processes are simulated with several Ledger objects on one file (and a real child
process for the crash case)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from pytest_cfgateway.run.budget import WORKERINPUT_KEY, Budget
from pytest_cfgateway.run.ledger import Answer, BudgetRefused, Ledger, LocalLedger


def _open(path: Path, **kw: object) -> Ledger:
    return Ledger(path, concurrency=int(kw.get("concurrency", 8)), max_cost=kw.get("max_cost"))  # type: ignore[arg-type]


@pytest.fixture
def ledger() -> Ledger:
    made = Ledger.create(concurrency=2, max_cost=None)
    yield made
    made.remove()
    assert not made.path.parent.exists()


def test_a_claimed_call_is_answered_from_the_ledger(ledger: Ledger) -> None:
    other = _open(ledger.path)
    assert asyncio.run(ledger.claim("k")) is None  # mine: make the call
    assert not other.try_claim("k")

    async def wait_then_answer() -> Answer | None:
        waiting = asyncio.ensure_future(other.claim("k"))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # the claimant is alive: wait
        ledger.done("k", Answer(200, {"x": "1"}, {"ok": True}, 12.5))
        return await waiting

    assert asyncio.run(wait_then_answer()) == Answer(200, {"x": "1"}, {"ok": True}, 12.5)
    other.close()


def test_a_released_claim_goes_to_the_next_caller(ledger: Ledger) -> None:
    other = _open(ledger.path)
    assert ledger.try_claim("k")
    ledger.release("k")
    assert asyncio.run(other.claim("k")) is None
    other.close()


def _claim_and_die(path: str) -> None:
    Ledger(Path(path), concurrency=1, max_cost=None).try_claim("k")
    os._exit(0)  # a worker that crashed after claiming


def test_the_claim_of_a_dead_process_is_taken_over(ledger: Ledger) -> None:
    child = multiprocessing.get_context("spawn").Process(
        target=_claim_and_die, args=(str(ledger.path),)
    )
    child.start()
    child.join()
    assert asyncio.run(asyncio.wait_for(ledger.claim("k"), 5)) is None


def test_budget_reserves_before_calls_so_concurrent_calls_cannot_overshoot(tmp_path: Path) -> None:
    first = Ledger.create(concurrency=8, max_cost=1.0)
    second = _open(first.path, max_cost=1.0)

    async def scenario() -> None:
        token = await first.reserve()  # no cost known yet: one call at a time
        waiting = asyncio.ensure_future(second.reserve())
        await asyncio.sleep(0.1)
        assert not waiting.done()
        first.settle(token, 0.4)  # the largest call so far: 0.4
        second_token = await waiting
        # spent 0.4 + reserved 0.4 + the next estimate 0.4 > 1.0: the third waits, then
        # is refused once nothing in flight can make room
        third = asyncio.ensure_future(first.reserve())
        await asyncio.sleep(0.1)
        assert not third.done()
        second.settle(second_token, 0.4)
        with pytest.raises(BudgetRefused):
            await third
        assert first.spent() == pytest.approx(0.8)

    asyncio.run(scenario())
    second.close()
    first.remove()


def test_slots_bound_calls_in_flight_across_processes(ledger: Ledger) -> None:
    other = _open(ledger.path, concurrency=2)
    in_flight = 0
    peak = 0

    async def call(ledger_: Ledger) -> None:
        nonlocal in_flight, peak
        async with ledger_.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    async def scenario() -> None:
        await asyncio.gather(*(call(ledger if i % 2 else other) for i in range(6)))

    asyncio.run(scenario())
    assert peak == 2
    other.close()


def test_a_429_pauses_every_process(ledger: Ledger) -> None:
    other = _open(ledger.path)
    ledger.rate_limited(0.3)
    start = time.monotonic()
    asyncio.run(other.before_attempt())
    assert time.monotonic() - start >= 0.25
    other.close()


# the in-memory ledger of a run of one process: the same rules ---------------------------


def test_local_ledger_answers_a_pending_claim_once_it_is_done() -> None:
    local = LocalLedger(concurrency=2, max_cost=None)

    async def scenario() -> Answer | None:
        assert await local.claim("k") is None  # mine: make the call
        assert not local.try_claim("k")
        waiting = asyncio.ensure_future(local.claim("k"))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # the call is in flight: wait
        local.done("k", Answer(200, {"x": "1"}, {"ok": True}, 12.5))
        return await waiting

    assert asyncio.run(scenario()) == Answer(200, {"x": "1"}, {"ok": True}, 12.5)


def test_local_ledger_gives_a_released_claim_to_the_next_caller() -> None:
    local = LocalLedger(concurrency=2, max_cost=None)
    assert local.try_claim("k")
    local.release("k")
    assert local.try_claim("k")
    local.done("k", Answer(200, {}, "x", 1.0))
    local.release("k")  # a done claim stays done
    assert not local.try_claim("k")


def test_local_ledger_reserves_like_the_shared_one() -> None:
    local = LocalLedger(concurrency=8, max_cost=1.0)

    async def scenario() -> None:
        token = await local.reserve()  # no cost known yet: one call at a time
        waiting = asyncio.ensure_future(local.reserve())
        await asyncio.sleep(0.1)
        assert not waiting.done()
        local.settle(token, 0.4)
        second_token = await waiting
        third = asyncio.ensure_future(local.reserve())
        await asyncio.sleep(0.1)
        assert not third.done()  # 0.4 spent + 0.4 reserved + 0.4 estimate > 1.0
        local.settle(second_token, 0.4)
        with pytest.raises(BudgetRefused):
            await third
        assert local.spent() == pytest.approx(0.8)

    asyncio.run(scenario())


def test_local_ledger_slots_bound_calls_in_flight() -> None:
    local = LocalLedger(concurrency=2, max_cost=None)
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with local.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    async def scenario() -> None:
        await asyncio.gather(*(call() for _ in range(6)))

    asyncio.run(scenario())
    assert peak == 2
    assert not local.in_use()


def test_local_ledger_pauses_after_a_429() -> None:
    local = LocalLedger(concurrency=2, max_cost=None)
    local.rate_limited(0.3)
    start = time.monotonic()
    asyncio.run(local.before_attempt())
    assert time.monotonic() - start >= 0.25


def test_the_budget_moves_its_ledger_to_a_file_when_xdist_workers_start() -> None:
    budget = Budget(None, LocalLedger(concurrency=3, max_cost=0.5), owns=True)
    workerinput: dict[str, object] = {}
    budget.hand_to(workerinput)
    ledger = budget.ledger
    assert isinstance(ledger, Ledger)
    assert workerinput[WORKERINPUT_KEY] == str(ledger.path)
    assert (ledger.concurrency, ledger.max_cost) == (3, 0.5)
    again: dict[str, object] = {}
    budget.hand_to(again)  # the second worker gets the same file
    assert again == workerinput
    budget.close()
    assert not ledger.path.parent.exists()


def test_a_used_local_ledger_is_not_silently_dropped() -> None:
    local = LocalLedger(concurrency=3, max_cost=None)
    assert local.try_claim("k")
    with pytest.raises(RuntimeError, match="used before xdist"):
        Budget(None, local, owns=True).hand_to({})


@pytest.mark.parametrize("shared", [True, False])
def test_settle_done_counts_the_cost_and_stores_the_answer(shared: bool) -> None:
    made = (
        Ledger.create(concurrency=2, max_cost=None)
        if shared
        else LocalLedger(concurrency=2, max_cost=None)
    )
    assert made.try_claim("k")
    token = asyncio.run(made.reserve())
    made.settle_done(token, 0.25, "k", Answer(200, {"a": "b"}, [1], 3.0))
    assert made.spent() == pytest.approx(0.25)
    assert asyncio.run(made.claim("k")) == Answer(200, {"a": "b"}, [1], 3.0)
    made.remove()
