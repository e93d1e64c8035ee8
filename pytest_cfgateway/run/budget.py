"""The run's limits on live calls: ``--cf-max-cost``, ``--cf-concurrency``, 429 pauses, and
one call per test request, kept in the session `Ledger` shared by every xdist worker.

`Budget.call` is the one way a live call of a test goes out: claim it (or take the answer
another process got for it), reserve room in the budget, send, settle the cost, store the
answer for anyone waiting. In replay mode nothing calls, so there is no ledger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from .ledger import Ledger, LocalLedger
    from .settings import Settings

#: the key of ``workerinput`` that carries the ledger's path to xdist workers
WORKERINPUT_KEY = "cfgateway_ledger"


def claim_key(nodeid: str, fingerprint: str, occurrence: int) -> str:
    """The ledger key of a test's call: its nth request with this fingerprint."""
    return f"{nodeid}\x00{fingerprint}\x00{occurrence}"


def price(gateway: Any, req: Any, raw: Any) -> float | None:
    """The estimated cost of a live reply (None: an error, or no price known)."""
    if not 200 <= raw.status < 300:
        return None
    from ..gateway.errors import GatewayError

    try:
        cost: float | None = gateway.finish(req, raw).cost
    except GatewayError:
        return None  # a malformed reply: the test that gets it reports the error itself
    return cost


class Budget:
    def __init__(
        self, limit: float | None, ledger: Ledger | LocalLedger | None, *, owns: bool
    ) -> None:
        self.limit = limit
        self.ledger = ledger
        self._owns = owns

    @classmethod
    def for_config(cls, config: pytest.Config, settings: Settings) -> Budget:
        """The run's ledger: made by the process that starts the run (if it may call the
        network), in memory until xdist workers start (`hand_to` then moves it to a SQLite
        file), opened by xdist workers from ``workerinput``."""
        workerinput = getattr(config, "workerinput", None)
        path = (workerinput or {}).get(WORKERINPUT_KEY)
        if path or (workerinput is None and settings.mode.calls_network):
            from .ledger import Ledger  # sqlite3 and asyncio: only for runs that call
        if path:
            from pathlib import Path

            ledger = Ledger(
                Path(path), concurrency=settings.concurrency, max_cost=settings.max_cost
            )
            return cls(settings.max_cost, ledger, owns=False)
        if workerinput is None and settings.mode.calls_network:
            from .ledger import LocalLedger

            local = LocalLedger(concurrency=settings.concurrency, max_cost=settings.max_cost)
            return cls(settings.max_cost, local, owns=True)
        return cls(settings.max_cost, None, owns=False)

    @property
    def spent(self) -> float:
        return self.ledger.spent() if self.ledger is not None else 0.0

    def _refused(self, spent: float) -> Exception:
        from ..gateway.errors import BudgetExceededError

        return BudgetExceededError(
            f"--cf-max-cost {self.limit:g}: the estimated spend is ${spent:.4f} and the next "
            "call could pass the budget, so no new live calls are made; raise the budget or "
            "record fewer cases"
        )

    def try_claim(self, key: str) -> bool:
        """The scheduler's claim: True when this process may make the call."""
        return self.ledger is None or self.ledger.try_claim(key)

    async def call(
        self,
        key: str,
        send: Callable[[], Awaitable[Any]],
        cost_of: Callable[[Any], float | None],
        *,
        claimed: bool = False,
    ) -> Any:
        """Make the call of ``key`` once in the run: the answer another process got for it,
        or ``send()`` within the budget (``cost_of(raw)`` prices it)."""
        ledger = self.ledger
        if ledger is None:
            return await send()
        from .ledger import Answer, BudgetRefused

        if not claimed:
            answer = await ledger.claim(key)
            if answer is not None:
                from ..gateway.types import RawResponse

                return RawResponse(
                    status=answer.status,
                    headers=dict(answer.headers),
                    body=answer.body,
                    latency_ms=answer.latency_ms,
                )
        try:
            token = await ledger.reserve()
        except BudgetRefused as exc:
            ledger.release(key)
            raise self._refused(float(exc.args[0])) from None
        cost: float | None = None
        try:
            raw = await send()
            cost = cost_of(raw)
        except BaseException:
            ledger.settle(token, None)
            ledger.release(key)
            raise
        ledger.settle_done(
            token,
            cost,
            key,
            Answer(
                status=raw.status,
                headers=dict(raw.headers),
                body=raw.body,
                latency_ms=float(raw.latency_ms),
            ),
        )
        return raw

    # the Gateway's pacer: the ledger's places in flight and 429 pauses ------------------

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        assert self.ledger is not None
        return self.ledger.slot()

    async def before_attempt(self) -> None:
        if self.ledger is not None:
            await self.ledger.before_attempt()

    def rate_limited(self, wait_s: float) -> None:
        if self.ledger is not None:
            self.ledger.rate_limited(wait_s)

    def hand_to(self, workerinput: dict[str, Any]) -> None:
        """Give an xdist worker the ledger's path (the first time, the in-memory ledger of
        the process that started the run becomes a SQLite file every worker opens)."""
        ledger = self.ledger
        if ledger is None:
            return
        if ledger.path is None:
            from .ledger import Ledger

            if ledger.spent() or ledger.in_use():
                # the xdist controller makes no calls before its workers start: if this
                # ever changes, what it holds would have to move into the file too
                raise RuntimeError("pytest-cfgateway: the run's ledger was used before xdist")
            ledger = self.ledger = Ledger.create(
                concurrency=ledger.concurrency, max_cost=ledger.max_cost
            )
        workerinput[WORKERINPUT_KEY] = str(ledger.path)

    def close(self) -> None:
        if self.ledger is None:
            return
        if self._owns:
            self.ledger.remove()
        else:
            self.ledger.close()
