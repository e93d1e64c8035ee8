"""HTTP exchanges in a worker process, so they do not share this process's GIL.

A live run of many calls is CPU-bound on one core: pytest's item loop and the evaluation of
answers on one thread, httpx and httpcore (about 1.2 ms of CPU per request) on the gateway's
background loop, both under one GIL. `WireProcess` moves the HTTP exchange itself to a child
process (`_wire_child`) that runs the same httpx clients (`http.Transport`): the gateway's
logic - URL, headers, retries, backoff, polling, timeouts, the run's budget - stays here, and
only ``(method, url, headers, body)`` crosses a pipe, and ``(status, headers, parsed body)``
comes back. What the child sends on the wire is exactly what httpx would send from here.

Protocol: frames of a 4-byte big-endian length and a pickle, on the child's stdin/stdout.
Requests ``("req", id, method, url, headers, content)`` and ``("cancel", id)``; replies
``("ready", pid)``, ``("ok", id, status, headers, body)``, ``("err", id, httpx error class
name, message)`` (a transport error: retried by the caller like its own) and ``("fail", id,
type name, message)`` (anything else). The child exits when its stdin closes, so it never
outlives this process.

When the child cannot start or ends, pending exchanges fail with ``httpx.ReadError`` (the
caller's retry then goes through its own httpx client, since the wire is marked unusable):
nothing is lost but speed. Streamed requests never use the wire (their timing is measured
as the bytes arrive).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import struct
import sys
from typing import Any

#: Frame header: payload length, 4 bytes big-endian.
HEADER = struct.Struct(">I")
#: How long the child may take to start (import httpx, say ready) before it is given up.
START_TIMEOUT_S = 30.0
#: Bound on the child's exit after its stdin closed, before it is killed.
STOP_TIMEOUT_S = 5.0


def frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next frame's object, or None at end of stream."""
    try:
        head = await reader.readexactly(HEADER.size)
        (size,) = HEADER.unpack(head)
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


class WireUnavailable(RuntimeError):
    """The worker process cannot take exchanges (it failed to start or ended)."""


class WireProcess:
    """The worker process making HTTP exchanges for one `http.Transport`, driven from one
    event loop (the gateway's background loop). Start with `start` on that loop."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid: int | None = None
        #: why the worker is not usable (None while it is); for diagnostics
        self.failure: str | None = None
        self.exchanges = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._reader: asyncio.Task[None] | None = None

    @property
    def usable(self) -> bool:
        return self.failure is None and self.loop is not None

    def usable_here(self) -> bool:
        """True when exchanges may go through the worker from the running loop."""
        if self.failure is not None or self.loop is None:
            return False
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    async def start(self) -> None:
        """Spawn the worker (on the running loop, which then owns it). Returns at once; the
        first exchanges wait until it says it is ready."""
        loop = self.loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from pytest_cfgateway.gateway._wire_child import main; main(int(sys.argv[2]))"
        )
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                code,
                package_root,
                str(self.concurrency),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except (OSError, RuntimeError) as exc:  # no fork/exec here (sandbox), no child watcher
            self._fail(f"could not start the HTTP worker process: {type(exc).__name__}: {exc}")
            return
        self.pid = self._proc.pid
        self._reader = loop.create_task(self._read())
        loop.call_later(START_TIMEOUT_S, self._start_timed_out)

    def _start_timed_out(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._fail(f"the HTTP worker process did not start within {START_TIMEOUT_S:g} s")
            if self._proc is not None and self._proc.returncode is None:
                self._proc.kill()

    async def exchange(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> tuple[int, dict[str, str], Any]:
        """One HTTP exchange in the worker: ``(status, lower-case headers, body)`` with the
        body parsed as `client._raw_response` does. Raises the httpx transport error the
        worker met, ``httpx.ReadError`` when the worker ended, `WireUnavailable` when it
        cannot be used at all (the caller then uses its own client)."""
        if self._ready is None or self.failure is not None:
            raise WireUnavailable(self.failure or "the HTTP worker process was not started")
        if not self._ready.done():
            await asyncio.shield(self._ready)
        if self.failure is not None:
            raise WireUnavailable(self.failure)
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        assert self.loop is not None
        ident = next(self._ids)
        future: asyncio.Future[Any] = self.loop.create_future()
        self._pending[ident] = future
        try:
            proc.stdin.write(frame(("req", ident, method, url, headers, content)))
        except (OSError, RuntimeError) as exc:
            self._pending.pop(ident, None)
            self._fail(f"the HTTP worker process's pipe broke: {exc}")
            raise WireUnavailable(self.failure) from None
        self.exchanges += 1
        try:
            reply = await future
        except asyncio.CancelledError:
            if self._pending.pop(ident, None) is not None and self.failure is None:
                # the caller gave up (its time limit, a cancelled run): so does the worker
                try:
                    proc.stdin.write(frame(("cancel", ident)))
                except (OSError, RuntimeError):
                    pass  # the worker is ending: its exchanges end with it
            raise
        kind = reply[0]
        if kind == "ok":
            return reply[2], reply[3], reply[4]
        raise _error(kind, reply[2], reply[3])

    async def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        reader = proc.stdout
        while True:
            msg = await read_frame(reader)
            if msg is None:
                break
            if msg[0] == "ready":
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                continue
            future = self._pending.pop(msg[1], None)
            if future is not None and not future.done():
                future.set_result(msg)
        code = await proc.wait()
        detail = b""
        if proc.stderr is not None:
            detail = await proc.stderr.read(2000)
        text = detail.decode("utf-8", "replace").strip().splitlines()
        self._fail(
            f"the HTTP worker process ended (exit code {code})" + (f": {text[-1]}" if text else "")
        )

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(_read_error(self.failure))

    async def aclose(self) -> None:
        """Close the worker's stdin (it exits) and wait for it, killing it past a bound."""
        proc = self._proc
        if self.failure is None:
            self.failure = "the HTTP worker process was closed"
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=STOP_TIMEOUT_S)
        self._fail(self.failure)


def _read_error(message: str) -> BaseException:
    import httpx

    return httpx.ReadError(message)


def _error(kind: str, name: str, message: str) -> BaseException:
    """The exception the worker met, as the caller's own client would have raised it."""
    import httpx

    if kind == "err":
        cls = getattr(httpx, name, None)
        if isinstance(cls, type) and issubclass(cls, (httpx.TransportError,)):
            return cls(message)
        return httpx.TransportError(f"{name}: {message}")
    return RuntimeError(f"the HTTP worker process failed on this request: {name}: {message}")
