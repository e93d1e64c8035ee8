"""The emulator's request log: one ``RecordedRequest`` per HTTP request it answered.

Header values that carry credentials stay readable in memory (tests assert on them) but are
masked in every ``repr`` and in the JSON served at ``/_emulator/requests``, so a failing
assertion or a log dump never prints a key.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

#: Header names whose values are credentials.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cf-aig-authorization",
        "xi-api-key",
        "cookie",
    }
)
#: Query parameters whose values are credentials (Gemini accepts ``?key=``).
SECRET_QUERY = frozenset({"key", "api_key", "api-key"})


def mask(value: str) -> str:
    """``Bearer sk-abc...`` -> ``Bearer <redacted>``; anything else -> ``<redacted>``."""
    scheme, sep, _rest = value.partition(" ")
    if sep and scheme.lower() in {"bearer", "token", "key", "basic"}:
        return f"{scheme} <redacted>"
    return "<redacted>"


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credential values replaced by ``<redacted>``."""
    return {k: (mask(v) if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def masked_body(body: Any) -> Any:
    """A copy of a JSON body with credential headers inside Universal steps masked."""
    if isinstance(body, list):
        return [masked_body(step) for step in body]
    if isinstance(body, dict) and isinstance(body.get("headers"), dict):
        copy = dict(body)
        copy["headers"] = masked_headers({str(k): str(v) for k, v in body["headers"].items()})
        return copy
    return body


class SecretHeaders(dict[str, str]):
    """A plain ``dict`` of lower-case headers whose ``repr`` hides credential values."""

    def __repr__(self) -> str:
        return repr(masked_headers(dict(self)))


class SecretQuery(dict[str, str]):
    """A plain ``dict`` of query parameters whose ``repr`` hides credential values."""

    def __repr__(self) -> str:
        return repr({k: ("<redacted>" if k in SECRET_QUERY else v) for k, v in self.items()})


def new_id() -> str:
    """A lowercase UUIDv7 string, as the gateway uses for log/request ids since 2026-10."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclasses.dataclass
class StepAttempt:
    """One upstream attempt of a request (Universal requests have one per step and retry)."""

    step: int
    provider: str
    path: str
    status: int
    cache_status: str = "MISS"
    fault: str | None = None  # "injected 503", "timeout", ...


@dataclasses.dataclass(repr=False)
class RecordedRequest:
    """What the emulator saw and answered for one HTTP request."""

    method: str
    path: str  # full URL path, e.g. /v1/acct/gw/openai/chat/completions
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None when the body was empty / not JSON
    account_id: str = ""
    gateway_id: str = ""
    provider: str = ""  # slug that answered ("compat", "openai", ...; "" for gateway errors)
    route: str = ""  # path after the provider slug
    model: str = ""
    status: int = 0
    cache_status: str = "MISS"
    step: int = 0
    log_id: str = ""
    event_id: str = ""
    request_id: str = ""
    gateway_code: int | None = None  # internalCode when the gateway itself answered an error
    fault: str | None = None  # which injected fault answered, if any
    byok_alias: str | None = None  # the stored key alias used, if BYOK supplied the key
    metadata: dict[str, Any] | None = None
    custom_cost: dict[str, Any] | None = None
    cost: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    collect_log: bool = True
    attempts: list[StepAttempt] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    created_at: float = dataclasses.field(default_factory=time.time)
    duration_ms: float = 0.0
    feedback: int | None = None  # written through the Logs API (logs_api.py)
    score: float | None = None

    def __repr__(self) -> str:
        return (
            f"RecordedRequest({self.method} {self.path} provider={self.provider!r} "
            f"model={self.model!r} status={self.status} cache={self.cache_status} "
            f"step={self.step} code={self.gateway_code} fault={self.fault})"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict with credentials masked (for ``/_emulator/requests``)."""
        data = dataclasses.asdict(self)
        data["headers"] = masked_headers(self.headers)
        data["query"] = {
            k: ("<redacted>" if k in SECRET_QUERY else v) for k, v in self.query.items()
        }
        data["body"] = masked_body(self.body)
        return data
