"""HTTP transport management: httpx clients per event loop and a private background loop.

pytest-asyncio and anyio create an event loop per test, and an httpx client is bound to the
loop it first ran on, so `Transport` keeps one small set of clients per loop (a
WeakKeyDictionary keyed by the loop: a loop that is garbage-collected drops its entry).
Calls are spread round-robin over several clients of a few connections each, because one
``AsyncClient`` with a large pool is several times slower under high concurrency
(encode/httpx#3215, see reference/performance.md). ``transport_factory`` makes the transport
swappable (``httpx.MockTransport`` in tests, ``httpx-aiohttp`` where measured faster).

The synchronous API runs coroutines on `BackgroundLoop`, a daemon thread with its own loop,
so there is exactly one (async) implementation of the call path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import itertools
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx

    from ._wire import WireProcess
else:

    class _LazyHttpx:
        """``httpx``, imported on first use: a run whose exchanges go through the HTTP
        worker process (`_wire`) never makes a client in pytest's process, and importing
        httpx (~30 ms) before the first call delayed it."""

        def __getattr__(self, name: str) -> Any:
            import httpx as module

            return getattr(module, name)

    httpx = _LazyHttpx()

T = TypeVar("T")

#: Connections per client; calls are spread over ceil(concurrency / this) clients.
CONNECTIONS_PER_CLIENT = 8
_HEADERS = {"user-agent": "pytest-cfgateway"}


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The TLS context every client of this process shares: the one each ``AsyncClient``
    would build by default (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once.
    Loading the CA bundle costs tens of ms per client, and a live run makes
    ceil(concurrency / CONNECTIONS_PER_CLIENT) clients per event loop."""
    return httpx.create_ssl_context()


@dataclasses.dataclass
class _LoopState:
    #: makes the clients, on first use (a loop whose exchanges all go through the worker
    #: process never builds any: each costs tens of ms)
    make_clients: Callable[[], list[httpx.AsyncClient]]
    semaphore: asyncio.Semaphore
    turn: itertools.count[int]
    clients: list[httpx.AsyncClient] = dataclasses.field(default_factory=list)
    closer: AsyncGenerator[None, None] | None = None

    def next_client(self) -> httpx.AsyncClient:
        if not self.clients:
            self.clients = self.make_clients()
        return self.clients[next(self.turn) % len(self.clients)]


