"""Types shared by the provider wire formats: the call a handler sees, the reply it builds,
and each provider family's own error format.

A handler never raises for a bad request: it answers the error the real provider would,
so a wrong client is caught exactly where the real provider would catch it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from .rules import Rule

if TYPE_CHECKING:
    from .wire_replicate import Predictions

ErrorKind = Literal[
    "auth_missing", "auth_invalid", "invalid_request", "not_found", "rate_limit", "server"
]


@dataclasses.dataclass
class ProviderCall:
    """One request as it reaches a provider (after gateway checks and BYOK injection)."""

    provider: str  # gateway slug
    path: str  # route after the slug, no leading slash, no query
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: Any  # parsed JSON; None when empty; NOT_JSON when unparsable
    method: str = "POST"


NOT_JSON: Any = object()
"""Sentinel body for a request whose body was not valid JSON."""


@dataclasses.dataclass
class Reply:
    """A provider's answer. ``cacheable`` is False for unfinished or error answers."""

    status: int
    body: Any
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    cacheable: bool = True
    gateway_code: int | None = None  # set when the gateway itself answered (AiGatewayError)
    fault: str | None = None  # set when an injected fault answered
    #: A streamed reply: its server-sent events, each a complete ``...\n\n`` block, sent one
    #: by one (``body`` is their concatenation). Streams are never cached.
    stream: list[str] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


ErrorStyle = Callable[[int, ErrorKind, str], Any]
"""``(status, kind, message) -> body`` in one provider family's error format."""


def openai_error(status: int, kind: ErrorKind, message: str) -> Any:
    """OpenAI (and OpenAI-compatible) ``{"error": {message, type, param, code}}``."""
    types = {
        "auth_missing": ("invalid_request_error", None),
        "auth_invalid": ("invalid_request_error", "invalid_api_key"),
        "invalid_request": ("invalid_request_error", None),
        "not_found": ("invalid_request_error", None),
        "rate_limit": ("requests", "rate_limit_exceeded"),
        "server": ("server_error", None),
    }
    etype, code = types[kind]
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def azure_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Azure OpenAI ``{"error": {"code", "message"}}``."""
    codes = {
        "auth_missing": "401",
        "auth_invalid": "401",
        "invalid_request": "BadRequest",
        "not_found": "404",
        "rate_limit": "429",
        "server": "InternalServerError",
    }
    return {"error": {"code": codes[kind], "message": message}}


def anthropic_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Anthropic ``{"type": "error", "error": {"type", "message"}}``."""
    types = {
        "auth_missing": "authentication_error",
        "auth_invalid": "authentication_error",
        "invalid_request": "invalid_request_error",
        "not_found": "not_found_error",
        "rate_limit": "rate_limit_error",
        "server": "overloaded_error" if status in (503, 529) else "api_error",
    }
    return {"type": "error", "error": {"type": types[kind], "message": message}}


def google_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Google ``{"error": {"code", "message", "status"}}``."""
    statuses = {
        "auth_missing": "PERMISSION_DENIED",
        "auth_invalid": "INVALID_ARGUMENT",
        "invalid_request": "INVALID_ARGUMENT",
        "not_found": "NOT_FOUND",
        "rate_limit": "RESOURCE_EXHAUSTED",
        "server": "UNAVAILABLE" if status == 503 else "INTERNAL",
    }
    return {"error": {"code": status, "message": message, "status": statuses[kind]}}


def cohere_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Cohere ``{"id", "message"}``."""
    return {"id": str(uuid.uuid4()), "message": message}


def workers_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Cloudflare v4 envelope with plural ``errors`` (Workers AI)."""
    codes = {
        "auth_missing": 10000,
        "auth_invalid": 10000,
        "invalid_request": 5006,
        "not_found": 5007,
        "rate_limit": 3040,
        "server": 3043,
    }
    return {
        "result": None,
        "success": False,
        "errors": [{"code": codes[kind], "message": message}],
        "messages": [],
    }


def huggingface_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Hugging Face Inference ``{"error": message}``."""
    return {"error": message}


def replicate_error(status: int, kind: ErrorKind, message: str) -> Any:
    """Replicate problem+json ``{"title", "detail", "status"}``."""
    titles = {
        "auth_missing": "Unauthenticated",
        "auth_invalid": "Unauthenticated",
        "invalid_request": "Input validation failed",
        "not_found": "Not found",
        "rate_limit": "Request was throttled",
        "server": "Internal server error",
    }
    return {"title": titles[kind], "detail": message, "status": status}


def error_reply(style: ErrorStyle, status: int, kind: ErrorKind, message: str) -> Reply:
    """A non-cacheable error ``Reply`` in ``style``."""
    return Reply(status=status, body=style(status, kind, message), cacheable=False)


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event: optional ``event:`` line, one ``data:`` line, blank line."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "") + f"data: {text}\n\n"


def stream_reply(events: list[str], model: str, tokens_in: int, tokens_out: int) -> Reply:
    """A 200 ``text/event-stream`` reply made of ``events`` (never cacheable)."""
    return Reply(
        status=200,
        body="".join(events),
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        headers={"content-type": "text/event-stream; charset=utf-8"},
        cacheable=False,
        stream=events,
    )


def stream_pieces(text: str) -> list[str]:
    """``text`` cut into word-sized pieces that join back to it exactly."""
    return re.findall(r"\s*\S+|\s+$", text) if text else []


def words(text: str) -> int:
    """Whitespace word count, at least 1: the emulator's deterministic token count."""
    return max(1, len(text.split()))


@dataclasses.dataclass
class Ctx:
    """What a handler may use besides the call: reply rules and emulator knobs."""

    rules: list[Rule]
    predictions: Predictions
    replicate_polls: int = 2  # GETs before an unfinished prediction succeeds
    replicate_wait_finishes: bool = True  # with ``Prefer: wait``, answer a finished prediction
    embedding_dimensions: int = 16


def bad_json(style: ErrorStyle, message: str = "The request body is not valid JSON.") -> Reply:
    """400 for an unparsable body, in ``style``."""
    return error_reply(style, 400, "invalid_request", message)


def is_int(value: Any) -> TypeGuard[int]:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[float]:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def error_kind(status: int) -> ErrorKind:
    """The ``ErrorKind`` that best describes an HTTP error ``status``."""
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth_invalid"
    if status == 404:
        return "not_found"
    return "server" if status >= 500 else "invalid_request"


def rule_error(style: ErrorStyle, status: int) -> Reply:
    """The error a reply rule with ``status`` asks for, in ``style``."""
    return error_reply(
        style, status, error_kind(status), f"Error {status} requested by an emulator reply rule."
    )
