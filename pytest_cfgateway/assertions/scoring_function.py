"""A test's ``assertScoringFunction``: user code that turns the assertions' named scores into
the test's verdict, as promptfoo's ``AssertionsResult.testResult(scoringFunction)`` does.

The function (``file://score.js[:fn]`` or ``file://score.py[:fn]``, default Python name
``func`` as in promptfoo) gets ``(namedScores, context)`` with ``context = {threshold,
componentResults, tokensUsed}`` and returns ``{pass, score, reason}``; its keys replace the
aggregate verdict's. If it raises or returns something else, the test fails with
"Scoring function error: ..." (promptfoo's behaviour). A time-out or crash is not a verdict:
it propagates, and the item errors naming the function.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from .base import GradingResult

_FN = re.compile(r"^(?P<path>.+\.(?:py|js|cjs|mjs))(?::(?P<fn>[\w.]+))?$", re.IGNORECASE)


def _flatten(result: GradingResult) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for component in result.component_results:
        out.append(component.to_dict())
        out.extend(sub.to_dict() for sub in component.component_results)
    return out


async def apply_scoring_function(
    result: GradingResult, spec: str, *, threshold: float | None, timeout_ms: Any = None
) -> GradingResult:
    """``result`` with the scoring function's ``pass``/``score``/``reason`` applied."""
    from ..usercode import arun, js_file, python_file
    from ..usercode.errors import UserCodeRaised

    match = _FN.match(spec)
    path_text, fn = (match.group("path"), match.group("fn")) if match else (spec, None)
    path = Path(path_text)
    named = dict(result.named_scores)
    context = {
        "threshold": threshold,
        "componentResults": _flatten(result),
        "tokensUsed": {"total": result.tokens_used},
    }
    label = f"assertScoringFunction {path.name}" + (f":{fn}" if fn else "")
    if path.suffix.lower() == ".py":
        request = python_file(path, fn or "func", [named, context], label=label)
    else:
        request = js_file(path, fn, [named, context], label=label)
    timeout = timeout_ms / 1000 if isinstance(timeout_ms, int | float) and timeout_ms > 0 else None
    try:
        value = await arun(request, timeout=timeout)
    except UserCodeRaised as exc:
        return _error(result, exc.short)
    if not (
        isinstance(value, dict)
        and isinstance(value.get("pass"), bool)
        and isinstance(value.get("score"), int | float)
        and not isinstance(value.get("score"), bool)
    ):
        return _error(result, "assertion scoring function must return a GradingResult")
    reason = value.get("reason")
    scores = value.get("namedScores")
    return dataclasses.replace(
        result,
        passed=value["pass"],
        score=float(value["score"]),
        reason=reason if isinstance(reason, str) else result.reason,
        named_scores=dict(scores) if isinstance(scores, dict) else result.named_scores,
    )


def _error(result: GradingResult, message: str) -> GradingResult:
    return dataclasses.replace(
        result, passed=False, score=0.0, reason=f"Scoring function error: {message}"
    )
