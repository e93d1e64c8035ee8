"""The ASGI app: starlette's ``Request``/``Response`` around the framework-free pipeline.

Routes: ``/v1/{account}/{gateway}[/{provider}/...]`` (the gateway), the Logs API
``/client/v4/accounts/{account}/ai-gateway/gateways/{gateway}/logs[/{id}]`` (GET, PATCH
feedback/score/metadata; ``logs_api.py``), and ``/_emulator/health``,
``/_emulator/requests`` (masked request log), ``POST /_emulator/clear``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from . import logs_api
from .gateway import Pipeline
from .http import Incoming, Outgoing
from .state import EmulatorState

INSTALL_HINT = (
    "the pytest-cfgateway gateway emulator needs starlette and uvicorn; "
    "install them with: pip install 'pytest-cfgateway[emulator]'"
)
logger = logging.getLogger("pytest_cfgateway.emulator")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class EmulatorDependencyError(ImportError):
    """starlette/uvicorn are missing; the message names the install command."""


def _json(status: int, body: Any) -> Outgoing:
    return Outgoing(status, {"content-type": "application/json"}, json.dumps(body).encode())


def _v4(status: int, result: Any, errors: list[dict[str, Any]] | None = None) -> Outgoing:
    body = {"result": result, "success": not errors, "errors": errors or [], "messages": []}
    return _json(status, body)


def _not_found() -> Outgoing:
    return _v4(404, None, [{"code": 7000, "message": "No route for that URI"}])


def _admin(state: EmulatorState, inc: Incoming) -> Outgoing:
    if inc.path == "/_emulator/health":
        return _json(200, {"ok": True})
    if inc.path == "/_emulator/requests" and inc.method == "GET":
        return _json(200, [r.to_json() for r in list(state.requests)])
    if inc.path == "/_emulator/clear" and inc.method == "POST":
        state.clear()
        return _json(200, {"ok": True})
    return _not_found()


async def _drop(send: Send) -> bool:
    """Close the client connection without a response (uvicorn's transport); False if the
    server does not expose it."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.close()
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
    return True


async def _send_chunks(out: Outgoing, send: Send) -> None:
    """A streamed answer: headers, then each chunk (``chunk_delay_ms`` apart, chunked
    transfer encoding); an injected cut closes the connection after ``cut_after`` chunks."""
    chunks = out.chunks or []
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out.headers.items()]
    await send({"type": "http.response.start", "status": out.status, "headers": headers})
    for i, chunk in enumerate(chunks):
        if out.cut_after is not None and i >= out.cut_after:
            break
        if i and out.chunk_delay_ms > 0:
            await asyncio.sleep(out.chunk_delay_ms / 1000)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    if out.cut_after is not None:
        if not await _drop(send):
            raise ConnectionAbortedError("emulator fault: drop (server cannot close the socket)")
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def build_app(state: EmulatorState) -> ASGIApp:
    """The ASGI callable serving ``state``; raises ``EmulatorDependencyError`` without starlette."""
    try:
        from starlette.requests import Request
        from starlette.responses import Response
    except ImportError as exc:
        raise EmulatorDependencyError(INSTALL_HINT) from exc
    pipeline = Pipeline(state)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope, receive)
        inc = Incoming(
            method=request.method,
            path=scope["path"],
            query=dict(request.query_params),
            headers=dict(request.headers),
            body=await request.body(),
        )
        try:
            if inc.path.startswith("/v1/") and inc.path.strip("/").count("/") >= 2:
                out = await pipeline.handle(inc)
            elif inc.path.startswith("/_emulator/"):
                out = _admin(state, inc)
            elif m := logs_api.PATH.match(inc.path):
                out = logs_api.handle(state, inc, m)
            else:
                out = _not_found()
        except Exception as exc:  # a bug in the emulator: answer it, never hang the client
            logger.exception("emulator error on %s %s", inc.method, inc.path)
            out = _json(500, {"error": {"message": f"emulator internal error: {exc!r}"}})
        if out.drop and await _drop(send):
            return
        if out.drop:
            raise ConnectionAbortedError("emulator fault: drop (server cannot close the socket)")
        if out.chunks is not None:
            await _send_chunks(out, send)
            return
        await Response(out.body, status_code=out.status, headers=out.headers)(scope, receive, send)

    return app
