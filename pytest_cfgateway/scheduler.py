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

Grader calls depend on the answer, so they are made when the item runs. Under xdist the
controller hands items to workers one batch at a time, so workers do not prefetch: their
parallelism is the number of workers.

Spending: each scheduled call checks ``--cf-max-cost`` right before it goes out, so no new
live call starts once the estimated spend has passed the budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._runtime import Runtime
    from .gateway.client import Gateway
    from .gateway.types import PreparedRequest, RawResponse


class Prefetcher:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._futures: dict[tuple[str, str], concurrent.futures.Future[RawResponse]] = {}
        self.scheduled = 0

    def start(self, items: Iterable[Any]) -> None:
        """Render the items and start their calls (no-op in replay mode and on xdist workers)."""
        from .collect import CaseItem
        from .modes import Mode

        runtime = self._runtime
        mode = runtime.settings.mode
        if mode is Mode.REPLAY or os.environ.get("PYTEST_XDIST_WORKER"):
            return
        sem_holder: dict[str, asyncio.Semaphore] = {}
        for item in items:
            if not isinstance(item, CaseItem):
                continue
            job = self._plan(item, record_only_missing=mode is Mode.RECORD)
            if job is None:
                continue
            nodeid, fp, gw, req = job
            # submitted as soon as planned: the first calls are in flight while the rest of
            # the plan is still being rendered
            self._futures[(nodeid, fp)] = gw.submit(self._send(gw, req, sem_holder))
            self.scheduled += 1

    def _plan(
        self, item: Any, *, record_only_missing: bool
    ) -> tuple[str, str, Gateway, PreparedRequest] | None:
        """The item's main call, or None when it needs none (or cannot be planned: the item
        itself will then report why when it runs)."""
        from .runner import remember_render, render_case
        from .snapshots import CassetteError, stored_cassette

        case = item.case
        if case.provider.route != "gateway" or case.provider_output is not None:
            return None
        runtime = self._runtime
        try:
            prepared = render_case(case, runtime.env)
            remember_render(item, prepared)  # the item's setup will not render again
            _, adapters = runtime.registries(item.path, item.ihook)
            gw = runtime.gateway(adapters)
            options = {**case.provider.config, **case.prompt.config}
            req = gw.prepare(
                case.provider.gateway_id, prepared.messages, repeat=case.repeat_index, **options
            )
            fp = gw.fingerprint(req)
            if record_only_missing:
                stored = stored_cassette(item)
                if stored is not None and stored.get(fp, 0) is not None:
                    return None
        except (CassetteError, ValueError, OSError, LookupError, TypeError):
            return None  # the item reports this itself, with context, when it runs
        return item.nodeid, fp, gw, req

    async def _send(
        self, gw: Gateway, req: PreparedRequest, sem_holder: dict[str, asyncio.Semaphore]
    ) -> RawResponse:
        sem = sem_holder.get("sem")
        if sem is None:  # created on the background loop it is used on
            sem = sem_holder["sem"] = asyncio.Semaphore(self._runtime.settings.concurrency)
        async with sem:
            self._runtime.check_budget()
            return await gw.asend(req)

    def take(self, nodeid: str, fingerprint: str) -> concurrent.futures.Future[RawResponse] | None:
        return self._futures.pop((nodeid, fingerprint), None)

    def cancel(self) -> None:
        """Drop what was not used (deselected at run time, -x, interrupted runs)."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
