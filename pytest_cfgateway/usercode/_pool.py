"""Parent side of the user-code executor: a pool of warm worker processes.

Each `_Worker` is one ``python _worker.py`` process talking over two pipes. A call takes an
idle worker (starting one when fewer than ``max_workers`` exist), sends one request and
waits for the reply with a deadline. On timeout the worker is killed (SIGKILL) and forgotten;
a worker found dead (``os._exit``, a signal) is reported with its exit status and the tail
of its stderr, and forgotten. The next call starts a fresh worker.

`Executor.acall` is the event-loop variant: the reply is awaited for a couple of
milliseconds on the loop (most calls answer in well under that), then in a thread, so a slow
call never blocks the loop; a cancelled call kills its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from .errors import UserCodeCrashed, UserCodeError, UserCodeTimeout

_WORKER_SCRIPT = str(Path(__file__).with_name("_worker.py"))
#: how long `acall` waits for a reply on the event loop before moving the wait to a thread
INLINE_WAIT_S = 0.002
#: stderr kept from a dead worker for its error message
_STDERR_TAIL = 2000


class _Died(Exception):
    pass


class _Worker:
    """One worker process and its pipes (used by one call at a time)."""

    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        self.stderr: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        try:
            self.proc = subprocess.Popen(
                [sys.executable, _WORKER_SCRIPT],
                stdin=req_r,
                stdout=rep_w,
                stderr=self.stderr,
                close_fds=True,
                # its own session: Ctrl-C goes to pytest, which stops the workers itself
                start_new_session=True,
            )
        finally:
            os.close(req_r)
            os.close(rep_w)
        self.to_worker = Connection(req_w, readable=False)
        self.from_worker = Connection(rep_r, writable=False)
        self.to_worker.send_bytes(json.dumps({"sys_path": sys.path, "warm_js": True}).encode())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, payload: bytes) -> None:
        try:
            self.to_worker.send_bytes(payload)
        except OSError as exc:
            raise _Died from exc

    def wait(self, timeout: float) -> bytes | None:
        """The reply, or None when none came within ``timeout`` seconds; `_Died` on EOF."""
        try:
            if not self.from_worker.poll(max(0.0, timeout)):
                return None
            return self.from_worker.recv_bytes()
        except (EOFError, OSError) as exc:
            raise _Died from exc

    def ready(self) -> bool:
        try:
            return self.from_worker.poll(0)
        except (EOFError, OSError):
            return True

    def death_note(self) -> str:
        """How the process ended, with the tail of what it wrote to stderr."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if code is not None and code < 0:
            try:
                how = f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with status {code}"
            if code == 0:
                how += " (os._exit(0)?)"
        tail = ""
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - _STDERR_TAIL))
            tail = self.stderr.read().decode("utf-8", "replace").strip()
        return how + (f"; its stderr ends with:\n{tail}" if tail else "")

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.close()

    def close(self) -> None:
        for conn in (self.to_worker, self.from_worker):
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(OSError):
            self.stderr.close()

    def stop(self) -> None:
        """Ask the worker to exit (EOF on its request pipe), then make sure it did."""
        with contextlib.suppress(OSError):
            self.to_worker.close()
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.kill()
        self.close()


class _Placeholder:
    """Holds a pool slot while a worker is being started outside the lock."""

    pid = 0


