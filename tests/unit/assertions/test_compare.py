"""select-best and max-score over a row of outputs; folding them into item verdicts."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from pytest_cfgateway.assertions.base import AssertionConfigError, AssertionContext, GradingResult
from pytest_cfgateway.assertions.compare import grade_row, merge_row_results
from pytest_cfgateway.assertions.engine import run_assertions
from pytest_cfgateway.assertions.registry import AssertionRegistry
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.errors import GatewayTimeoutError
from pytest_cfgateway.gateway.types import Completion, Message, Usage

T = TypeVar("T")
REG = AssertionRegistry.with_builtins()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeGrader:
    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[Any, list[Message]]] = []

    async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Completion:
        self.calls.append((provider, messages))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, raw=None, usage=Usage(3, 1, 4), provider="openai", model="x")

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        raise AssertionError("no embeddings expected")


OUTPUTS = {"a[gpt]": "Short answer.", "b[claude]": "A long, careful answer.", "c[llama]": "Meh."}


def ctx(grader: FakeGrader | None = None) -> AssertionContext:
    return AssertionContext(vars={"tone": "careful"}, grader=grader)


def test_select_best_one_call_winner_passes() -> None:
    g = FakeGrader("After comparing, output 1 is best.")
    spec = AssertionSpec(type="select-best", value="most {{ tone }}")
    results = run(grade_row(OUTPUTS, spec, ctx(g), registry=REG))
    assert [r.passed for r in results.values()] == [False, True, False]
    assert results["b[claude]"].reason == "Output selected as the best: most careful"
    assert results["a[gpt]"].reason == "Output not selected: most careful"
    assert all(r.assertion is spec for r in results.values())
    assert len(g.calls) == 1
    sent = "\n".join(m["content"] for m in g.calls[0][1])
    assert "[Output 0]\nShort answer." in sent and "[Output 2]\nMeh." in sent
    assert "most careful" in sent


@pytest.mark.parametrize("reply", ["7", "none of them", GatewayTimeoutError("slow")])
def test_select_best_bad_verdict_is_grader_error(reply: str | Exception) -> None:
    spec = AssertionSpec(type="select-best", value="best")
    results = run(grade_row(OUTPUTS, spec, ctx(FakeGrader(reply)), registry=REG))
    assert all(not r.passed and r.grader_error for r in results.values())


def test_needs_two_outputs() -> None:
    spec = AssertionSpec(type="select-best", value="best")
    with pytest.raises(AssertionConfigError, match="at least two outputs"):
        run(grade_row({"a": "x"}, spec, ctx(FakeGrader()), registry=REG))


def test_rejects_other_types() -> None:
    with pytest.raises(ValueError, match="select-best and max-score"):
        run(grade_row(OUTPUTS, AssertionSpec(type="contains", value="x"), ctx(), registry=REG))


def item_results(scores: dict[str, list[float]], **extra: Any) -> dict[str, GradingResult]:
    out = {}
    for name, values in scores.items():
        comps = [
            GradingResult(s >= 0.5, s, "r", assertion=AssertionSpec(type=t, value="x"))
            for s, t in zip(values, ["contains", "llm-rubric", "regex"], strict=False)
        ]
        out[name] = GradingResult(all(c.passed for c in comps), 0.0, "", component_results=comps)
    return out


@pytest.mark.parametrize(
    ("value", "scores", "winner"),
    [
        ({}, {"a": [1, 0], "b": [1, 1]}, "b"),
        ({"method": "sum"}, {"a": [1, 1, 1], "b": [1, 1]}, "a"),
        ({"method": "average"}, {"a": [1, 1, 0], "b": [1, 1]}, "b"),
        ({}, {"a": [0.5, 0.5], "b": [0.5, 0.5]}, "a"),  # tie -> first
        ({"weights": {"llm-rubric": 3}}, {"a": [1, 0], "b": [0, 1]}, "b"),
        ({"threshold": 0.9}, {"a": [0.5], "b": [0.8]}, None),
    ],
)
def test_max_score(
    value: dict[str, Any], scores: dict[str, list[float]], winner: str | None
) -> None:
    outputs = {n: f"out {n}" for n in scores}
    spec = AssertionSpec(type="max-score", value=value)
    results = run(
        grade_row(outputs, spec, ctx(), registry=REG, per_item_results=item_results(scores))
    )
    winners = [n for n, r in results.items() if r.passed]
    assert winners == ([winner] if winner else [])
    if winner is None:
        assert "below threshold 0.9" in results["b"].reason


def test_max_score_ignores_metric_only_and_comparisons() -> None:
    metric_only = GradingResult(
        True, 1.0, "m", assertion=AssertionSpec(type="cost"), metric_only=True
    )
    per_item = item_results({"a": [0.2], "b": [0.4]})
    per_item["a"].component_results.append(metric_only)
    results = run(
        grade_row(
            {"a": "x", "b": "y"},
            AssertionSpec(type="max-score"),
            ctx(),
            registry=REG,
            per_item_results=per_item,
        )
    )
    assert results["b"].passed and results["a"].named_scores == {"maxScore": pytest.approx(0.2)}


def test_max_score_needs_other_assertions() -> None:
    empty = {"a": GradingResult(True, 1, "No assertions"), "b": GradingResult(True, 1, "")}
    with pytest.raises(AssertionConfigError, match="at least one other assertion"):
        run(
            grade_row(
                {"a": "x", "b": "y"},
                AssertionSpec(type="max-score"),
                ctx(),
                registry=REG,
                per_item_results=empty,
            )
        )


def test_max_score_bad_method() -> None:
    spec = AssertionSpec(type="max-score", value={"method": "median"})
    with pytest.raises(AssertionConfigError, match="average' or 'sum'"):
        run(grade_row({"a": "x", "b": "y"}, spec, ctx(), registry=REG, per_item_results={}))


def test_merge_row_results_reaggregates() -> None:
    specs = [AssertionSpec(type="contains", value="Short"), AssertionSpec(type="max-score")]
    item = run(run_assertions("Short answer.", specs, ctx(), registry=REG))
    assert item.passed and len(item.component_results) == 1
    losing = GradingResult(False, 0.0, "Not selected", assertion=specs[1])
    merged = merge_row_results(item, [losing])
    assert not merged.passed and merged.reason == "Not selected" and merged.score == 0.5
    assert merge_row_results(item, [losing], threshold=0.5).passed
    assert merge_row_results(item, []) is item


def test_weight_zero_comparison_is_metric_only() -> None:
    g = FakeGrader("0")
    spec = AssertionSpec(type="select-best", value="best", weight=0)
    results = run(grade_row(OUTPUTS, spec, ctx(g), registry=REG))
    assert all(r.passed and r.metric_only for r in results.values())
