"""Ahead-of-time scheduling of config items' gateway calls.

pytest runs items one by one. Left alone, a live run of N cases would take N x latency. So
when the run starts, the scheduler renders every selected config item and starts the calls
it will need on the gateway's background event loop, with at most ``--cf-concurrency`` in
flight. When pytest reaches an item, the item's recorder takes its prefetched answer (it goes
through the same recorder, snapshot and assertion path as any call) instead of calling again.

What is prefetched:
- ``live`` and ``refresh`` modes: every gateway call a config item will make.
- ``record`` mode: only calls whose fingerprint is missing from the item's stored cassette.
- ``replay`` mode: nothing, since the answers are on disk.

Grader calls depend on the answer, so they are made when the item runs.

Under xdist every worker collects every item, but the controller hands each worker its items
a batch at a time, so a worker that scheduled only its own queue would starve the pipeline.
Instead, when the run starts, worker k of n schedules every n-th selected item from the k-th
(`begin`): together the workers start every call of the run at once, each with its share of
``--cf-concurrency``, and an item whose call another worker made takes that worker's answer
from the run's ledger (as does an item the controller moved to another worker). A worker
whose place is unknown (a replacement for a crashed worker) schedules the items waiting in
its own queue before each item instead (`lookahead`).

Limits: each call goes through `budget.Budget.call`, which claims it in the run's ledger (an
item claimed by another xdist worker is not scheduled here: when it runs, it waits for that
worker's answer, so no call is made twice), reserves room under ``--cf-max-cost`` and takes
one of the run's ``--cf-concurrency`` places.

Per config, as promptfoo: ``evaluateOptions.maxConcurrency`` lowers the number of that
config's calls in flight (never above ``--cf-concurrency``); ``evaluateOptions.delay`` and a
provider's ``delay`` (ms) make its calls go one at a time with that pause before each.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

from .budget import claim_key, price
from .hooks import before_each
from .render import remember_render, remember_render_failure, render_case
from .state import RunState

if TYPE_CHECKING:
    import concurrent.futures

    from ..gateway.client import Gateway
    from ..gateway.types import PreparedRequest, RawResponse


_KEY = pytest.StashKey["Prefetcher"]()
#: ``--cf-http-process auto``: a worker process for the HTTP exchanges from this many
#: scheduled calls on (below it, its start-up costs more CPU than it saves)
HTTP_PROCESS_MIN_CALLS = 32


class Prefetcher:
    def __init__(self, runtime: RunState) -> None:
        self._runtime = runtime
        self._futures: dict[tuple[str, str], concurrent.futures.Future[RawResponse]] = {}
        self._planned: set[str] = set()
        self._sems: dict[Any, Any] = {}  # loop -> {lane: Semaphore}
        self._worker_queue: Any = None
        #: this process's part of --cf-concurrency (its share, on an xdist worker)
        self.limit = runtime.settings.concurrency
        #: schedule the xdist queue before each item (a worker that could not take a share)
        self.looks_ahead = False
        #: an xdist worker scheduling its share of every item (others' items included)
        self.shared = False
        self.scheduled = 0
        self._http_process: set[int] = set()  # ids of gateways whose worker was started
        # progress (read by the progress line from pytest's thread; ints, so no lock)
        self.done = 0  # scheduled calls answered (or refused)
        self.in_flight = 0
        self.cache_hits = 0

    @classmethod
    def install(cls, state: RunState) -> Prefetcher:
        prefetcher = state.config.stash[_KEY] = cls(state)
        return prefetcher

    @staticmethod
    def of(config: pytest.Config) -> Prefetcher | None:
        return config.stash.get(_KEY, None)

    @staticmethod
    def on_xdist_worker() -> bool:
        return bool(os.environ.get("PYTEST_XDIST_WORKER"))

    @staticmethod
    def worker_place() -> tuple[int, int] | None:
        """On an xdist worker: (its index, how many workers), from the environment xdist
        gives its workers ("gw1" of 2 -> (1, 2)); None elsewhere, or when the id is not one
        of the first ones (a replacement for a crashed worker is numbered past the count)."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
        if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit()):
            return None
        index, total = int(worker[2:]), int(count)
        return (index, total) if index < total else None

    def begin(self, items: list[Any]) -> None:
        """At the start of the run loop: start the calls of this process's items (every
        selected item; on xdist worker k of n, every n-th from the k-th)."""
        if not self.on_xdist_worker():
            self.start(items)
        else:
            place = self.worker_place()
            if place is None:
                self.looks_ahead = True
            else:
                index, total = place
                self.limit = max(1, self._runtime.settings.concurrency // total)
                self.shared = True
                self.start(items[index::total])
        if not self.looks_ahead:  # (one that looks ahead may still adopt it later)
            self._runtime.drop_http_process()  # spawned ahead, and this run needs none

    def start(self, items: Iterable[Any]) -> None:
        """Render the items and start their calls; items already planned are skipped, so this
        may be called again with more items (no-op in replay mode)."""
        from ..modes import Mode

        runtime = self._runtime
        mode = runtime.settings.mode
        if mode is Mode.REPLAY:
            return
        todo = [
            item
            for item in items
            if getattr(item, "case", None) is not None and item.nodeid not in self._planned
        ]
        if not todo:  # e.g. a suite without config items: the config package stays unloaded
            return
        from ..config.cases import EvalCase

        wanted = runtime.settings.http_process
        http_process = wanted == "on" or (
            wanted == "auto" and len(todo) + self.scheduled >= HTTP_PROCESS_MIN_CALLS
        )
        sems = self._sems
        # calls go to the background loop in batches (one wake-up of its thread each), of
        # 8, 8, 16, 32, ... up to 256: the first ones are in flight at once, the rest follow
        batch: list[tuple[Gateway, tuple[str, str], Any]] = []
        for item in todo:
            if not isinstance(item.case, EvalCase):
                continue
            self._planned.add(item.nodeid)
            job = self._plan(item, record_only_missing=mode is Mode.RECORD)
            if job is None:
                continue
            nodeid, fp, gw, req = job
            key = claim_key(nodeid, fp, 0)
            if not runtime.budget.try_claim(key):
                continue  # another worker has (or had) it; the item takes its answer
            if http_process and id(gw) not in self._http_process:
                self._http_process.add(id(gw))
                spare = runtime.take_http_process()
                if not gw.start_http_process(spare) and spare is not None:
                    spare.close_unattached()
            # submitted as soon as planned: the first calls are in flight while the rest of
            # the plan is still being rendered
            limit, delay_s = self._pacing(item.case)
            lane = (
                (str(item.case.config_path), item.case.provider.id)
                if delay_s
                else (str(item.case.config_path))
            )
            batch.append((gw, (nodeid, fp), self._send(gw, req, key, sems, lane, limit, delay_s)))
            if len(batch) >= min(256, max(8, self.scheduled)):
                self._submit(batch)
        self._submit(batch)

    def _submit(self, batch: list[tuple[Gateway, tuple[str, str], Any]]) -> None:
        """Start a batch of planned calls (per gateway: one wake-up of its loop) and empty it."""
        by_gateway: dict[int, list[tuple[Gateway, tuple[str, str], Any]]] = {}
        for job in batch:
            by_gateway.setdefault(id(job[0]), []).append(job)
        for jobs in by_gateway.values():
            futures = jobs[0][0].submit_many([coro for _, _, coro in jobs])
            for (_, where, _), future in zip(jobs, futures, strict=True):
                self._futures[where] = future
        self.scheduled += len(batch)
        batch.clear()

    def lookahead(self, session: Any, current: Any) -> None:
        """On an xdist worker: schedule the current item and those waiting in the worker's
        queue. The queue is pytest-xdist's own (``WorkerInteractor.torun``); if its shape
        ever changes, the worker simply runs without scheduling ahead."""
        from ..modes import Mode

        if self._runtime.settings.mode is Mode.REPLAY:
            return
        queue = self._worker_queue
        if queue is None:
            for plugin in session.config.pluginmanager.get_plugins():
                if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "torun"):
                    queue = self._worker_queue = plugin.torun
                    break
        pending: list[int] = []
        if queue is not None and hasattr(queue, "lock"):
            with queue.lock() as waiting:
                pending = [i for i in waiting if isinstance(i, int)]
        items = session.items
        self.start([current, *(items[i] for i in pending if 0 <= i < len(items))])

    def _plan(
        self, item: Any, *, record_only_missing: bool
    ) -> tuple[str, str, Gateway, PreparedRequest] | None:
        """The item's main call, or None when it needs none (or cannot be planned: the item
        itself will then report why when it runs)."""
        from ..usercode import UserCodeError

        case = item.case
        if case.provider.route != "gateway" or case.provider_output is not None:
            return None
        if case.register_names:  # its prompt may use outputs of items that have not run yet
            return None
        runtime = self._runtime
        from ..config import ConfigError
        from ..config.extensions import ExtensionHookError, needs

        if self.shared and case.extensions and needs(case.extensions, "beforeEach"):
            return None  # its beforeEach runs once, on the worker that runs the item

        try:
            before_each(item)  # once per item: the item's setup does not run it again
        except (ConfigError, ExtensionHookError) as exc:
            remember_render_failure(item, exc)
            return None
        case = item.case  # as the beforeEach hooks left it
        try:
            prepared = render_case(case, runtime.env)
            remember_render(item, prepared)  # the item's setup will not render again
            _, adapters = runtime.registries(item.path, item.ihook)
            gw = runtime.gateway(adapters)
            options = {**case.provider.config, **case.prompt.config}
            req = gw.prepare(
                case.provider.gateway_id, prepared.messages, repeat=case.repeat_index, **options
            )
            prepared.request = req
            fp = gw.fingerprint(req)
            if record_only_missing:
                from ..snapshots import stored_cassette  # (not before a live run's first call)

                stored = stored_cassette(item)
                if stored is not None and stored.get(fp, 0) is not None:
                    return None
        except UserCodeError as exc:  # e.g. a transformVars that timed out: never run it twice
            remember_render_failure(item, exc)
            return None
        except Exception:
            return None  # anything: the item reports it itself, with context, when it runs
        return item.nodeid, fp, gw, req

    def _pacing(self, case: Any) -> tuple[int, float]:
        """(calls in flight, pause before each call in seconds) for a case's config/provider."""
        options = case.evaluate_options or {}
        limit = self.limit
        if options.get("maxConcurrency"):
            share = (
                int(options["maxConcurrency"]) * self.limit // self._runtime.settings.concurrency
            )
            limit = max(1, min(limit, share))
        delay_ms = max(int(options.get("delay") or 0), int(case.provider.delay_ms or 0))
        if delay_ms > 0:
            return 1, delay_ms / 1000  # promptfoo: a delay means one call at a time
        return limit, 0.0

    async def _send(
        self,
        gw: Gateway,
        req: PreparedRequest,
        key: str,
        sems: dict[Any, Any],
        lane: Any,
        limit: int,
        delay_s: float,
    ) -> RawResponse:
        import asyncio  # here: a suite without config items never loads asyncio for this

        # semaphores are created on the background loop they are used on, one set per loop:
        # when the background loop is replaced mid-run (stopped by a Gateway's owner and
        # started again), a semaphore of the old loop must not be awaited on the new one
        # ("bound to a different event loop" once it has waiters). The global one bounds
        # everything, the lane's one the config (or the delayed provider).
        sems = sems.setdefault(asyncio.get_running_loop(), {})
        overall = sems.get(None)
        if overall is None:
            overall = sems[None] = asyncio.Semaphore(self.limit)
        own = sems.get(lane)
        if own is None:
            own = sems[lane] = asyncio.Semaphore(limit)
        async with own, overall:
            if delay_s:
                await asyncio.sleep(delay_s)
            self.in_flight += 1
            try:
                raw: RawResponse = await self._runtime.budget.call(
                    key, lambda: gw.asend(req), lambda r: price(gw, req, r), claimed=True
                )
            finally:
                self.in_flight -= 1
                self.done += 1
            if (raw.headers.get("cf-aig-cache-status") or "").upper() == "HIT":
                self.cache_hits += 1
            return raw

    def take(self, nodeid: str, fingerprint: str) -> concurrent.futures.Future[RawResponse] | None:
        return self._futures.pop((nodeid, fingerprint), None)

    def finish(self, *, interrupted: bool) -> None:
        """The run loop ended. An xdist worker that ran all its items lets the calls it
        started for other workers' items end first (they wait for them through the ledger;
        cancelled, a call in flight would be made again by them); then what is left is
        dropped (`cancel`)."""
        import concurrent.futures

        pending = set(self._futures.values())
        if not interrupted and self.on_xdist_worker():
            window = self._runtime.settings.timeout
            while pending:  # until done, or nothing ended within one call's time limit
                done, pending = concurrent.futures.wait(pending, timeout=window)
                if not done:
                    break
        self.cancel()

    def cancel(self) -> None:
        """Drop what was not used (deselected at run time, -x, interrupted runs)."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
