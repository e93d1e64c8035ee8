"""``--cf-max-cost``: the estimated spend of the run's live calls and the check before each
new one."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from .settings import Settings


class Budget:
    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self._spent = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_config(cls, config: pytest.Config, settings: Settings) -> Budget:
        return cls(settings.max_cost)

    @property
    def spent(self) -> float:
        return self._spent

    def check(self) -> None:
        """Refuse a new live call once the estimated spend has passed --cf-max-cost."""
        limit = self.limit
        if limit is not None and self._spent >= limit:
            from ..gateway.errors import BudgetExceededError

            raise BudgetExceededError(
                f"--cf-max-cost {limit:g}: the estimated spend is ${self._spent:.4f}, so no "
                "new live calls are made; raise the budget or record fewer cases"
            )

    def add(self, cost: float) -> None:
        with self._lock:
            self._spent += cost

    def close(self) -> None:
        return None
