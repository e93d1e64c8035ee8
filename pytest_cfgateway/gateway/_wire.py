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
import subprocess
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
    event loop (the gateway's background loop).

    `spawn` starts the process from any thread (cheap: the child imports httpx and h11 on
    the other core meanwhile, so it can be started early, e.g. while pytest collects), and
    `attach` binds its pipes to the running loop, which then drives it.
    """

    def __init__(self, proc: subprocess.Popen[bytes] | None, failure: str | None) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = proc.pid if proc is not None else None
        #: why the worker is not usable (None while it is); for diagnostics
        self.failure = failure
        self.exchanges = 0
        self._proc = proc
        self._writer: asyncio.WriteTransport | None = None
        self._ready: asyncio.Future[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._tasks: list[asyncio.Task[Any]] = []
        self._stderr = bytearray()

    @classmethod
    def spawn(cls, concurrency: int) -> WireProcess:
        """Start the worker process (not yet driven by any loop)."""
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from pytest_cfgateway.gateway._wire_child import main; main(int(sys.argv[2]))"
        )
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", code, package_root, str(concurrency)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
            )
        except OSError as exc:  # no fork/exec here (a sandbox), a missing interpreter
            why = f"could not start the HTTP worker process: {type(exc).__name__}: {exc}"
            return cls(None, why)
        return cls(proc, None)

    def usable_here(self) -> bool:
        """True when exchanges may go through the worker from the running loop."""
        if self.failure is not None or self.loop is None:
            return False
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    async def attach(self) -> None:
        """Drive the worker from the running loop from now on."""
        loop = self.loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        proc = self._proc
        if proc is None or self.failure is not None:
            self._ready.set_result(None)
            return
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            reader = asyncio.StreamReader(limit=2**24)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
            errors = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(errors), proc.stderr)
            self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, proc.stdin)
        except (OSError, ValueError, NotImplementedError) as exc:  # pipes this loop cannot drive
            self._fail(f"could not drive the HTTP worker process: {type(exc).__name__}: {exc}")
            self._kill()
            return
        self._tasks = [loop.create_task(self._read(reader)), loop.create_task(self._drain(errors))]
        loop.call_later(START_TIMEOUT_S, self._start_timed_out)

    def _start_timed_out(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._fail(f"the HTTP worker process did not start within {START_TIMEOUT_S:g} s")
            self._kill()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    async def exchange(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> tuple[int, dict[str, str], Any]:
        """One HTTP exchange in the worker: ``(status, lower-case headers, body)`` with the
        body parsed as `http.raw_response_parts` does. Raises the httpx transport error the
        worker met, ``httpx.ReadError`` when the worker ended, `WireUnavailable` when it
        cannot be used at all (the caller then uses its own client)."""
        if self._ready is None or self.failure is not None:
            raise WireUnavailable(self.failure or "the HTTP worker process is not attached")
        if not self._ready.done():
            await asyncio.shield(self._ready)
        writer = self._writer
        if self.failure is not None or writer is None or writer.is_closing():
            raise WireUnavailable(self.failure or "the HTTP worker process's pipe is closed")
        assert self.loop is not None
        ident = next(self._ids)
        future: asyncio.Future[Any] = self.loop.create_future()
        self._pending[ident] = future
        writer.write(frame(("req", ident, method, url, headers, content)))
        self.exchanges += 1
        try:
            reply = await future
        except asyncio.CancelledError:
            if self._pending.pop(ident, None) is not None and not writer.is_closing():
                # the caller gave up (its time limit, a cancelled run): so does the worker
                writer.write(frame(("cancel", ident)))
            raise
        if reply[0] == "ok":
            return reply[2], reply[3], reply[4]
        raise _error(reply[0], reply[2], reply[3])

    async def _read(self, reader: asyncio.StreamReader) -> None:
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
        proc = self._proc
        assert proc is not None
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait)
        lines = self._stderr.decode("utf-8", "replace").strip().splitlines()
        self._fail(
            f"the HTTP worker process ended (exit code {code})"
            + (f": {lines[-1]}" if lines else "")
        )

    async def _drain(self, errors: asyncio.StreamReader) -> None:
        """Keep the end of what the worker writes on stderr (for the message if it dies),
        reading all of it so the worker never blocks on a full pipe."""
        while chunk := await errors.read(4096):
            self._stderr += chunk
            del self._stderr[:-2000]

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
        if self.failure is None:
            self.failure = "the HTTP worker process was closed"
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
        proc = self._proc
        if proc is not None:
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(loop.run_in_executor(None, proc.wait), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await loop.run_in_executor(None, proc.wait)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
        self._fail(self.failure)

    def close_unattached(self) -> None:
        """End a worker no loop drives (spawned ahead, then not needed)."""
        if self.failure is None:
            self.failure = "the HTTP worker process was not needed"
        proc = self._proc
        if proc is None or self.loop is not None:
            return
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
