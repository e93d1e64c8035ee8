"""The HTTP worker process (see `_wire`): reads exchange frames on stdin, makes each with the
same httpx clients the gateway would use in-process (`http.Transport`), writes the replies on
stdout. It knows nothing of gateways, providers or secrets beyond the headers it is given,
keeps nothing, and exits when stdin closes."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from ._wire import frame, read_frame


async def _serve(concurrency: int) -> None:
    import httpx

    from .http import Transport, raw_response_parts

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    w_transport, w_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout.buffer
    )
    writer = asyncio.StreamWriter(w_transport, w_protocol, None, loop)
    transport = Transport(concurrency=concurrency)
    tasks: dict[int, asyncio.Task[None]] = {}

    async def exchange(
        ident: int, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> None:
        reply: tuple[Any, ...]
        try:
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
        await transport.aclose_current()


def main(concurrency: int) -> None:
    try:
        asyncio.run(_serve(concurrency))
    except KeyboardInterrupt:  # the parent's Ctrl-C reached the process group: end quietly
        raise SystemExit(130) from None
