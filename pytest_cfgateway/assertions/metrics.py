"""Assertions on the provider's answer metadata: latency, ttft, cost, perplexity,
perplexity-score, finish-reason.

They read ``context.completion`` (the `Completion` of the graded call).

- ``latency`` / ``cost``: ``value <= threshold`` (``threshold: 0`` is valid). Without a
  threshold they are metric-only when the assertion names a ``metric`` (pass, score = the
  measured value, ``metric_only``), else a config error. A gateway-cached answer (``HIT``) has
  no meaningful latency: that is an error, like promptfoo's ``--no-cache`` message. A missing
  cost (no known price) is a *failure* with a reason, never counted as $0, and ``not-cost``
  does not turn it into a pass.
- ``ttft`` (pytest-cfgateway's extension; promptfoo 0.123.1 has no such type): the time to
  first token of a streamed call (``stream: true``) in ms is at most ``threshold``; same
  metric-only and ``not-`` rules as ``latency``. A call that was not streamed has no time to
  first token: a config error naming the fix.
- ``perplexity``: ``exp(-mean(logprobs)) <= threshold`` (no threshold: always passes);
  ``perplexity-score``: ``1 / (1 + perplexity) >= threshold`` (score is that ratio,
  ``1 - ratio`` under ``not-``). Both need logprobs from the provider.
- ``finish-reason``: compares provider finish reasons after promptfoo's normalisation
  (``end_turn``/``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``,
  ``tool_use``/``function_call`` -> ``tool_calls``, ``refusal`` -> ``content_filter``...),
  case-insensitively. When the provider gave no reason the plain form fails and ``not-``
  passes (promptfoo 0.123.1).
"""

from __future__ import annotations

import math

from ..gateway.types import Completion
from ._helpers import PASSED, binary, describe_value, failure, fmt_num, spec_attr, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult


def _completion(call: AssertionCall, what: str) -> Completion:
    completion = call.context.completion
    if completion is None:
        raise AssertionConfigError(
            f'"{type_name(call)}" needs the provider response ({what}), but this output has no '
            "completion attached (e.g. a transform-only or echo provider). Remove the assertion "
            "for this provider."
        )
    return completion


def _threshold(call: AssertionCall) -> float | None:
    t = call.threshold
    if t is None:
        return None
    if isinstance(t, bool) or not isinstance(t, (int, float)) or math.isnan(t):
        raise AssertionConfigError(
            f'"{type_name(call)}" threshold must be a number; got {describe_value(t)}.'
        )
    return float(t)


def _metric_only(call: AssertionCall, label: str, measured: float) -> GradingResult:
    if call.inverse:
        raise AssertionConfigError(
            f"{label} assertion requires a threshold when using not-{call.base_type}. "
            f"Fix: add `threshold:`."
        )
    if not spec_attr(call, "metric"):
        raise AssertionConfigError(
            f"{label} assertion without a threshold must set `metric` to record as a named "
            f"metric. Fix: add `threshold:` (pass/fail) or `metric: {call.base_type}`."
        )
    return GradingResult(passed=True, score=measured, reason=PASSED, metric_only=True)


def _at_most(call: AssertionCall, within: bool, measured: str, threshold: str) -> GradingResult:
    """Binary result of "``measured`` is at most ``threshold``" (both already formatted)."""
    return binary(
        call,
        within,
        f"{measured} is greater than threshold {threshold}",
        f"{measured} is less than or equal to threshold {threshold}",
    )


def handle_latency(call: AssertionCall) -> GradingResult:
    """``latency``: the call's latency in ms is at most ``threshold``. A test's fixed
    ``providerOutput`` (no call, no completion) took 0 ms, as in promptfoo."""
    completion = call.context.completion
    if completion is None:
        threshold = _threshold(call)
        if threshold is None:
            return _metric_only(call, "Latency", 0.0)
        return _at_most(call, threshold >= 0.0, "Latency 0ms", f"{fmt_num(threshold)}ms")
    if completion.cached:
        raise AssertionConfigError(
            "Latency assertion does not support cached results: the gateway served this answer "
            "from its cache (cf-aig-cache-status: HIT). Rerun with the gateway cache skipped "
            "(provider config `skipCache: true`)."
        )
    latency = float(completion.latency_ms)
    threshold = _threshold(call)
    if threshold is None:
        return _metric_only(call, "Latency", latency)
    return _at_most(
        call, latency <= threshold, f"Latency {fmt_num(latency)}ms", f"{fmt_num(threshold)}ms"
    )