class Executor:
    """A pool of at most ``max_workers`` warm worker processes (started on demand)."""

    def __init__(self, max_workers: int = 4) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._busy: set[_Worker | _Placeholder] = set()
        self._cond = threading.Condition()
        self._closed = False
        self.started = 0  # workers started over the executor's life (for tests and the bench)

    # workers -------------------------------------------------------------------------

    def _try_acquire(self) -> _Worker | None:
        with self._cond:
            return self._take_locked()

    def _take_locked(self) -> _Worker | None:
        if self._closed:
            raise RuntimeError("the user-code executor was shut down")
        if self._idle:
            worker = self._idle.pop()
            self._busy.add(worker)
            return worker
        if len(self._busy) < self.max_workers:
            worker = _Worker()
            self.started += 1
            self._busy.add(worker)
            return worker
        return None

    def _acquire(self, deadline: float, label: str, timeout: float) -> _Worker:
        with self._cond:
            while True:
                worker = self._take_locked()
                if worker is not None:
                    return worker
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UserCodeTimeout(
                        label,
                        f"did not start within {timeout * 1000:.0f} ms: all "
                        f"{self.max_workers} user-code workers stayed busy",
                    )
                self._cond.wait(left)

    def _release(self, worker: _Worker, *, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            if healthy and not self._closed:
                self._idle.append(worker)
            self._cond.notify()
        if not healthy or self._closed:
            worker.kill()

    def prewarm(self, count: int = 1) -> threading.Thread:
        """Start up to ``count`` idle workers in a background thread (returned, started)."""

        def start() -> None:
            for _ in range(count):
                with self._cond:
                    if self._closed or len(self._idle) + len(self._busy) >= self.max_workers:
                        return
                    self._busy.add(placeholder := _Placeholder())
                try:
                    worker = _Worker()
                except OSError:
                    return  # the first real call starts a worker and reports the problem
                finally:
                    with self._cond:
                        self._busy.discard(placeholder)
                with self._cond:
                    if self._closed:
                        worker.stop()
                        return
                    self.started += 1
                    self._idle.append(worker)
                    self._cond.notify()

        thread = threading.Thread(target=start, name="cfgateway-usercode-prewarm", daemon=True)
        thread.start()
        return thread

    # calls ---------------------------------------------------------------------------

    def call(self, request: dict[str, Any], *, timeout: float, label: str) -> Any:
        """Run ``request`` on a worker; the decoded reply (see `_decode`)."""
        payload = _encode(_with_cpu_bound(request, timeout), label)
        worker = self._acquire(time.monotonic() + timeout, label, timeout)
        # the limit is the code's own: starting a worker does not count against it
        deadline = time.monotonic() + timeout
        return self._finish(worker, self._exchange(worker, payload, deadline), label, timeout)

    async def acall(self, request: dict[str, Any], *, timeout: float, label: str) -> Any:
        """`call` for an event loop: never blocks the loop for more than `INLINE_WAIT_S`."""
        payload = _encode(_with_cpu_bound(request, timeout), label)
        worker = self._try_acquire()
        loop = asyncio.get_running_loop()
        if worker is None:
            worker = await loop.run_in_executor(
                None, self._acquire, time.monotonic() + timeout, label, timeout
            )
        deadline = time.monotonic() + timeout  # starting a worker does not count
        waiting: asyncio.Future[bytes | None] | None = None
        try:
            worker.send(payload)
            raw = worker.wait(min(INLINE_WAIT_S, timeout))
            if raw is None:
                waiting = loop.run_in_executor(None, worker.wait, deadline - time.monotonic())
                raw = await waiting
        except _Died:
            raw = _DIED
        except BaseException:  # cancelled (the case's timeout) or interrupted: stop it
            if waiting is not None and not waiting.done():
                # the thread still polls the worker's pipe: kill the process (the thread then
                # sees EOF) and close the pipes only once that thread is done with them
                with contextlib.suppress(OSError):
                    worker.proc.kill()
                waiting.add_done_callback(lambda _f: self._release(worker, healthy=False))
            else:
                self._release(worker, healthy=False)
            raise
        return self._finish(worker, raw, label, timeout)

    def _exchange(self, worker: _Worker, payload: bytes, deadline: float) -> bytes | None:
        try:
            worker.send(payload)
            return worker.wait(deadline - time.monotonic())
        except _Died:
            return _DIED
        except BaseException:
            self._release(worker, healthy=False)
            raise

    def _finish(self, worker: _Worker, raw: bytes | None, label: str, timeout: float) -> Any:
        if raw is None:
            self._release(worker, healthy=False)
            raise UserCodeTimeout(
                label, f"did not finish within {timeout * 1000:.0f} ms; its worker was stopped"
            )
        if raw is _DIED:
            note = worker.death_note()
            self._release(worker, healthy=False)
            raise UserCodeCrashed(label, f"ended its worker process: the process {note}")
        self._release(worker, healthy=True)
        return json.loads(raw)

    # lifecycle -----------------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in (*self._idle, *self._busy) if isinstance(w, _Worker)]

    def shutdown(self) -> None:
        """Stop every worker (idle ones politely, busy ones by kill)."""
        with self._cond:
            self._closed = True
            idle, busy = list(self._idle), list(self._busy)
            self._idle.clear()
            self._busy.clear()
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
        for slot in busy:
            if isinstance(slot, _Worker):
                slot.kill()


_DIED = b"\0died"


#: CPU seconds a call may use beyond its time limit before the kernel ends its worker: a
#: backstop for a worker whose parent is gone (killed with SIGKILL while user code looped),
#: never reached while the parent lives, as it stops the worker at the wall-clock limit.
CPU_BACKSTOP_MARGIN_S = 30.0


def _with_cpu_bound(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    return {**request, "cpu_limit_s": timeout + CPU_BACKSTOP_MARGIN_S}


def _encode(request: dict[str, Any], label: str) -> bytes:
    try:
        return json.dumps(request, allow_nan=True).encode()
    except (TypeError, ValueError) as exc:
        raise UserCodeError(
            label,
            f"cannot be given its arguments: {exc} (user code receives only JSON-like "
            "values: str, number, bool, None, list, dict)",
            type_name="TypeError",
        ) from None
