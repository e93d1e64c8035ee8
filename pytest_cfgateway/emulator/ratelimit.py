"""Gateway-level rate limiting: N requests per window, fixed (clock-aligned) or sliding."""

from __future__ import annotations

import collections
import threading
from typing import Literal

Technique = Literal["fixed", "sliding"]


class RateLimiter:
    """Counts allowed requests per gateway; rejected requests are not counted."""

    def __init__(self) -> None:
        self._fixed: dict[str, tuple[int, int]] = {}
        self._sliding: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def allow(
        self, scope: str, now: float, limit: int, period: float, technique: Technique
    ) -> bool:
        """True (and counted) when one more request fits ``limit`` per ``period`` seconds."""
        with self._lock:
            if technique == "fixed":
                window = int(now // period)
                current, count = self._fixed.get(scope, (window, 0))
                if current != window:
                    count = 0
                if count >= limit:
                    return False
                self._fixed[scope] = (window, count + 1)
                return True
            stamps = self._sliding.setdefault(scope, collections.deque())
            while stamps and stamps[0] <= now - period:
                stamps.popleft()
            if len(stamps) >= limit:
                return False
            stamps.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._fixed.clear()
            self._sliding.clear()
