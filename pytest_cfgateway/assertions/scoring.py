"""Combining assertion results into one verdict (promptfoo's ``AssertionsResult``).

Rules (``reference/promptfoo.md`` section 3.6):

- each component adds ``score * weight`` to a running total and ``weight`` to the weight sum
  (default weight 1); the aggregate score is ``total / weight_sum`` (0 when the sum is 0);
- metric-only components (``weight: 0``, or a handler that marks its result ``metric_only``)
  contribute nothing to the score nor to pass/fail; they still feed named metrics;
- without a threshold every (non metric-only) component must pass, and the reason is the
  reason of the *last* failing component: promptfoo overwrites its ``failedReason`` as
  results arrive, plain assertions in config order first, then the ``assert-set`` groups
  (``group=True``), so a failing set's reason wins over a failing plain assertion;
- with a numeric threshold the verdict is ``score >= threshold`` (``threshold: 0`` always
  passes; ``None``/NaN means "no threshold") and the reason is
  ``"Aggregate score 0.33 < 0.5 threshold"``;
- ``metric`` names get the weighted average of their components' scores; named scores a
  component carries itself (a script's ``named_scores``, a nested assert-set) merge in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

from .base import GradingResult

NO_ASSERTIONS = "No assertions"
ALL_PASSED = "All assertions passed"


def format_number(value: float) -> str:
    """A number the way JavaScript prints it: ``1`` not ``1.0``, ``0.5`` stays ``0.5``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if float(value).is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(float(value))


def effective_threshold(threshold: float | None) -> float | None:
    """``None`` for a missing, null or NaN threshold, else the number."""
    if threshold is None or isinstance(threshold, bool):
        return None
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


@dataclasses.dataclass
class ScoredEntry:
    """One component of an aggregate: its result and how it counts."""

    result: GradingResult
    weight: float = 1.0
    metric: str | None = None
    metric_only: bool = False
    group: bool = False  # an assert-set: promptfoo adds these after the plain assertions


class ScoreAccumulator:
    """Collects component results and produces the aggregate `GradingResult`."""

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold = effective_threshold(threshold)
        self._entries: list[ScoredEntry] = []

    def add(
        self,
        result: GradingResult,
        *,
        weight: float | None = 1.0,
        metric: str | None = None,
        metric_only: bool = False,
        group: bool = False,
    ) -> None:
        """Add one component (in config order); ``group`` marks an assert-set."""
        w = 1.0 if weight is None else float(weight)
        only = metric_only or result.metric_only
        self._entries.append(ScoredEntry(result, w, metric or None, only, group))

    def extend(self, entries: Iterable[ScoredEntry]) -> None:
        """Add several prepared entries."""
        for entry in entries:
            self.add(
                entry.result,
                weight=entry.weight,
                metric=entry.metric,
                metric_only=entry.metric_only,
                group=entry.group,
            )

    @property
    def entries(self) -> list[ScoredEntry]:
        return list(self._entries)

    def result(self) -> GradingResult:
        """The aggregate verdict of everything added so far."""
        total = 0.0
        weight_sum = 0.0
        failed: GradingResult | None = None
        failed_group: GradingResult | None = None
        named: dict[str, float] = {}
        named_weights: dict[str, float] = {}
        tokens = 0
        for entry in self._entries:
            res = entry.result
            if not entry.metric_only:
                total += _finite(res.score) * entry.weight
                weight_sum += entry.weight
            metric_weight = 1.0 if entry.metric_only else entry.weight
            if entry.metric:
                named[entry.metric] = named.get(entry.metric, 0.0) + (
                    _finite(res.score) * metric_weight
                )
                named_weights[entry.metric] = named_weights.get(entry.metric, 0.0) + metric_weight
            for name, score in res.named_scores.items():
                if name == entry.metric:
                    continue
                named[name] = named.get(name, 0.0) + _finite(score) * metric_weight
                named_weights[name] = named_weights.get(name, 0.0) + metric_weight
            tokens += res.tokens_used
            if not res.passed and not entry.metric_only:
                if entry.group:
                    failed_group = res
                else:
                    failed = res
        if failed_group is not None:  # (a GradingResult is falsy when it failed)
            failed = failed_group

        score = total / weight_sum if weight_sum > 0 else 0.0
        passed = failed is None
        reason = failed.reason if failed is not None else ALL_PASSED
        if self.threshold is not None:
            passed = score >= self.threshold
            comparator = "≥" if passed else "<"
            reason = (
                f"Aggregate score {score:.2f} {comparator} "
                f"{format_number(self.threshold)} threshold"
            )
        named_scores = {
            k: (v / named_weights[k] if named_weights.get(k, 0.0) > 0 else 0.0)
            for k, v in named.items()
        }
        grader_error = not passed and any(
            (not e.result.passed) and e.result.grader_error and not e.metric_only
            for e in self._entries
        )
        return GradingResult(
            passed=passed,
            score=score,
            reason=reason,
            component_results=[e.result for e in self._entries],
            named_scores=named_scores,
            grader_error=grader_error,
            tokens_used=tokens,
        )


def no_assertions_result() -> GradingResult:
    """The verdict of a test without assertions: pass, score 1."""
    return GradingResult(passed=True, score=1.0, reason=NO_ASSERTIONS)


def _finite(value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0
