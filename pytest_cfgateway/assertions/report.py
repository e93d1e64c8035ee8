"""The readable explanation of a failed item: what failed, why, and on what output.

`format_failure` lists every failing assertion with its reason (assert-sets nested), then the
provider, prompt, vars and the output (trimmed unless ``verbose``). It does not know about
secrets: the caller scrubs the text with its redactor before showing or writing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .base import GradingResult
from .scoring import format_number

OUTPUT_LIMIT = 600
VERBOSE_OUTPUT_LIMIT = 20_000
VALUE_LIMIT = 80
VAR_LIMIT = 200
REASON_LIMIT = 1_000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    text = text.replace("\n", "\\n")
    return _clip(text, limit)


def _field(spec: Any, name: str) -> Any:
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return spec.get(name)
    return getattr(spec, name, None)


def describe_assertion(spec: Any) -> str:
    """``contains "Paris"``, ``llm-rubric "is polite"``, ``assert-set (threshold 0.5)``."""
    if spec is None:
        return "assertion"
    type_name = _field(spec, "type") or "assertion"
    parts = [str(type_name)]
    value = _field(spec, "value")
    if value is not None and type_name != "assert-set":
        shown = _one_line(value, VALUE_LIMIT)
        parts.append(f'"{shown}"' if isinstance(value, str) else shown)
    extras = []
    threshold = _field(spec, "threshold")
    if threshold is not None:
        extras.append(f"threshold {format_number(threshold)}")
    weight = _field(spec, "weight")
    if weight is not None and weight != 1:
        extras.append(f"weight {format_number(weight)}")
    metric = _field(spec, "metric")
    if metric:
        extras.append(f"metric {metric}")
    if extras:
        parts.append(f"({', '.join(extras)})")
    return " ".join(parts)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def _component_lines(result: GradingResult, depth: int, verbose: bool) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    hidden = 0
    for comp in result.component_results:
        if comp.passed and not verbose:
            hidden += 1
            continue
        mark = "PASS" if comp.passed else "FAIL"
        tags = []
        if comp.grader_error:
            tags.append("grader error")
        if comp.metric_only:
            tags.append("metric only")
        tag = f"  [{', '.join(tags)}]" if tags else ""
        score = f"  score {comp.score:.2f}" if not comp.metric_only else ""
        lines.append(f"{pad}{mark} {describe_assertion(comp.assertion)}{score}{tag}")
        if comp.reason and (not comp.passed or verbose):
            lines.append(_indent(_clip(comp.reason, REASON_LIMIT), pad + "     "))
        if comp.component_results:
            lines.extend(_component_lines(comp, depth + 1, verbose))
    if hidden:
        plural = "s" if hidden != 1 else ""
        lines.append(f"{pad}({hidden} passing assertion{plural} not shown; -vv shows them)")
    return lines


def _headline(result: GradingResult) -> str:
    comps = [c for c in result.component_results if not c.metric_only]
    failed = sum(1 for c in comps if not c.passed)
    if result.reason.startswith("Aggregate score"):
        return f"{result.reason} ({failed} of {len(comps)} assertions failed)"
    if comps:
        return f"{failed} of {len(comps)} assertions failed (score {result.score:.2f})"
    return result.reason or "failed"


def format_failure(
    result: GradingResult,
    *,
    output: Any,
    provider: str | None,
    prompt_label: str | None,
    vars: Mapping[str, Any] | None,
    verbose: bool,
) -> str:
    """A multi-line report of a failed (or, with ``verbose``, any) graded item."""
    lines = [_headline(result)]
    lines.extend(_component_lines(result, 1, verbose))
    if not result.component_results and result.reason:
        lines.append(_indent(_clip(result.reason, REASON_LIMIT), "  "))
    if provider:
        lines.append(f"  provider: {provider}")
    if prompt_label:
        lines.append(f"  prompt:   {_one_line(prompt_label, VALUE_LIMIT)}")
    if vars:
        lines.append("  vars:")
        limit = VAR_LIMIT * 10 if verbose else VAR_LIMIT
        for key, value in vars.items():
            lines.append(f"    {key}: {_one_line(value, limit)}")
    text = output if isinstance(output, str) else _one_line(output, 10**9)
    limit = VERBOSE_OUTPUT_LIMIT if verbose else OUTPUT_LIMIT
    if len(text) > limit:
        lines.append(f"  output ({limit:,} of {len(text):,} characters; -vv shows more):")
        text = text[:limit] + " ..."
    else:
        lines.append(f"  output ({len(text):,} characters):" if text else "  output: (empty)")
    if text:
        lines.extend(("    | " + line).rstrip() for line in text.split("\n"))
    return "\n".join(lines)
