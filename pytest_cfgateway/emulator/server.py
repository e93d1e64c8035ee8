"""``Emulator``: the gateway emulator as an object you start, use and stop.

with Emulator(latency_ms=0) as emu:
    gw = Gateway(base_url=emu.url, account_id="acct", gateway_id="gw")
    ...
    assert emu.requests[-1].status == 200
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .app import INSTALL_HINT, EmulatorDependencyError, build_app
from .state import EmulatorState

_START_TIMEOUT = 15.0


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:
        raise EmulatorDependencyError(INSTALL_HINT) from exc
    return uvicorn


def bind_socket(host: str, port: int, backlog: int = 4096) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Emulator(EmulatorState):
    """A local Cloudflare AI Gateway on loopback (uvicorn in a background thread).

    Every keyword of ``EmulatorState`` is accepted here and stays settable as an attribute
    while the server runs (``emu.latency_ms = 50``, ``emu.faults.fail_next = [503]``,
    ``emu.token = "t"``, ``emu.rules = "rules.yaml"``, ...).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **settings: Any) -> None:
        super().__init__(**settings)
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no path)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The gateway base URL to pass as ``Gateway(base_url=...)``: ``http://host:port/v1``."""
        return f"{self.base_url}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _config(self, sock: socket.socket, log_level: str) -> Any:
        uvicorn = _uvicorn()
        http = "auto"
        with contextlib.suppress(ImportError):
            import httptools  # noqa: F401

            http = "httptools"
        return uvicorn.Config(
            build_app(self),
            http=http,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            backlog=4096,
            limit_concurrency=None,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
            ws="none",
        )

    def start(self, *, log_level: str = "warning") -> Emulator:
        """Serve in a background thread; returns once the server accepts connections."""
        if self.running:
            return self
        self._sock = bind_socket(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        server = _uvicorn().Server(self._config(self._sock, log_level))
        self._server, self._error = server, None

        def run() -> None:
            try:
                server.run(sockets=[self._sock])
            except BaseException as exc:  # surfaced by start() / stop()
                self._error = exc

        self._thread = threading.Thread(
            target=run, name=f"cfgateway-emulator:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError(f"the gateway emulator failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the gateway emulator did not start within {_START_TIMEOUT:g} s"
                )
            time.sleep(0.005)
        return self

    def serve_forever(
        self, *, log_level: str = "warning", ready: Callable[[str], None] | None = None
    ) -> None:
        """Serve in the calling thread until Ctrl-C / SIGTERM (used by the CLI).

        ``ready(url)`` is called once the socket listens (before the first request).
        """
        self._sock = bind_socket(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        self._server = _uvicorn().Server(self._config(self._sock, log_level))
        if ready is not None:
            ready(self.url)
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and wait for its thread (open keep-alive connections are closed)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Emulator {self.url} {state}, {len(self.requests)} requests>"
