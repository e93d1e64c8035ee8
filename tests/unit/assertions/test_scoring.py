"""ScoreAccumulator: promptfoo's aggregation rules (weights, thresholds, metrics, errors)."""

from __future__ import annotations

import math

import pytest

from pytest_cfgateway.assertions.base import GradingResult
from pytest_cfgateway.assertions.scoring import (
    ScoreAccumulator,
    effective_threshold,
    format_number,
    no_assertions_result,
)


def r(passed: bool, score: float | None = None, reason: str = "", **kw: object) -> GradingResult:
    s = (1.0 if passed else 0.0) if score is None else score
    return GradingResult(passed=passed, score=s, reason=reason or f"r{s}", **kw)  # type: ignore[arg-type]


# (components [(result, weight, metric, metric_only)], threshold, passed, score, reason)
CASES = [
    pytest.param(
        [(r(True), 1, None, False)], None, True, 1.0, "All assertions passed", id="one-pass"
    ),
    pytest.param(
        [
            (r(True), 1, None, False),
            (r(False, reason="first"), 1, None, False),
            (r(False, reason="second"), 1, None, False),
        ],
        None,
        False,
        1 / 3,
        "second",  # promptfoo 0.123.1 keeps overwriting failedReason: the last one wins
        id="last-failing-reason",
    ),
    pytest.param(
        [(r(True, 0.8), 2, None, False), (r(True, 0.2), 1, None, False)],
        None,
        True,
        (0.8 * 2 + 0.2) / 3,
        "All assertions passed",
        id="weights-multiply",
    ),
    pytest.param(
        [(r(True), 1, None, False), (r(False, reason="ignored"), 0, None, True)],
        None,
        True,
        1.0,
        "All assertions passed",
        id="metric-only-excluded",
    ),
    pytest.param(
        [(r(True), 1, None, False), (r(False), 1, None, False), (r(False), 1, None, False)],
        0.5,
        False,
        1 / 3,
        "Aggregate score 0.33 < 0.5 threshold",
        id="threshold-fail",
    ),
    pytest.param(
        [(r(True), 1, None, False), (r(False), 1, None, False)],
        0.5,
        True,
        0.5,
        "Aggregate score 0.50 ≥ 0.5 threshold",
        id="threshold-pass-tolerates-failure",
    ),
    pytest.param(
        [(r(False), 1, None, False)],
        0,
        True,
        0.0,
        "Aggregate score 0.00 ≥ 0 threshold",
        id="threshold-zero-always-passes",
    ),
    pytest.param(
        [(r(False, reason="bad"), 1, None, False)],
        float("nan"),
        False,
        0.0,
        "bad",
        id="nan-threshold-ignored",
    ),
    pytest.param(
        [(r(True, 150.0), 1, None, False)],
        None,
        True,
        150.0,
        "All assertions passed",
        id="score-not-clamped",
    ),
    pytest.param(
        [(r(True), 1, None, True)],
        None,
        True,
        0.0,
        "All assertions passed",
        id="only-metric-only-score-zero",
    ),
    pytest.param(
        [(r(True), 1, None, False)],
        1,
        True,
        1.0,
        "Aggregate score 1.00 ≥ 1 threshold",
        id="threshold-one-integer-format",
    ),
]


@pytest.mark.parametrize(("components", "threshold", "passed", "score", "reason"), CASES)
def test_aggregate(
    components: list[tuple[GradingResult, float, str | None, bool]],
    threshold: float | None,
    passed: bool,
    score: float,
    reason: str,
) -> None:
    acc = ScoreAccumulator(threshold)
    for result, weight, metric, metric_only in components:
        acc.add(result, weight=weight, metric=metric, metric_only=metric_only)
    out = acc.result()
    assert out.passed is passed
    assert out.score == pytest.approx(score)
    assert out.reason == reason
    assert out.component_results == [c[0] for c in components]


def test_no_assertions() -> None:
    res = no_assertions_result()
    assert (res.passed, res.score, res.reason) == (True, 1.0, "No assertions")


def test_named_metrics_are_weighted_averages() -> None:
    acc = ScoreAccumulator()
    acc.add(r(True, 1.0), weight=3, metric="accuracy")
    acc.add(r(False, 0.0), weight=1, metric="accuracy")
    acc.add(r(True, 0.5), weight=1, metric="tone")
    out = acc.result()
    assert out.named_scores == {"accuracy": pytest.approx(0.75), "tone": pytest.approx(0.5)}


def test_nested_named_scores_merge() -> None:
    acc = ScoreAccumulator()
    acc.add(r(True, 1.0, named_scores={"inner": 0.2, "outer": 0.4}), metric="outer")
    acc.add(r(True, 1.0, named_scores={"inner": 0.6}))
    out = acc.result()
    assert out.named_scores["inner"] == pytest.approx(0.4)
    # a result's own metric is not double counted from its named_scores
    assert out.named_scores["outer"] == pytest.approx(1.0)


def test_metric_only_still_feeds_metric_with_weight_one() -> None:
    acc = ScoreAccumulator()
    acc.add(r(True, 0.25), weight=0, metric="latency", metric_only=True)
    out = acc.result()
    assert out.named_scores == {"latency": 0.25}
    assert out.score == 0.0


def test_result_metric_only_flag_is_honoured() -> None:
    acc = ScoreAccumulator()
    acc.add(r(True))
    acc.add(r(False, metric_only=True))
    assert acc.result().passed is True


def test_grader_error_propagates_only_when_failing() -> None:
    failing = ScoreAccumulator()
    failing.add(r(False, grader_error=True, reason="grader down"))
    out = failing.result()
    assert out.grader_error is True and out.reason == "grader down"

    hidden = ScoreAccumulator(threshold=0)
    hidden.add(r(False, grader_error=True))
    out = hidden.result()
    assert out.passed is True and out.grader_error is False


def test_tokens_are_summed() -> None:
    acc = ScoreAccumulator()
    acc.add(r(True, tokens_used=10))
    acc.add(r(True, tokens_used=5))
    assert acc.result().tokens_used == 15


def test_zero_weights_give_zero_score() -> None:
    acc = ScoreAccumulator()
    acc.add(r(True), weight=0)
    assert acc.result().score == 0.0


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.5, "0.5"), (3, "3"), (float("inf"), "Infinity"), (float("nan"), "NaN")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (float("nan"), None), (0, 0.0), ("0.5", 0.5), (True, None)],
)
def test_effective_threshold(value: object, expected: float | None) -> None:
    got = effective_threshold(value)  # type: ignore[arg-type]
    assert got == expected or (expected is None and got is None)
    assert got is None or not math.isnan(got)


def test_failing_group_reason_wins_over_plain_failures() -> None:
    # promptfoo adds assert-set results after every plain assertion, so a failing set's
    # reason is the test's reason even when the set comes first in the config
    acc = ScoreAccumulator()
    acc.add(r(False, reason="set failed"), group=True)
    acc.add(r(False, reason="plain failed"))
    acc.add(r(True))
    assert acc.result().reason == "set failed"
    copy = ScoreAccumulator()
    copy.extend(acc.entries)
    assert copy.result().reason == "set failed"
