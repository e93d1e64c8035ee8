"""The HTTP worker process (see `_wire`): reads exchange frames on stdin, makes each exchange,
writes the replies on stdout. It knows nothing of gateways, providers or secrets beyond the
headers it is given, keeps nothing, and exits when stdin closes.

Each exchange is the request httpx would send (``AsyncClient.build_request``: the same
default headers, Host, Content-Length), framed by h11 (the HTTP/1.1 state machine httpcore
itself uses) over asyncio streams with a keep-alive pool, and the reply decoded by
``httpx.Response`` (content-encoding, charset) - about half the CPU of a full httpx/httpcore
exchange, in the part that has to be fast. With a proxy configured in the environment
(``HTTP(S)_PROXY``/``ALL_PROXY``), or a URL scheme other than http/https, the exchange goes
through an httpx client instead, exactly as in-process.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import urllib.request
from typing import TYPE_CHECKING, Any

from ._wire import frame, read_frame

if TYPE_CHECKING:
    import h11
    import httpx

_READ_SIZE = 65536


class _Connection:
    __slots__ = ("reader", "state", "writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: h11.Connection
    ) -> None:
        self.reader, self.writer, self.state = reader, writer, state

    def reusable(self) -> bool:
        return not self.writer.transport.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.transport.abort()


class H11Exchanges:
    """HTTP/1.1 exchanges on h11 over asyncio streams, one idle pool per origin."""

    def __init__(self, builder: httpx.AsyncClient, context: ssl.SSLContext) -> None:
        self._builder = builder
        self._context = context
        self._idle: dict[tuple[bytes, str, int], list[_Connection]] = {}

    async def request(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> httpx.Response:
        import h11
        import httpx

        req = self._builder.build_request(method, url, headers=headers, content=content)
        u = req.url
        key = (u.raw_scheme, u.host, u.port or (443 if u.raw_scheme == b"https" else 80))
        conn = self._take(key)
        if conn is None:
            conn = await self._connect(key)
        try:
            data = conn.state.send(
                h11.Request(method=req.method, target=u.raw_path, headers=req.headers.raw)
            )
            if content:
                data += conn.state.send(h11.Data(data=content))
            data += conn.state.send(h11.EndOfMessage())
            try:
                conn.writer.write(data)
            except OSError as exc:
                raise httpx.WriteError(str(exc) or type(exc).__name__) from None
            status, reply_headers, body = await self._receive(conn)
        except BaseException:
            conn.close()
            raise
        state = conn.state
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            self._idle.setdefault(key, []).append(conn)
        else:
            conn.close()
        return httpx.Response(status, headers=reply_headers, content=body, request=req)

    def _take(self, key: tuple[bytes, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.reusable():
                return conn
            conn.close()
        return None

    async def _connect(self, key: tuple[bytes, str, int]) -> _Connection:
        import h11
        import httpx

        scheme, host, port = key
        tls = self._context if scheme == b"https" else None
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=host if tls else None, limit=_READ_SIZE
            )
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer, h11.Connection(h11.CLIENT))

    async def _receive(self, conn: _Connection) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        import h11
        import httpx

        state = conn.state
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if event is h11.NEED_DATA:
                try:
                    data = await conn.reader.read(_READ_SIZE)
                except OSError as exc:
                    raise httpx.ReadError(str(exc) or type(exc).__name__) from None
                state.receive_data(data)
            elif isinstance(event, h11.Response):
                status, headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            # an InformationalResponse (1xx) is followed by the real one: keep reading

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _proxied() -> bool:
    """True when the environment configures a proxy httpx would use (``trust_env``)."""
    proxies = urllib.request.getproxies()
    return any(k in proxies for k in ("http", "https", "all"))


async def _serve(concurrency: int) -> None:
    import httpx

    from .http import _HEADERS, Transport, _ssl_context, raw_response_parts

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    w_transport, w_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout.buffer
    )
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    transport = Transport(concurrency=concurrency)  # proxies and other schemes
    fast: H11Exchanges | None = None
    if not _proxied():
        context = _ssl_context()
        context.set_alpn_protocols(["http/1.1"])
        fast = H11Exchanges(httpx.AsyncClient(headers=_HEADERS, timeout=None), context)
    tasks: dict[int, asyncio.Task[None]] = {}

    async def exchange(
        ident: int, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> None:
        reply: tuple[Any, ...]
        try:
            if fast is not None and url.startswith(("https://", "http://")):
                resp = await fast.request(method, url, headers, content)
            else:
                client = await transport.client()
                resp = await client.request(method, url, headers=headers, content=content)
            reply = ("ok", ident, *raw_response_parts(resp))
        except httpx.TransportError as exc:
            reply = ("err", ident, type(exc).__name__, str(exc))
        except asyncio.CancelledError:
            return
        except Exception as exc:  # reported to the caller, which raises it for this call
            reply = ("fail", ident, type(exc).__name__, str(exc))
        finally:
            tasks.pop(ident, None)
        writer.write(frame(reply))

    writer.write(frame(("ready", os.getpid())))
    try:
        while True:
            msg = await read_frame(reader)
            if msg is None:
                break
            if msg[0] == "req":
                _, ident, method, url, headers, content = msg
                tasks[ident] = loop.create_task(exchange(ident, method, url, headers, content))
            elif msg[0] == "cancel":
                task = tasks.pop(msg[1], None)
                if task is not None:
                    task.cancel()
    finally:
        for task in list(tasks.values()):
            task.cancel()
        if fast is not None:
            fast.close()
        await transport.aclose_current()
    # stdin closed: the parent is done with every reply. Nothing here needs a flush or a
    # finalizer, and the parent waits for this exit at the end of its run (the loop's
    # teardown and the interpreter's finalization took ~30 ms of that wait)
    os._exit(0)


def main(concurrency: int) -> None:
    try:
        asyncio.run(_serve(concurrency))
    except KeyboardInterrupt:  # the parent's Ctrl-C reached the process group: end quietly
        raise SystemExit(130) from None
