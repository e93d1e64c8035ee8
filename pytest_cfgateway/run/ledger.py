"""The session ledger: what every process of one pytest run (the xdist controller and its
workers, or the one process of a serial run) shares about live calls.

It is a SQLite database in WAL mode in a temp directory made by the process that starts the
run; its path reaches xdist workers through ``workerinput``. It holds:

- **claims**: before a test's call goes out, its key (node id, request fingerprint,
  occurrence) is claimed. A process that finds the key claimed by another waits for the
  claimant's answer, which the claimant writes into the ledger, instead of calling again
  (xdist may hand an item that one worker already scheduled to another worker). A claim
  whose owner died is taken over; a claim whose call raised is released.
- **spend**: ``--cf-max-cost`` for the whole run. Each call reserves the largest cost seen
  so far for one call before it starts and settles its actual cost when it ends, so calls
  in flight at once cannot together pass the budget. Until a cost is known, one call at a
  time goes out.
- **slots**: ``--cf-concurrency`` calls in flight for the whole run.
- **pause**: a 429 seen by one process pauses every process's next attempt until its
  ``retry-after`` has passed.

Every operation is one short transaction, so the ledger survives a process crashing at
any point (its slots and claims are freed when its pid is gone). Waiting is polling: this
is about correctness; the performance work may replace it with something faster.
Only processes on one machine share a ledger (xdist's ``--tx ssh`` workers are not).

A run of one process keeps the same ledger in memory (`LocalLedger`: same operations, same
rules, a lock instead of transactions); the SQLite file is made only when xdist workers
start (``Budget.hand_to``). Per call that saves six SQLite transactions and a JSON copy of
the answer (bench/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

_POLL_S = 0.02
_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, owner INTEGER NOT NULL, status TEXT NOT NULL, answer TEXT
);
CREATE TABLE IF NOT EXISTS slots (id INTEGER PRIMARY KEY AUTOINCREMENT, owner INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, owner INTEGER NOT NULL, amount REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    spent REAL NOT NULL, max_call REAL, pause_until REAL NOT NULL
);
INSERT OR IGNORE INTO totals (id, spent, max_call, pause_until) VALUES (0, 0.0, NULL, 0.0);
"""


class BudgetRefused(Exception):
    """The budget has no room for another call."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """A finished call's response as stored in the ledger (plain data)."""

    status: int
    headers: dict[str, str]
    body: Any
    latency_ms: float


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class _Waiting:
    """What both ledgers do the same way over their own `_claim` and `_try_reserve`: take a
    claim or a reservation now, else poll until the other holder is done."""

    def _claim(self, key: str) -> str | Answer:
        raise NotImplementedError

    def _try_reserve(self) -> int | str:
        raise NotImplementedError

    def spent(self) -> float:
        raise NotImplementedError

    def try_claim(self, key: str) -> bool:
        """Claim ``key`` if nobody has (the scheduler: never waits)."""
        return self._claim(key) == "mine"

    async def claim(self, key: str) -> Answer | None:
        """Claim ``key``: None when this caller must make the call, else the answer the
        caller that made it stored (waiting for it while that caller is alive)."""
        while True:
            state = self._claim(key)
            if state == "mine":
                return None
            if isinstance(state, Answer):
                return state
            await asyncio.sleep(_POLL_S)

    async def reserve(self) -> int:
        """Reserve room for one call under ``--cf-max-cost`` (waiting while calls in flight
        may leave room); raise BudgetRefused when there is none."""
        while True:
            state = self._try_reserve()
            if state == "refuse":
                raise BudgetRefused(self.spent())
            if isinstance(state, int):
                return state
            await asyncio.sleep(_POLL_S)


