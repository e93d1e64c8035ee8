"""Fault injection: a deterministic queue of faults plus a seeded random error rate.

``fail_next`` entries are consumed one per upstream attempt, in order:

- an int status (``429``, ``500``, ``502``, ``503``, ...): the provider answers that error in its
  own format (429 carries ``Retry-After``);
- ``"drop"``: the connection is closed without any response;
- ``"drop:N"`` / ``{"kind": "drop", "after_chunks": N}``: a mid-stream cut: the status, the
  headers and the first N chunks (server-sent events) of a streamed reply are sent, then the
  connection is closed (a non-streamed reply counts as one chunk: N=0 cuts its body);
- ``"slow"``: the first byte is delayed by ``slow_ms`` (default 5000 ms), then a normal answer;
- a mapping ``{"status": 503}`` / ``{"kind": "drop"}`` / ``{"kind": "slow", "delay_ms": 800}``,
  optionally with ``"provider": "openai"`` (consumed only by that provider's requests) and
  ``"retry_after": 2`` (seconds, for 429).

Streamed replies also get ``chunk_delay_ms`` between consecutive chunks (the first chunk
follows ``latency_ms + first_byte_delay_ms``, the time to first byte).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Mapping
from typing import Any, Literal

FaultKind = Literal["status", "drop", "slow"]


class FaultError(ValueError):
    """A fault specification the emulator cannot use; the message says what is allowed."""


@dataclasses.dataclass(frozen=True)
class Fault:
    """One injected fault."""

    kind: FaultKind
    status: int = 0
    provider: str | None = None
    retry_after: float | None = None
    delay_ms: float = 0.0
    after_chunks: int | None = None  # "drop" only: cut mid-stream after this many chunks

    @property
    def label(self) -> str:
        """Short description stored in the request log (``injected 503``, ``drop``, ...)."""
        if self.kind == "status":
            return f"injected {self.status}"
        if self.kind == "slow":
            return f"slow {self.delay_ms:g}ms"
        if self.after_chunks is not None:
            return f"drop after {self.after_chunks} chunks"
        return "drop"


def _chunks(value: Any, spec: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FaultError(f"fault {spec!r}: after_chunks must be an integer >= 0")
    return value


def parse_fault(spec: Any, slow_ms: float = 5000.0) -> Fault:
    """Turn one ``fail_next`` entry into a ``Fault``; raises ``FaultError`` naming the fix."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, bool):
        raise FaultError(f"fault {spec!r}: use an HTTP status like 503, 'drop' or 'slow'")
    if isinstance(spec, int):
        if not 400 <= spec <= 599:
            raise FaultError(f"fault {spec}: an injected status must be between 400 and 599")
        return Fault("status", status=spec)
    if isinstance(spec, str):
        if spec == "drop":
            return Fault("drop")
        if spec.startswith("drop:"):
            return Fault("drop", after_chunks=_chunks(spec[5:], spec))
        if spec == "slow":
            return Fault("slow", delay_ms=slow_ms)
        if spec.isdigit():
            return parse_fault(int(spec), slow_ms)
        raise FaultError(f"fault {spec!r}: use an HTTP status like 503, 'drop' or 'slow'")
    if isinstance(spec, Mapping):
        allowed = {"status", "kind", "provider", "retry_after", "delay_ms", "after_chunks"}
        unknown = set(spec) - allowed
        if unknown:
            raise FaultError(
                f"fault {dict(spec)!r}: unknown key(s) {sorted(unknown)}; allowed: status, "
                "kind, provider, retry_after, delay_ms, after_chunks"
            )
        kind = spec.get("kind", "status" if "status" in spec else None)
        base = parse_fault(spec["status"] if kind == "status" else kind, slow_ms) if kind else None
        if base is None:
            raise FaultError(f"fault {dict(spec)!r}: give 'status' or 'kind' (drop | slow)")
        delay = spec.get("delay_ms", base.delay_ms)
        after = spec.get("after_chunks")
        if after is not None and base.kind != "drop":
            raise FaultError(f"fault {dict(spec)!r}: after_chunks only goes with kind: drop")
        return dataclasses.replace(
            base,
            provider=spec.get("provider"),
            retry_after=spec.get("retry_after"),
            delay_ms=float(delay),
            after_chunks=None if after is None else _chunks(after, dict(spec)),
        )
    raise FaultError(f"fault {spec!r}: use an HTTP status like 503, 'drop', 'slow' or a mapping")


@dataclasses.dataclass
class Faults:
    """Latency and fault settings; mutable at any time (they are read per request)."""

    latency_ms: float = 0.0
    first_byte_delay_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    fail_next: list[Any] = dataclasses.field(default_factory=list)
    retry_after: float = 1.0  # seconds, sent on injected 429s
    slow_ms: float = 5000.0  # delay of a bare "slow" fault
    seed: int = 0
    chunk_delay_ms: float = 0.0  # streamed replies: delay between consecutive chunks

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._seeded = self.seed
        self.validate()

    def validate(self) -> None:
        """Check the current settings; raises ``FaultError`` with the fix."""
        if not 0.0 <= float(self.error_rate) <= 1.0:
            raise FaultError(f"error_rate must be between 0 and 1, got {self.error_rate!r}")
        if self.latency_ms < 0 or self.first_byte_delay_ms < 0 or self.chunk_delay_ms < 0:
            raise FaultError("latency_ms, first_byte_delay_ms and chunk_delay_ms must be >= 0")
        for spec in self.fail_next:
            parse_fault(spec, self.slow_ms)

    def reset(self) -> None:
        """Back to no latency, no faults, and the random sequence restarted from ``seed``."""
        with self._lock:
            self.latency_ms = self.first_byte_delay_ms = self.error_rate = 0.0
            self.chunk_delay_ms = 0.0
            self.fail_next = []
            self._rng = random.Random(self.seed)
            self._seeded = self.seed

    def reseed(self, seed: int | None = None) -> None:
        """Restart the random sequence (from ``seed`` when given)."""
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)
            self._seeded = self.seed

    def next_fault(self, providers: tuple[str, ...]) -> Fault | None:
        """The fault for the next upstream attempt to one of ``providers``, or None."""
        with self._lock:
            queue = self.fail_next
            for i, spec in enumerate(queue):
                fault = parse_fault(spec, self.slow_ms)
                if fault.provider is None or fault.provider in providers:
                    del queue[i]
                    return fault
            if self.error_rate <= 0:
                return None
            if self._seeded != self.seed:
                self._rng = random.Random(self.seed)
                self._seeded = self.seed
            if self._rng.random() < self.error_rate:
                return Fault("status", status=self._rng.choice(self.error_statuses))
            return None