def handle_ttft(call: AssertionCall) -> GradingResult:
    """``ttft``: the streamed call's time to first token in ms is at most ``threshold``."""
    completion = _completion(call, "time to first token")
    if completion.ttft_ms is None:
        fix = (
            "use a gateway provider with `stream: true`"
            if completion.provider == "echo"
            else "set `stream: true` in this provider's config (or use `latency`)"
        )
        raise AssertionConfigError(
            f"TTFT assertion needs a streamed answer, but {completion.provider}:"
            f"{completion.model} was not streamed, so it has no time to first token. Fix: {fix}."
        )
    ttft = float(completion.ttft_ms)
    threshold = _threshold(call)
    if threshold is None:
        return _metric_only(call, "TTFT", ttft)
    return _at_most(call, ttft <= threshold, f"TTFT {fmt_num(ttft)}ms", f"{fmt_num(threshold)}ms")


def handle_cost(call: AssertionCall) -> GradingResult:
    """``cost``: the call's cost in USD is at most ``threshold``. A test's fixed
    ``providerOutput`` (no call, no completion) cost $0, as in promptfoo."""
    completion = call.context.completion
    threshold = _threshold(call)
    if completion is None:
        if threshold is None:
            return _metric_only(call, "Cost", 0.0)
        return _at_most(call, threshold >= 0.0, "Cost 0", fmt_num(threshold))
    if completion.cost is None:
        if threshold is None:
            _metric_only(call, "Cost", 0.0)  # surfaces config errors first
        return failure(
            f"Cost assertion needs a provider-reported or priced cost, but none is known for "
            f"{completion.provider}:{completion.model} (no price in the table). It is never "
            "counted as $0."
        )
    cost = float(completion.cost)
    if threshold is None:
        return _metric_only(call, "Cost", cost)
    return _at_most(call, cost <= threshold, f"Cost {cost:.2g}", fmt_num(threshold))


def _perplexity(call: AssertionCall) -> float:
    completion = _completion(call, "logprobs")
    logprobs = completion.logprobs
    if not logprobs:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion does not support providers that do not return '
            "logprobs. Fix: request logprobs (OpenAI: `logprobs: true`) or drop the assertion."
        )
    mean = sum(logprobs) / len(logprobs)
    return math.exp(-mean)


def handle_perplexity(call: AssertionCall) -> GradingResult:
    """``perplexity``: exp(-mean logprob) is at most ``threshold``."""
    perplexity = _perplexity(call)
    threshold = _threshold(call)
    if threshold is None:
        return GradingResult(passed=True, score=1.0, reason=PASSED)
    return _at_most(
        call, perplexity <= threshold, f"Perplexity {perplexity:.2f}", fmt_num(threshold)
    )


def handle_perplexity_score(call: AssertionCall) -> GradingResult:
    """``perplexity-score``: 1/(1+perplexity) is at least ``threshold`` (higher is better)."""
    norm = 1.0 / (1.0 + _perplexity(call))
    threshold = _threshold(call)
    score = 1.0 - norm if call.inverse else norm
    if threshold is None:
        return GradingResult(passed=True, score=score, reason=PASSED)
    meets = norm >= threshold
    passed = meets != call.inverse
    if passed:
        reason = PASSED
    elif call.inverse:
        reason = (
            f"Perplexity score {norm:.2f} is greater than or equal to threshold "
            f"{fmt_num(threshold)}"
        )
    else:
        reason = f"Perplexity score {norm:.2f} is less than threshold {fmt_num(threshold)}"
    return GradingResult(passed=passed, score=score, reason=reason)


FINISH_REASONS: dict[str, str] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "max_output_tokens": "length",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "pause_turn",
    "tool-calls": "tool_calls",
    "content-filter": "content_filter",
    # Gemini
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    # Cohere
    "complete": "stop",
    "max_tokens_reached": "length",
    "error_toxic": "content_filter",
    "tool_call": "tool_calls",
}


def normalize_finish_reason(raw: str | None) -> str | None:
    """A provider finish reason mapped to OpenAI's vocabulary (unknown values pass through)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    key = raw.strip().lower()
    return FINISH_REASONS.get(key, key)


def handle_finish_reason(call: AssertionCall) -> GradingResult:
    """``finish-reason``: the normalised finish reason equals the value (case-insensitive)."""
    value = call.value
    if not isinstance(value, str) or not value.strip():
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion type must have a string value; got '
            f"{describe_value(value)}. Fix: `value: stop` (or length, content_filter, "
            "tool_calls)."
        )
    completion = call.context.completion
    actual = normalize_finish_reason(completion.finish_reason if completion else None)
    if actual is None:  # as in promptfoo: plain fails, not- passes
        return binary(
            call,
            False,
            "Provider did not supply stop/finish reason",
            "Provider did not supply stop/finish reason",
        )
    expected = normalize_finish_reason(value)
    raw = completion.finish_reason if completion else None
    return binary(
        call,
        actual == expected,
        f'Expected finish reason "{value}" but got "{raw}"',
        f'Expected finish reason to not be "{value}" but got "{raw}"',
    )


HANDLERS: dict[str, BuiltinHandler] = {
    "latency": handle_latency,
    "ttft": handle_ttft,
    "cost": handle_cost,
    "perplexity": handle_perplexity,
    "perplexity-score": handle_perplexity_score,
    "finish-reason": handle_finish_reason,
}