class Ledger(_Waiting):
    def __init__(self, path: Path, *, concurrency: int, max_cost: float | None) -> None:
        self.path = path
        self.concurrency = concurrency
        self.max_cost = max_cost
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path), timeout=60, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    # making and opening ---------------------------------------------------------------

    @classmethod
    def create(cls, *, concurrency: int, max_cost: float | None) -> Ledger:
        """A new ledger in a new temp directory (the process that starts the run)."""
        directory = Path(tempfile.mkdtemp(prefix="cfgateway-ledger-"))
        return cls(directory / "ledger.sqlite3", concurrency=concurrency, max_cost=max_cost)

    def remove(self) -> None:
        """Close and delete the ledger and its directory (the process that made it)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _reap(self, db: sqlite3.Connection) -> None:
        """Free what dead processes held."""
        owners = {
            row[0]
            for table in ("slots", "reservations", "claims")
            for row in db.execute(f"SELECT DISTINCT owner FROM {table}")
        }
        for owner in owners:
            if not _alive(owner):
                db.execute("DELETE FROM slots WHERE owner = ?", (owner,))
                db.execute("DELETE FROM reservations WHERE owner = ?", (owner,))
                db.execute("DELETE FROM claims WHERE owner = ? AND status = 'pending'", (owner,))

    # claims ----------------------------------------------------------------------------

    def _claim(self, key: str) -> str | Answer:
        """ "mine" (go ahead and call), "wait" (another process is calling), or its Answer."""
        with self._txn() as db:
            row = db.execute("SELECT owner, status, answer FROM claims WHERE key = ?", (key,))
            found = row.fetchone()
            if found is None:
                db.execute(
                    "INSERT INTO claims (key, owner, status) VALUES (?, ?, 'pending')",
                    (key, self._pid),
                )
                return "mine"
            owner, status, answer = found
            if status == "done":
                return Answer(**json.loads(answer))
            if not _alive(owner):
                db.execute("UPDATE claims SET owner = ? WHERE key = ?", (self._pid, key))
                return "mine"
            return "wait"

    def done(self, key: str, answer: Answer) -> None:
        data = json.dumps(dataclasses.asdict(answer), ensure_ascii=False)
        with self._txn() as db:
            db.execute("UPDATE claims SET status = 'done', answer = ? WHERE key = ?", (data, key))

    def release(self, key: str) -> None:
        """The claimant's call raised: let the next one who needs it call."""
        with self._txn() as db:
            db.execute("DELETE FROM claims WHERE key = ? AND status = 'pending'", (key,))

    # concurrency and 429 pauses --------------------------------------------------------

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the run's ``--cf-concurrency`` places for a call in flight."""
        slot_id = None
        while slot_id is None:
            with self._txn() as db:
                (busy,) = db.execute("SELECT COUNT(*) FROM slots").fetchone()
                if busy >= self.concurrency:
                    self._reap(db)
                    (busy,) = db.execute("SELECT COUNT(*) FROM slots").fetchone()
                if busy < self.concurrency:
                    cursor = db.execute("INSERT INTO slots (owner) VALUES (?)", (self._pid,))
                    slot_id = cursor.lastrowid
            if slot_id is None:
                await asyncio.sleep(_POLL_S)
        try:
            yield
        finally:
            with self._txn() as db:
                db.execute("DELETE FROM slots WHERE id = ?", (slot_id,))

    async def before_attempt(self) -> None:
        """Wait out a pause set after a 429 anywhere in the run."""
        while True:
            with self._lock:
                (until,) = self._db.execute(
                    "SELECT pause_until FROM totals WHERE id = 0"
                ).fetchone()
            wait = until - time.time()
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))

    def rate_limited(self, wait_s: float) -> None:
        """A 429 came back: pause every process's next attempt for ``wait_s`` seconds."""
        until = time.time() + max(0.0, wait_s)
        with self._txn() as db:
            db.execute("UPDATE totals SET pause_until = MAX(pause_until, ?) WHERE id = 0", (until,))

    # spend -----------------------------------------------------------------------------

    def _try_reserve(self) -> int | str:
        if self.max_cost is None:
            return 0  # no budget: nothing to reserve (and no transaction)
        with self._txn() as db:
            spent, max_call = db.execute(
                "SELECT spent, max_call FROM totals WHERE id = 0"
            ).fetchone()
            limit = self.max_cost
            if limit is None:
                return 0
            if spent >= limit:
                return "refuse"
            reserved, in_flight = db.execute(
                "SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM reservations"
            ).fetchone()
            if in_flight:
                self._reap(db)
                reserved, in_flight = db.execute(
                    "SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM reservations"
                ).fetchone()
            if max_call is None:  # no cost known yet: one call at a time
                if in_flight:
                    return "wait"
                estimate = 0.0
            else:
                estimate = float(max_call)
                if spent + reserved + estimate > limit:
                    return "wait" if in_flight else "refuse"
            cursor = db.execute(
                "INSERT INTO reservations (owner, amount) VALUES (?, ?)", (self._pid, estimate)
            )
            return int(cursor.lastrowid or 0)

    def settle(self, token: int, cost: float | None) -> None:
        """The reserved call ended; ``cost`` is its estimated cost (None: not priced)."""
        with self._txn() as db:
            self._settle(db, token, cost)

    def settle_done(self, token: int, cost: float | None, key: str, answer: Answer) -> None:
        """`settle` and `done` in one transaction (the end of every successful call)."""
        data = json.dumps(dataclasses.asdict(answer), ensure_ascii=False)
        with self._txn() as db:
            self._settle(db, token, cost)
            db.execute("UPDATE claims SET status = 'done', answer = ? WHERE key = ?", (data, key))

    def _settle(self, db: sqlite3.Connection, token: int, cost: float | None) -> None:
        if token:
            db.execute("DELETE FROM reservations WHERE id = ?", (token,))
        if cost:
            db.execute(
                "UPDATE totals SET spent = spent + ?, "
                "max_call = MAX(COALESCE(max_call, 0), ?) WHERE id = 0",
                (cost, cost),
            )
        elif cost is not None or token:
            # a free (cached) or unpriced call still tells us calls may cost nothing
            db.execute("UPDATE totals SET max_call = COALESCE(max_call, 0) WHERE id = 0")

    def spent(self) -> float:
        with self._lock:
            (spent,) = self._db.execute("SELECT spent FROM totals WHERE id = 0").fetchone()
        return float(spent)


