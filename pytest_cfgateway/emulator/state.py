"""The emulator's settings (all changeable while it runs) and its stores (request log, cache,
rate-limit counters, Replicate predictions)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .cache import ResponseCache
from .faults import Faults
from .logs_api import LogsApi
from .ratelimit import RateLimiter, Technique
from .records import RecordedRequest
from .rules import Rule, load_rules
from .wire_replicate import Predictions


class EmulatorConfigError(ValueError):
    """A bad emulator setting; the message names the setting and the fix."""


def _gateways(value: Iterable[str] | str | None) -> set[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out: set[str] = set()
    for item in items:
        item = str(item).strip().strip("/")
        if not item:
            continue
        if item.count("/") != 1 or not all(item.split("/")):
            raise EmulatorConfigError(
                f"gateways: {item!r} is not 'account_id/gateway_id' (e.g. 'acct/gw')"
            )
        out.add(item)
    return out


def _byok(value: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for provider, keys in (value or {}).items():
        if isinstance(keys, str):
            keys = {"default": keys}
        if not isinstance(keys, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in keys.items()
        ):
            raise EmulatorConfigError(
                f"byok[{provider!r}]: give a key string or a mapping alias -> key string"
            )
        out[str(provider)] = dict(keys)
    return out


def _valid_keys(value: Mapping[str, Iterable[str] | str] | None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for provider, keys in (value or {}).items():
        out[str(provider)] = {keys} if isinstance(keys, str) else {str(k) for k in keys}
    return out


def _rate_limit(value: tuple[int, float] | str | None) -> tuple[int, float] | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            n, _, s = value.partition("/")
            limit, period = int(n), float(s)
        else:
            limit, period = int(value[0]), float(value[1])
    except (TypeError, ValueError, IndexError):
        raise EmulatorConfigError(
            f"rate_limit: expected (requests, seconds) like (10, 60) or '10/60', got {value!r}"
        ) from None
    if limit < 1 or period <= 0:
        raise EmulatorConfigError("rate_limit: requests must be >= 1 and seconds > 0")
    return limit, period


class EmulatorState:
    """Settings and stores shared by the HTTP app and the controlling ``Emulator``."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        first_byte_delay_ms: float = 0.0,
        chunk_delay_ms: float = 0.0,
        error_rate: float = 0.0,
        fail_next: Iterable[Any] | None = None,
        seed: int = 0,
        token: str | None = None,
        gateways: Iterable[str] | str | None = None,
        rules: str | Path | Iterable[Any] | None = None,
        byok: Mapping[str, Any] | None = None,
        valid_keys: Mapping[str, Iterable[str] | str] | None = None,
        cache_ttl: int | Mapping[str, int] | None = None,
        rate_limit: tuple[int, float] | str | None = None,
        rate_limit_technique: Technique = "fixed",
        replicate_polls: int = 2,
        replicate_wait_finishes: bool = True,
        embedding_dimensions: int = 16,
        record_requests: bool = True,
        custom_providers: Iterable[str] = (),
    ) -> None:
        self._defaults: dict[str, Any] = {
            k: v for k, v in locals().items() if k not in ("self", "__class__")
        }
        self.faults = Faults()
        self.time_offset = 0.0
        self.requests: list[RecordedRequest] = []
        self.cache = ResponseCache()
        self.limiter = RateLimiter()
        self.predictions = Predictions()
        self.logs_api = LogsApi()  # the v4 Logs API's token and faults (logs_api.py)
        self._log_lock = threading.Lock()
        self._apply(self._defaults)

    def _apply(self, s: dict[str, Any]) -> None:
        f = self.faults
        f.latency_ms = float(s["latency_ms"])
        f.first_byte_delay_ms = float(s["first_byte_delay_ms"])
        f.chunk_delay_ms = float(s["chunk_delay_ms"])
        f.error_rate = float(s["error_rate"])
        f.fail_next = list(s["fail_next"] or [])
        f.seed = int(s["seed"])
        try:
            f.validate()
        except ValueError as exc:
            raise EmulatorConfigError(str(exc)) from None
        self.token: str | None = s["token"]
        self.gateways = s["gateways"]
        self.rules = s["rules"]
        self.byok = s["byok"]
        self.valid_keys = s["valid_keys"]
        self.cache_ttl: int | Mapping[str, int] | None = s["cache_ttl"]
        self.rate_limit = s["rate_limit"]
        self.rate_limit_technique = s["rate_limit_technique"]
        self.replicate_polls: int = s["replicate_polls"]
        self.replicate_wait_finishes: bool = s["replicate_wait_finishes"]
        self.embedding_dimensions: int = s["embedding_dimensions"]
        self.record_requests: bool = s["record_requests"]
        self.custom_providers = s["custom_providers"]
        self.time_offset = 0.0

    @property
    def custom_providers(self) -> frozenset[str]:
        """``custom-{slug}`` providers configured on the emulated gateway (OpenAI-compatible)."""
        return self._custom_providers

    @custom_providers.setter
    def custom_providers(self, value: Iterable[str] | str) -> None:
        items = [value] if isinstance(value, str) else list(value)
        for slug in items:
            if not isinstance(slug, str) or not slug.startswith("custom-") or len(slug) < 8:
                raise EmulatorConfigError(
                    f"custom_providers: {slug!r} is not a custom provider slug; "
                    "write it as the gateway does, e.g. 'custom-mine'"
                )
        self._custom_providers = frozenset(items)

    def reset(self) -> None:
        """Every setting back to what the constructor was given, faults restarted, stores
        cleared (what a session-wide emulator fixture calls between tests)."""
        self.faults.reset()
        self.logs_api.reset()
        self._apply(self._defaults)
        self.clear()

    # normalising setters ------------------------------------------------------------------

    @property
    def gateways(self) -> set[str] | None:
        """Known ``"account/gateway"`` ids; None accepts any (others get 400/2001)."""
        return self._gateways

    @gateways.setter
    def gateways(self, value: Iterable[str] | str | None) -> None:
        self._gateways = _gateways(value)

    @property
    def rules(self) -> list[Rule]:
        """Compiled reply rules (set a path, a list of mappings, or None)."""
        return self._rules

    @rules.setter
    def rules(self, value: str | Path | Iterable[Any] | None) -> None:
        self._rules = load_rules(value)

    @property
    def byok(self) -> dict[str, dict[str, str]]:
        """Stored provider keys: ``{"openai": {"default": "sk-...", "prod": "sk-..."}}``."""
        return self._byok

    @byok.setter
    def byok(self, value: Mapping[str, Any] | None) -> None:
        self._byok = _byok(value)

    @property
    def valid_keys(self) -> dict[str, set[str]]:
        """Per provider, the keys accepted (providers not listed accept any non-empty key)."""
        return self._valid_keys

    @valid_keys.setter
    def valid_keys(self, value: Mapping[str, Iterable[str] | str] | None) -> None:
        self._valid_keys = _valid_keys(value)

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        """``(requests, seconds)`` per gateway, or None for no limit."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: tuple[int, float] | str | None) -> None:
        self._rate_limit = _rate_limit(value)

    @property
    def rate_limit_technique(self) -> Technique:
        """``fixed`` (clock-aligned windows) or ``sliding`` (trailing window)."""
        return self._technique

    @rate_limit_technique.setter
    def rate_limit_technique(self, value: Technique) -> None:
        if value not in ("fixed", "sliding"):
            raise EmulatorConfigError(
                f"rate_limit_technique must be 'fixed' or 'sliding', got {value!r}"
            )
        self._technique = value

    # latency shortcuts (the values live in ``faults``) --------------------------------------

    @property
    def latency_ms(self) -> float:
        """Simulated model time per upstream attempt (never blocks the event loop)."""
        return self.faults.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self.faults.latency_ms = float(value)

    @property
    def first_byte_delay_ms(self) -> float:
        """Extra delay before the first byte of every answer (after ``latency_ms``)."""
        return self.faults.first_byte_delay_ms

    @first_byte_delay_ms.setter
    def first_byte_delay_ms(self, value: float) -> None:
        self.faults.first_byte_delay_ms = float(value)

    @property
    def chunk_delay_ms(self) -> float:
        """Streamed replies: the delay between consecutive chunks (server-sent events)."""
        return self.faults.chunk_delay_ms

    @chunk_delay_ms.setter
    def chunk_delay_ms(self, value: float) -> None:
        if float(value) < 0:
            raise EmulatorConfigError(f"chunk_delay_ms must be >= 0, got {value!r}")
        self.faults.chunk_delay_ms = float(value)

    @property
    def error_rate(self) -> float:
        """Fraction of upstream attempts answered with an injected 500/502/503."""
        return self.faults.error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        if not 0.0 <= float(value) <= 1.0:
            raise EmulatorConfigError(f"error_rate must be between 0 and 1, got {value!r}")
        self.faults.error_rate = float(value)

    # helpers used by the app ----------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds plus ``time_offset`` (see ``advance_time``)."""
        return time.time() + self.time_offset

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock forward (expires cache entries, opens rate windows)."""
        self.time_offset += seconds

    def gateway_cache_ttl(self, scope: str) -> int | None:
        """The gateway-level cache TTL for ``"acct/gw"``."""
        ttl = self.cache_ttl
        if isinstance(ttl, Mapping):
            return ttl.get(scope)
        return ttl

    def record(self, entry: RecordedRequest) -> None:
        if self.record_requests:
            with self._log_lock:
                self.requests.append(entry)

    def clear(self) -> None:
        """Forget the request log, cache, rate-limit counters and predictions."""
        with self._log_lock:
            self.requests.clear()
        self.cache.clear()
        self.limiter.clear()
        self.predictions.clear()
