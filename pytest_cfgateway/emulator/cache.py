"""The gateway's response cache: exact-match, per gateway, TTL-bound, errors never stored."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Mapping

MIN_TTL = 60
MAX_TTL = 2_592_000  # one month
KEY_ONLY_TTL = 300  # cf-aig-cache-key without any TTL -> 5 minutes


@dataclasses.dataclass(frozen=True)
class CachedReply:
    """A stored successful answer."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    model: str
    provider: str
    expires_at: float


def clamp_ttl(ttl: int) -> int:
    """TTLs are clamped to the gateway's 60 s .. one month range."""
    return max(MIN_TTL, min(MAX_TTL, ttl))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


@dataclasses.dataclass(frozen=True)
class CachePolicy:
    """How one request uses the cache."""

    enabled: bool
    ttl: int = 0
    key: str = ""
    skip_read: bool = False


def policy(
    headers: Mapping[str, str],
    gateway_ttl: int | None,
    *,
    scope: str,
    provider: str,
    endpoint: str,
    model: str,
    auth: str,
    body: bytes,
) -> CachePolicy | str:
    """The cache policy of a request, or an error message for a bad ``cf-aig-cache-ttl``.

    Caching is on when the gateway has a TTL, the request sends ``cf-aig-cache-ttl`` > 0, or it
    sends ``cf-aig-cache-key``; ``cf-aig-cache-ttl: 0`` turns it off for the request.
    """
    raw_ttl = headers.get("cf-aig-cache-ttl", headers.get("cf-cache-ttl"))
    custom = headers.get("cf-aig-cache-key")
    ttl = gateway_ttl or 0
    if raw_ttl is not None:
        try:
            ttl = int(raw_ttl.strip())
        except ValueError:
            return f"cf-aig-cache-ttl must be a whole number of seconds, got {raw_ttl!r}"
        if ttl < 0:
            return f"cf-aig-cache-ttl must be >= 0, got {ttl}"
    if raw_ttl is not None and ttl == 0:
        return CachePolicy(enabled=False)
    if ttl <= 0 and not custom:
        return CachePolicy(enabled=False)
    if ttl <= 0:
        ttl = KEY_ONLY_TTL
    if custom:
        key = hashlib.sha256(f"{scope}\x00key\x00{custom}".encode()).hexdigest()
    else:
        h = hashlib.sha256()
        for part in (scope, provider, endpoint, model, auth):
            h.update(part.encode())
            h.update(b"\x00")
        h.update(body)
        key = h.hexdigest()
    skip = _truthy(headers.get("cf-aig-skip-cache", headers.get("cf-skip-cache")))
    return CachePolicy(enabled=True, ttl=clamp_ttl(ttl), key=key, skip_read=skip)


class ResponseCache:
    """Thread-safe store of ``CachedReply`` by key."""

    def __init__(self) -> None:
        self._items: dict[str, CachedReply] = {}
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> CachedReply | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None and item.expires_at <= now:
                del self._items[key]
                return None
            return item

    def put(self, key: str, item: CachedReply) -> None:
        with self._lock:
            self._items[key] = item

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
