"""Row-level assertions: ``select-best`` and ``max-score`` compare the outputs of one row.

A row is one test x var combination x repeat across prompts and providers. The per-item run
(`engine.run_assertions`) skips these two types; once every output of the row exists the
caller calls `grade_row` and folds each item's comparison verdict into that item's result with
`merge_row_results`.

- ``select-best``: one grader call lists every output with its index and asks for the index
  of the best one against the criterion (the value); the winner passes, the others fail.
- ``max-score``: no model call; each output's score is the ``average`` (default) or ``sum``
  of its other assertions' scores (``weights`` per assertion type, metric-only and
  comparison assertions left out); the highest wins (ties go to the first output), and must
  reach ``threshold`` when one is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..config.cases import AssertionSpec
from ._helpers import output_text
from .base import AssertionCall, AssertionConfigError, AssertionContext, GradingResult
from .engine import render_metric, render_template
from .graded import (
    SELECT_BEST_PROMPT,
    GraderFailure,
    _Tally,
    ask,
    custom_prompt,
    grader_failure,
    render_prompt,
    template_vars,
)
from .registry import COMPARISON_TYPES, AssertionRegistry
from .scoring import ScoreAccumulator, format_number


async def grade_row(
    outputs: Mapping[str, Any],
    spec: AssertionSpec,
    context: AssertionContext,
    *,
    registry: AssertionRegistry,
    per_item_results: Mapping[str, GradingResult] | None = None,
) -> dict[str, GradingResult]:
    """Grade a comparison assertion over a row: item name -> that item's verdict.

    ``outputs`` is ordered (row order decides ties); ``per_item_results`` (each item's
    `run_assertions` result) is required for ``max-score``.
    """
    del registry  # comparison types need no other handlers; kept for a uniform signature
    if spec.type not in COMPARISON_TYPES:
        raise ValueError(
            f"grade_row grades select-best and max-score, not {spec.type!r}; use run_assertion"
        )
    if len(outputs) < 2:
        raise AssertionConfigError(
            f"{spec.type} must have at least two outputs to compare between (this row has "
            f"{len(outputs)}). Fix: give the config several prompts or providers, or remove "
            f"the {spec.type} assertion."
        )
    if spec.type == "select-best":
        results = await _select_best(outputs, spec, context)
    else:
        results = _max_score(outputs, spec, per_item_results)
    metric_only = spec.weight is not None and float(spec.weight) == 0.0
    for result in results.values():
        result.assertion = spec
        if metric_only:
            result.passed = True
            result.metric_only = True
    return results


async def _select_best(
    outputs: Mapping[str, Any], spec: AssertionSpec, context: AssertionContext
) -> dict[str, GradingResult]:
    value = spec.value
    if not isinstance(value, str) or not value.strip():
        raise AssertionConfigError(
            "select-best must have a string value: the criterion to pick the best output by."
        )
    criteria = render_template(value, context.vars)
    names = list(outputs)
    call = AssertionCall(
        output=None,
        value=criteria,
        spec=spec,
        inverse=False,
        base_type="select-best",
        threshold=None,
        context=context,
    )
    tally = _Tally()
    tvars = template_vars(call, criteria=criteria, outputs=[output_text(outputs[n]) for n in names])
    try:
        reply = await ask(
            call, render_prompt(custom_prompt(call) or SELECT_BEST_PROMPT, tvars), tally
        )
        match = re.search(r"\d+", reply.strip())
        verdict = int(match.group(0)) if match else -1
        if verdict < 0 or verdict >= len(names):
            raise GraderFailure(
                f"Invalid select-best verdict: {match.group(0) if match else reply.strip()[:80]}"
            )
    except GraderFailure as exc:
        return {n: grader_failure(str(exc), tally.tokens) for n in names}
    out: dict[str, GradingResult] = {}
    for index, name in enumerate(names):
        chosen = index == verdict
        out[name] = GradingResult(
            passed=chosen,
            score=1.0 if chosen else 0.0,
            reason=(
                f"Output selected as the best: {criteria}"
                if chosen
                else f"Output not selected: {criteria}"
            ),
            tokens_used=tally.tokens if index == 0 else 0,
        )
    return out


def _spec_type(result: GradingResult) -> str | None:
    a = result.assertion
    t = a.get("type") if isinstance(a, Mapping) else getattr(a, "type", None)
    return t if isinstance(t, str) else None


def _max_score(
    outputs: Mapping[str, Any],
    spec: AssertionSpec,
    per_item_results: Mapping[str, GradingResult] | None,
) -> dict[str, GradingResult]:
    value = spec.value if spec.value is not None else {}
    if not isinstance(value, Mapping):
        raise AssertionConfigError(
            "max-score value must be an object like {method: average|sum, threshold: 0.7, "
            f"weights: {{llm-rubric: 2}}}}; got {type(value).__name__}"
        )
    method = value.get("method", "average")
    if method not in ("average", "sum"):
        raise AssertionConfigError(f"max-score method must be 'average' or 'sum'; got {method!r}")
    weights = value.get("weights") or {}
    if not isinstance(weights, Mapping):
        raise AssertionConfigError("max-score weights must map assertion types to numbers")
    threshold = value.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float))
    ):
        raise AssertionConfigError(f"max-score threshold must be a number; got {threshold!r}")
    if per_item_results is None:
        raise ValueError("max-score needs per_item_results (each item's run_assertions result)")

    names = list(outputs)
    scores: list[float] = []
    for name in names:
        item = per_item_results.get(name)
        if item is None:
            raise ValueError(f"max-score: no per-item result for {name!r}")
        relevant = [
            r
            for r in item.component_results
            if _spec_type(r) is not None
            and _spec_type(r) not in COMPARISON_TYPES
            and not r.metric_only
        ]
        if not relevant:
            raise AssertionConfigError(
                "max-score requires at least one other assertion (besides max-score or "
                "select-best) to aggregate scores from"
            )
        total = 0.0
        weight_sum = 0.0
        for r in relevant:
            w = float(weights.get(_spec_type(r), 1.0))
            total += (r.score or 0.0) * w
            weight_sum += w
        scores.append(total if method == "sum" else (total / weight_sum if weight_sum else 0.0))

    best = max(scores)
    winner = scores.index(best)
    meets = threshold is None or best >= threshold
    out: dict[str, GradingResult] = {}
    for index, name in enumerate(names):
        score = scores[index]
        won = index == winner and meets
        if won:
            reason = f"Selected as highest scoring output (score: {score:.3f})"
        elif score == best and not meets:
            reason = (
                f"Not selected - score {score:.3f} below threshold {format_number(threshold)}"
                if threshold is not None
                else f"Not selected (score: {score:.3f})"
            )
        else:
            reason = f"Not selected (score: {score:.3f}, max: {best:.3f})"
        out[name] = GradingResult(
            passed=won,
            score=1.0 if won else 0.0,
            reason=reason,
            named_scores={"maxScore": score},
        )
    return out


def merge_row_results(
    item_result: GradingResult,
    comparison_results: Sequence[GradingResult],
    *,
    threshold: float | None = None,
    vars: Mapping[str, Any] | None = None,
) -> GradingResult:
    """An item's verdict with its row-level results folded in, re-aggregated.

    Each result's ``assertion`` (an AssertionSpec) supplies its weight and metric; the
    item's own components keep theirs. Returns a new GradingResult.
    """
    if not comparison_results:
        return item_result
    acc = ScoreAccumulator(threshold)
    values = vars or {}
    for r in [*item_result.component_results, *comparison_results]:
        spec = r.assertion
        weight = getattr(spec, "weight", 1.0) if spec is not None else 1.0
        metric = getattr(spec, "metric", None) if spec is not None else None
        acc.add(
            r,
            weight=1.0 if weight is None else weight,
            metric=render_metric(metric, values),
            metric_only=r.metric_only,
        )
    return acc.result()