class LocalLedger(_Waiting):
    """The ledger of a run that is one process: `Ledger`'s operations and rules in memory.

    Used from pytest's thread and from the gateway's background loop, so a lock guards it;
    every operation is a few dict/int updates under that lock. Waiting (a claim another
    caller of this process is making, a full set of places, a budget with no room yet) is
    polling, as in `Ledger`.
    """

    path = None

    def __init__(self, *, concurrency: int, max_cost: float | None) -> None:
        self.concurrency = concurrency
        self.max_cost = max_cost
        self._lock = threading.Lock()
        self._claims: dict[str, Answer | None] = {}  # None: pending
        self._slots = 0
        self._reservations: dict[int, float] = {}
        self._next_token = 1
        self._spent = 0.0
        self._max_call: float | None = None
        self._pause_until = 0.0

    def close(self) -> None:
        """Nothing to close (the same surface as `Ledger`)."""

    def in_use(self) -> bool:
        """Whether anything was claimed, reserved or held yet."""
        with self._lock:
            return bool(self._claims or self._slots or self._reservations)

    def remove(self) -> None:
        """Nothing to remove (the same surface as `Ledger`)."""

    # claims ----------------------------------------------------------------------------

    def _claim(self, key: str) -> str | Answer:
        with self._lock:
            if key not in self._claims:
                self._claims[key] = None
                return "mine"
            answer = self._claims[key]
            return "wait" if answer is None else answer

    def done(self, key: str, answer: Answer) -> None:
        with self._lock:
            if key in self._claims:
                self._claims[key] = answer

    def release(self, key: str) -> None:
        """The claimant's call raised: let the next one who needs it call."""
        with self._lock:
            if key in self._claims and self._claims[key] is None:
                del self._claims[key]

    # concurrency and 429 pauses --------------------------------------------------------

    def _try_slot(self) -> bool:
        with self._lock:
            if self._slots >= self.concurrency:
                return False
            self._slots += 1
            return True

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the run's ``--cf-concurrency`` places for a call in flight."""
        while not self._try_slot():
            await asyncio.sleep(_POLL_S)
        try:
            yield
        finally:
            with self._lock:
                self._slots -= 1

    async def before_attempt(self) -> None:
        """Wait out a pause set after a 429."""
        while True:
            wait = self._pause_until - time.time()
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))

    def rate_limited(self, wait_s: float) -> None:
        """A 429 came back: pause every next attempt for ``wait_s`` seconds."""
        until = time.time() + max(0.0, wait_s)
        with self._lock:
            self._pause_until = max(self._pause_until, until)

    # spend -----------------------------------------------------------------------------

    def _try_reserve(self) -> int | str:
        with self._lock:
            limit = self.max_cost
            if limit is None:
                return 0
            if self._spent >= limit:
                return "refuse"
            in_flight = len(self._reservations)
            if self._max_call is None:  # no cost known yet: one call at a time
                if in_flight:
                    return "wait"
                estimate = 0.0
            else:
                estimate = self._max_call
                if self._spent + sum(self._reservations.values()) + estimate > limit:
                    return "wait" if in_flight else "refuse"
            token = self._next_token
            self._next_token += 1
            self._reservations[token] = estimate
            return token

    def settle(self, token: int, cost: float | None) -> None:
        """The reserved call ended; ``cost`` is its estimated cost (None: not priced)."""
        with self._lock:
            if token:
                self._reservations.pop(token, None)
            if cost:
                self._spent += cost
                self._max_call = max(self._max_call or 0.0, cost)
            elif cost is not None or token:
                # a free (cached) or unpriced call still tells us calls may cost nothing
                self._max_call = self._max_call or 0.0

    def settle_done(self, token: int, cost: float | None, key: str, answer: Answer) -> None:
        """`settle` and `done` together (the end of every successful call)."""
        self.settle(token, cost)
        self.done(key, answer)

    def spent(self) -> float:
        with self._lock:
            return self._spent
