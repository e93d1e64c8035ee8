"""Under xdist the run's limits hold for the whole run: one gateway call per item whatever the
--dist mode (an item moved to another worker takes the answer of the worker that called),
--cf-concurrency and --cf-max-cost across workers. Counted at the emulator."""

from __future__ import annotations

import collections

import pytest

from .test_scheduler import CONFIG, _max_in_flight

ARGS = ("--cf-config", "promptfooconfig.yaml", "-p", "xdist", "-n", "2", "--cf-mode", "live")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(CONFIG)
    return pytester


@pytest.mark.parametrize("dist", ["load", "loadscope", "loadfile", "worksteal"])
def test_one_call_per_item_under_every_dist_mode(project, emu, keyed_env, dist):
    emu.latency_ms = 40
    result = project.runpytest_subprocess(*ARGS, "--dist", dist, "--cf-gateway-url", emu.url)
    result.assert_outcomes(passed=8)
    asked = collections.Counter(r.body["messages"][0]["content"] for r in emu.requests)
    assert asked == {x: 1 for x in ("a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8")}


def test_concurrency_is_for_the_whole_run(project, emu, keyed_env):
    emu.latency_ms = 300  # long enough that two workers' calls would overlap
    result = project.runpytest_subprocess(
        *ARGS, "--dist", "load", "--cf-concurrency", "1", "--cf-gateway-url", emu.url
    )
    result.assert_outcomes(passed=8)
    assert len(emu.requests) == 8
    assert _max_in_flight(emu.requests) == 1  # two workers, yet one call at a time


def test_max_cost_is_for_the_whole_run(project, emu, keyed_env):
    # the first answer costs more than the budget: no other call starts, on any worker
    result = project.runpytest_subprocess(
        *ARGS, "--dist", "load", "--cf-max-cost", "0.0000001", "--cf-gateway-url", emu.url, "-rs"
    )
    result.assert_outcomes(passed=1, skipped=7)
    assert len(emu.requests) == 1
    assert "--cf-max-cost" in result.stdout.str()


def test_an_item_run_by_two_workers_is_called_once(project, emu, keyed_env):
    """``--dist each`` runs every item on both workers: the second takes the first's answer
    from the run's ledger (what happens to an item moved to another worker after the first
    one started its call)."""
    emu.latency_ms = 40
    result = project.runpytest_subprocess(*ARGS, "--dist", "each", "--cf-gateway-url", emu.url)
    result.assert_outcomes(passed=16)
    asked = collections.Counter(r.body["messages"][0]["content"] for r in emu.requests)
    assert asked == {x: 1 for x in ("a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8")}


SCHEDULED_PER_WORKER = """
import os


def pytest_sessionfinish(session):
    from pytest_cfgateway.run.schedule import Prefetcher

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    prefetcher = Prefetcher.of(session.config)
    if worker and prefetcher is not None:
        (session.config.rootpath / f"scheduled-{worker}.txt").write_text(str(prefetcher.scheduled))
"""


@pytest.mark.parametrize("dist", ["load", "loadfile"])
def test_workers_schedule_their_share_of_every_item_at_the_start(project, emu, keyed_env, dist):
    """Each worker starts the calls of every other item when the run starts, whichever
    worker will run them (with loadfile one worker runs them all), so the run's calls are
    all under way from the start; each is made once, and an item of the other worker's
    share takes that worker's answer from the ledger."""
    project.makeconftest(SCHEDULED_PER_WORKER)
    emu.latency_ms = 200
    result = project.runpytest_subprocess(*ARGS, "--dist", dist, "--cf-gateway-url", emu.url)
    result.assert_outcomes(passed=8)
    asked = collections.Counter(r.body["messages"][0]["content"] for r in emu.requests)
    assert asked == {x: 1 for x in ("a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8")}
    scheduled = {p.name: int(p.read_text()) for p in project.path.glob("scheduled-*.txt")}
    # each scheduled its share at the start (with loadfile, the worker that runs no item
    # has no queue at all). A worker that starts late on a loaded machine may find an item
    # of its share claimed already by the other, which then made that call as the item ran
    # (4 + 4 on a quiet machine; once 3 + 4 at load 13).
    assert sorted(scheduled) == ["scheduled-gw0.txt", "scheduled-gw1.txt"]
    assert all(2 <= n <= 4 for n in scheduled.values()), scheduled
