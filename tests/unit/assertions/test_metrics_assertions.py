"""latency, ttft, cost, perplexity, perplexity-score, finish-reason against Completion
metadata."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionConfigError,
    AssertionContext,
    GradingResult,
)
from pytest_cfgateway.assertions.metrics import HANDLERS, normalize_finish_reason
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.types import Completion

from .assertion_helpers import assertion_call, make_completion, run_sync


def completion(**kw: Any) -> Completion:
    return make_completion(**{"text": "hi", **kw})


def run(
    type_: str,
    comp: Completion | None,
    *,
    threshold: float | None = None,
    value: Any = None,
    metric: str | None = None,
) -> GradingResult:
    call = assertion_call(
        type_,
        value,
        "hi",
        threshold=threshold,
        spec=AssertionSpec(type=type_, value=value, threshold=threshold, metric=metric),
        context=AssertionContext(completion=comp),
    )
    return run_sync(HANDLERS, call)


LOGPROBS = [math.log(0.5)] * 4  # perplexity exactly 2, score 1/3

CASES: list[tuple[str, dict[str, Any], float | None, Any, bool]] = [
    # type, completion fields, threshold, value, expected pass
    ("latency", {"latency_ms": 120.0}, 200, None, True),
    ("latency", {"latency_ms": 250.0}, 200, None, False),
    ("latency", {"latency_ms": 200.0}, 200, None, True),  # boundary: <=
    ("latency", {"latency_ms": 0.0}, 0, None, True),  # threshold 0 is valid
    ("latency", {"latency_ms": 0.01}, 0, None, False),
    ("not-latency", {"latency_ms": 250.0}, 200, None, True),
    ("not-latency", {"latency_ms": 120.0}, 200, None, False),
    ("latency", {"latency_ms": 50.0, "cache_status": "MISS"}, 100, None, True),
    ("ttft", {"ttft_ms": 80.0}, 100, None, True),
    ("ttft", {"ttft_ms": 100.0}, 100, None, True),  # boundary: <=
    ("ttft", {"ttft_ms": 100.1}, 100, None, False),
    ("not-ttft", {"ttft_ms": 150.0}, 100, None, True),
    ("not-ttft", {"ttft_ms": 50.0}, 100, None, False),
    ("cost", {"cost": 0.001}, 0.01, None, True),
    ("cost", {"cost": 0.02}, 0.01, None, False),
    ("cost", {"cost": 0.01}, 0.01, None, True),
    ("cost", {"cost": 0.0}, 0, None, True),
    ("cost", {"cost": 0.01}, 0, None, False),
    ("not-cost", {"cost": 0.02}, 0.01, None, True),
    ("not-cost", {"cost": 0.001}, 0.01, None, False),
    ("cost", {"cost": None}, 0.01, None, False),  # no price known: fail, never $0
    ("not-cost", {"cost": None}, 0.01, None, False),  # ... and not- cannot turn it into a pass
    ("perplexity", {"logprobs": LOGPROBS}, 2.5, None, True),
    ("perplexity", {"logprobs": LOGPROBS}, 1.5, None, False),
    ("perplexity", {"logprobs": LOGPROBS}, 2.0, None, True),
    ("not-perplexity", {"logprobs": LOGPROBS}, 1.5, None, True),
    ("not-perplexity", {"logprobs": LOGPROBS}, 2.5, None, False),
    ("perplexity", {"logprobs": LOGPROBS}, None, None, True),
    ("perplexity-score", {"logprobs": LOGPROBS}, 0.3, None, True),
    ("perplexity-score", {"logprobs": LOGPROBS}, 0.5, None, False),
    ("not-perplexity-score", {"logprobs": LOGPROBS}, 0.5, None, True),
    ("not-perplexity-score", {"logprobs": LOGPROBS}, 0.3, None, False),
    ("perplexity-score", {"logprobs": LOGPROBS}, None, None, True),
    ("finish-reason", {"finish_reason": "stop"}, None, "stop", True),
    ("finish-reason", {"finish_reason": "length"}, None, "stop", False),
    ("finish-reason", {"finish_reason": "STOP"}, None, "stop", True),
    ("finish-reason", {"finish_reason": "end_turn"}, None, "stop", True),
    ("finish-reason", {"finish_reason": "max_tokens"}, None, "length", True),
    ("finish-reason", {"finish_reason": "tool_use"}, None, "tool_calls", True),
    ("finish-reason", {"finish_reason": "function_call"}, None, "TOOL_CALLS", True),
    ("finish-reason", {"finish_reason": "content_filter"}, None, "refusal", True),
    ("finish-reason", {"finish_reason": "SAFETY"}, None, "content_filter", True),
    ("not-finish-reason", {"finish_reason": "length"}, None, "stop", True),
    ("not-finish-reason", {"finish_reason": "end_turn"}, None, "stop", False),
    ("finish-reason", {"finish_reason": None}, None, "stop", False),
    ("not-finish-reason", {"finish_reason": None}, None, "stop", True),  # as promptfoo
]


@pytest.mark.parametrize(("type_", "fields", "threshold", "value", "expected"), CASES)
def test_metric_assertion(
    type_: str, fields: dict[str, Any], threshold: float | None, value: Any, expected: bool
) -> None:
    result = run(type_, completion(**fields), threshold=threshold, value=value)
    assert result.passed is expected, result.reason
    if not type_.endswith("perplexity-score"):
        assert result.score == (1.0 if expected else 0.0)


def test_perplexity_score_value_and_inverse() -> None:
    plain = run("perplexity-score", completion(logprobs=LOGPROBS), threshold=0.3)
    assert plain.score == pytest.approx(1 / 3)
    inverse = run("not-perplexity-score", completion(logprobs=LOGPROBS), threshold=0.5)
    assert inverse.score == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("type_", "fields", "threshold", "value", "reason"),
    [
        (
            "latency",
            {"latency_ms": 250.0},
            200,
            None,
            "Latency 250ms is greater than threshold 200ms",
        ),
        (
            "not-latency",
            {"latency_ms": 120.0},
            200,
            None,
            "Latency 120ms is less than or equal to threshold 200ms",
        ),
        ("cost", {"cost": 0.02}, 0.01, None, "Cost 0.02 is greater than threshold 0.01"),
        (
            "perplexity",
            {"logprobs": LOGPROBS},
            1.5,
            None,
            "Perplexity 2.00 is greater than threshold 1.5",
        ),
        (
            "perplexity-score",
            {"logprobs": LOGPROBS},
            0.5,
            None,
            "Perplexity score 0.33 is less than threshold 0.5",
        ),
        (
            "finish-reason",
            {"finish_reason": "length"},
            None,
            "stop",
            'Expected finish reason "stop" but got "length"',
        ),
        ("finish-reason", {}, None, "stop", "Provider did not supply stop/finish reason"),
    ],
)
def test_reasons(
    type_: str, fields: dict[str, Any], threshold: float | None, value: Any, reason: str
) -> None:
    assert run(type_, completion(**fields), threshold=threshold, value=value).reason == reason


def test_missing_cost_reason_names_the_model() -> None:
    reason = run("cost", completion(cost=None), threshold=1).reason
    assert "openai:gpt-test" in reason and "never counted as $0" in reason


def test_latency_on_cached_response_is_an_error() -> None:
    with pytest.raises(AssertionConfigError, match="does not support cached results"):
        run("latency", completion(latency_ms=5.0, cache_status="HIT"), threshold=1000)
    with pytest.raises(AssertionConfigError, match="skipCache"):
        run("not-latency", completion(cache_status="hit"), threshold=1000)


def test_metric_only_latency_and_cost_record_the_value() -> None:
    lat = run("latency", completion(latency_ms=321.0), metric="latency_ms")
    assert lat.passed and lat.metric_only and lat.score == 321.0
    cost = run("cost", completion(cost=0.004), metric="spend")
    assert cost.passed and cost.metric_only and cost.score == 0.004


@pytest.mark.parametrize(
    ("type_", "fields", "threshold", "value", "message"),
    [
        ("latency", {"latency_ms": 5.0}, None, None, "must set `metric`"),
        ("not-latency", {"latency_ms": 5.0}, None, None, "requires a threshold"),
        ("cost", {"cost": 0.1}, None, None, "must set `metric`"),
        ("not-cost", {"cost": 0.1}, None, None, "requires a threshold"),
        ("latency", {"latency_ms": 5.0}, "fast", None, "threshold must be a number"),
        ("perplexity", {"logprobs": None}, 2.0, None, "do not return logprobs"),
        ("perplexity-score", {"logprobs": []}, 0.5, None, "do not return logprobs"),
        ("finish-reason", {"finish_reason": "stop"}, None, None, "must have a string value"),
        ("finish-reason", {"finish_reason": "stop"}, None, 3, "must have a string value"),
    ],
)
def test_bad_config_is_an_error(
    type_: str, fields: dict[str, Any], threshold: Any, value: Any, message: str
) -> None:
    with pytest.raises(AssertionConfigError, match=message):
        run(type_, completion(**fields), threshold=threshold, value=value)


def test_no_completion_is_an_error() -> None:
    with pytest.raises(AssertionConfigError, match="no completion attached"):
        run("perplexity", None, threshold=1)


@pytest.mark.parametrize("type_", ["latency", "cost"])
def test_fixed_provider_output_took_no_time_and_cost_nothing(type_: str) -> None:
    # a test's providerOutput has no completion: 0 ms and $0, as in promptfoo
    assert run(type_, None, threshold=0).passed
    assert not run(f"not-{type_}", None, threshold=1).passed


def test_finish_reason_without_completion_fails() -> None:
    result = run("finish-reason", None, value="stop")
    assert not result.passed and result.reason == "Provider did not supply stop/finish reason"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_output_tokens", "length"),
        ("tool-calls", "tool_calls"),
        ("  Length ", "length"),
        ("pause_turn", "pause_turn"),
        ("something_new", "something_new"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_finish_reason(raw: str | None, normalized: str | None) -> None:
    assert normalize_finish_reason(raw) == normalized


def test_ttft_reason_metric_only_and_non_streamed() -> None:
    failed = run("ttft", completion(ttft_ms=250.0), threshold=200)
    assert failed.reason == "TTFT 250ms is greater than threshold 200ms"
    metric = run("ttft", completion(ttft_ms=42.5), metric="ttft")
    assert metric.passed and metric.metric_only and metric.score == 42.5
    with pytest.raises(AssertionConfigError, match="requires a threshold"):
        run("not-ttft", completion(ttft_ms=1.0), metric="ttft")
    with pytest.raises(AssertionConfigError, match="stream: true"):
        run("ttft", completion(latency_ms=10.0), threshold=100)
