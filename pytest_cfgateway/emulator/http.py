"""The emulator's HTTP exchange types, below the request pipeline (`gateway.py`) and the Logs
API (`logs_api.py`), which both use them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .wire import NOT_JSON


@dataclasses.dataclass
class Incoming:
    """One HTTP request as the app received it (header names lower-case)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclasses.dataclass
class Outgoing:
    """The HTTP answer; ``drop`` closes the connection without any response."""

    status: int
    headers: dict[str, str]
    body: bytes
    drop: bool = False
    #: Streamed answers: the chunks to send one by one (``body`` is unused), the delay
    #: between them, and an injected cut after that many chunks (None: no cut).
    chunks: list[bytes] | None = None
    chunk_delay_ms: float = 0.0
    cut_after: int | None = None


def parse_json(raw: bytes) -> Any:
    """The parsed body; None when empty; ``NOT_JSON`` when it is not JSON."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return NOT_JSON