def raw_response_parts(resp: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """``(status, lower-case headers, body)`` of a read response; the body is the parsed
    JSON, else the text ("" when empty)."""
    headers = {k.lower(): v for k, v in resp.headers.items()}
    body: Any
    if not resp.content:
        body = ""
    else:
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
    return resp.status_code, headers, body


class Transport:
    """httpx clients and a concurrency bound, one set per running event loop.

    A loop's clients are closed when the loop shuts down: each client set registers an async
    generator with its loop, and ``loop.shutdown_asyncgens()`` (called by ``asyncio.run``,
    ``asyncio.Runner``, pytest-asyncio and anyio) finalises it on that loop, closing the
    clients and dropping the entry. Loops closed without that step are pruned on next use.
    """

    def __init__(
        self,
        *,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.concurrency = concurrency
        self._transport = transport
        self._factory = transport_factory
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        #: the worker process making this transport's exchanges from one loop (`_wire`)
        self.wire: WireProcess | None = None

    @property
    def injected(self) -> bool:
        """True when the exchanges go through a transport given by the caller (a mock in
        tests): those cannot move to a worker process."""
        return self._transport is not None or self._factory is not None

    def wire_here(self) -> WireProcess | None:
        """The worker process, when the running loop's exchanges may go through it."""
        wire = self.wire
        return wire if wire is not None and wire.usable_here() else None

    def _new_state(self) -> _LoopState:
        return _LoopState(
            self._make_clients, asyncio.Semaphore(self.concurrency), itertools.count()
        )

    def _make_clients(self) -> list[httpx.AsyncClient]:
        if self._transport is not None:
            # an injected transport instance is shared: one client is enough
            clients = [
                httpx.AsyncClient(
                    transport=self._transport,
                    timeout=None,
                    headers=_HEADERS,
                    verify=_ssl_context(),
                )
            ]
        else:
            n = max(1, -(-self.concurrency // CONNECTIONS_PER_CLIENT))
            per = max(1, -(-self.concurrency // n))
            limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
            clients = [
                httpx.AsyncClient(
                    transport=self._factory() if self._factory else None,
                    limits=limits,
                    timeout=None,
                    headers=_HEADERS,
                    verify=_ssl_context(),
                )
                for _ in range(n)
            ]
        return clients

    def _prune(self) -> None:
        """Forget client sets of loops that were closed without shutting down async gens."""
        for loop in [lp for lp in self._states if lp.is_closed()]:
            del self._states[loop]

    async def state(self) -> _LoopState:
        """The client set of the running loop (created on first use)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            st = self._states.get(loop)
            if st is not None:
                return st
            self._prune()
            st = self._states[loop] = self._new_state()
        st.closer = self._closer(loop, st)
        await st.closer.__anext__()  # registers the generator with the loop's asyncgen hooks
        return st

    async def _closer(
        self, loop: asyncio.AbstractEventLoop, st: _LoopState
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                if self._states.get(loop) is st:
                    del self._states[loop]
            for c in st.clients:
                await c.aclose()

    async def client(self) -> httpx.AsyncClient:
        """The next client (round-robin) of the running loop."""
        return (await self.state()).next_client()

    async def semaphore(self) -> asyncio.Semaphore:
        """Bounds in-flight calls on the running loop to ``concurrency``."""
        return (await self.state()).semaphore

    async def aclose_current(self) -> None:
        """Close the clients of the running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            st = self._states.pop(loop, None)
        wire = self.wire
        if wire is not None and wire.loop is loop:
            self.wire = None
            await wire.aclose()
        if st is None:
            return
        if st.closer is not None:
            await st.closer.aclose()
        else:
            for c in st.clients:
                await c.aclose()

    def loops(self) -> int:
        """How many loops currently hold clients (for tests and diagnostics)."""
        with self._lock:
            self._prune()
            return len(self._states)


class BackgroundLoopDied(RuntimeError):
    """The background loop's thread ended (something raised out of the loop itself)."""


#: How often a waiting caller checks that the background loop's thread is still alive.
_LIVENESS_POLL_S = 0.25
#: Bound on shutting the loop down (closing clients) at the end of a session.
_STOP_TIMEOUT_S = 10.0


class BackgroundLoop:
    """A daemon thread running an event loop, for the synchronous API.

    Nothing waits on it without a bound: `run` checks every `_LIVENESS_POLL_S` that the
    thread is alive, and if it died (an exception such as ``SystemExit`` escaped the loop)
    raises `BackgroundLoopDied` naming the cause; the next use starts a new loop.
    """

    def __init__(self, name: str = "pytest-cfgateway") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._death: BaseException | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._thread is not None and not self._thread.is_alive():
                # the loop died: drop it (its pending work is lost, reported by `wait`)
                if self._loop is not None and not self._loop.is_running():
                    self._loop.close()
                self._loop = self._thread = None
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    except BaseException as exc:  # recorded for `run` to report, not lost
                        self._death = exc

                thread = threading.Thread(target=main, name=self._name, daemon=True)
                thread.start()
                ready.wait(_STOP_TIMEOUT_S)
                self._loop, self._thread = loop, thread
            return self._loop

    def in_loop_thread(self) -> bool:
        """True when called from the background loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the background loop and wait for its result."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "a synchronous Gateway method was called from inside the gateway's own event "
                "loop; use the async method (await gw.acomplete(...)) instead"
            )
        loop = self._ensure()
        thread = self._thread
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
        return self.wait(future, thread)

    def wait(
        self, future: concurrent.futures.Future[T], thread: threading.Thread | None = None
    ) -> T:
        """``future.result()``, but raising `BackgroundLoopDied` if the loop's thread ends."""
        thread = thread or self._thread
        while True:
            try:
                return future.result(timeout=_LIVENESS_POLL_S)
            except concurrent.futures.TimeoutError:
                if future.done():
                    raise  # the coroutine itself raised TimeoutError
                if thread is not None and not thread.is_alive():
                    future.cancel()
                    cause = self._death
                    what = f"{type(cause).__name__}: {cause}" if cause is not None else "unknown"
                    raise BackgroundLoopDied(
                        "the gateway's background event loop stopped while this test waited "
                        f"on it (cause: {what}); the next test starts a new loop"
                    ) from None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the background loop without waiting (the scheduler's use)."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure())

    def submit_many(
        self, coros: list[Coroutine[Any, Any, T]]
    ) -> list[concurrent.futures.Future[T]]:
        """`submit` for a batch, with one wake-up of the loop's thread: each `submit` writes
        to the loop's self-pipe, and that system call hands the GIL to the loop's thread and
        waits to get it back (1,000 submits: about a third of the scheduler's time)."""
        loop = self._ensure()
        futures: list[concurrent.futures.Future[T]] = [concurrent.futures.Future() for _ in coros]

        def start() -> None:
            for coro, future in zip(coros, futures, strict=True):
                if future.cancelled():
                    coro.close()
                    continue
                _chain(loop.create_task(coro), future, loop)

        loop.call_soon_threadsafe(start)
        return futures

    @property
    def started(self) -> bool:
        return self._loop is not None

    def stop(self, before: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Run ``before()`` on the loop (e.g. closing its clients), then stop the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            if before is not None and thread.is_alive():
                asyncio.run_coroutine_threadsafe(before(), loop).result(_STOP_TIMEOUT_S)
        finally:
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
                thread.join(_STOP_TIMEOUT_S)
            if not thread.is_alive():
                loop.close()


def _chain(
    task: asyncio.Task[T], future: concurrent.futures.Future[T], loop: asyncio.AbstractEventLoop
) -> None:
    """``future`` gets ``task``'s outcome; cancelling ``future`` cancels ``task`` (what
    ``asyncio.run_coroutine_threadsafe`` does for one coroutine)."""

    def copy(done: asyncio.Task[T]) -> None:
        if done.cancelled():
            future.cancel()
        elif future.set_running_or_notify_cancel():  # False: cancelled meanwhile
            exc = done.exception()
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(done.result())

    def cancel(f: concurrent.futures.Future[T]) -> None:
        if f.cancelled() and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    task.add_done_callback(copy)
    future.add_done_callback(cancel)
