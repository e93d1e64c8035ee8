"""Small shared pieces of the deterministic assertion handlers.

Everything here is pure: output coercion the way promptfoo does it (``String``/``JSON.stringify``),
the binary ``not-`` rule, value checks that raise `AssertionConfigError` with a fix, and the
CSV-style list parsing of ``contains-any``-style values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from .base import AssertionCall, AssertionConfigError, GradingResult

PASSED = "Assertion passed"


def output_text(output: Any) -> str:
    """The output as promptfoo's ``outputString``: strings as-is, objects as compact JSON."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, (bool, int, float)):
        return js_string(output)
    try:
        return json.dumps(output, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(output)


def js_string(value: Any) -> str:
    """JavaScript's ``String(value)`` for the scalars a YAML config can hold."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, (dict, list)):
        return output_text(value)
    return str(value)


def spec_attr(call: AssertionCall, name: str, default: Any = None) -> Any:
    """Read a field of the assertion spec whether it is an AssertionSpec or a plain dict."""
    spec = call.spec
    if spec is None:
        return default
    if isinstance(spec, dict):
        return spec.get(name, default)
    return getattr(spec, name, default)


def type_name(call: AssertionCall) -> str:
    """The assertion type as the user wrote it (with ``not-``), for messages."""
    return f"not-{call.base_type}" if call.inverse else call.base_type


def binary(
    call: AssertionCall, raw: bool, fail_reason: str, inverse_fail_reason: str | None = None
) -> GradingResult:
    """promptfoo's binary rule: ``pass = raw != inverse``; score 1/0 of the final verdict.

    ``fail_reason`` is used when a plain assertion fails, ``inverse_fail_reason`` when a
    ``not-`` assertion fails (defaults to ``fail_reason``).
    """
    passed = raw != call.inverse
    if passed:
        reason = PASSED
    elif call.inverse:
        reason = inverse_fail_reason if inverse_fail_reason is not None else fail_reason
    else:
        reason = fail_reason
    return GradingResult(passed=passed, score=1.0 if passed else 0.0, reason=reason)


def failure(reason: str) -> GradingResult:
    """A failed result that ``not-`` must not flip (missing data the check depends on)."""
    return GradingResult(passed=False, score=0.0, reason=reason)


def fmt_num(x: float) -> str:
    """A threshold as the user wrote it: ``5`` not ``5.0``."""
    return (
        js_string(float(x)) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)
    )


def is_number(value: Any) -> bool:
    """True for int/float but not bool (YAML ``true`` is not a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def require_string(call: AssertionCall, *, allow_empty: bool = False) -> str:
    """The value as a string, or an AssertionConfigError saying what to write instead."""
    value = call.value
    if not isinstance(value, str) or (not allow_empty and value == ""):
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion must have a string value; got {_describe(value)}. '
            f"Fix: set `value:` to the expected text."
        )
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "no value"
    if isinstance(value, str) and value == "":
        return "an empty string"
    return f"{type(value).__name__} {value!r}"[:120]


def describe_value(value: Any) -> str:
    """A short description of a bad value for error messages."""
    return _describe(value)


# --- CSV-style lists (contains-any / contains-all values) --------------------------------


def parse_comma_separated(text: str) -> list[str]:
    """Split ``a, "b, c", "d""e"`` into ``["a", "b, c", 'd"e']`` the way promptfoo does.

    Unquoted fields are trimmed and empty ones (``a,,b``) skipped; quoted fields keep their
    content verbatim, accept ``""`` and ``\\"`` for a quote and ``\\\\`` for a backslash, and
    may be empty (``"",`` yields one empty item). An unterminated quote or text after a closing
    quote raises AssertionConfigError.
    """
    return list(_iter_fields(text))


def _iter_fields(text: str) -> Iterator[str]:
    i, n = 0, len(text)
    while i < n:
        while i < n and (text[i].isspace() or text[i] == ","):
            i += 1
        if i >= n:
            return
        if text[i] == '"':
            field, i = _quoted_field(text, i)
            yield field
            while i < n and text[i].isspace():
                i += 1
            if i < n and text[i] != ",":
                raise AssertionConfigError(
                    f"Expected comma after quoted field in contains assertion value {text!r} "
                    f"(at character {i}). Fix: separate items with commas, e.g. "
                    '`"a, b", c`, or use a YAML list.'
                )
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            yield text[i:j].strip()
            i = j


def _quoted_field(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif ch == '"' and i + 1 < n and text[i + 1] == '"':
            out.append('"')
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise AssertionConfigError(
        f"Unterminated quoted field in contains assertion value {text!r}. "
        'Fix: close the quote (write a literal quote as "" inside a quoted item), '
        "or use a YAML list."
    )


def string_list(call: AssertionCall) -> list[str]:
    """A list value, or a CSV-style string parsed into one; each item stringified."""
    value = call.value
    if isinstance(value, str):
        items: list[Any] = parse_comma_separated(value) if value else []
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion must have a list value (or a comma-separated '
            f"string); got {_describe(value)}. Fix: `value: [foo, bar]`."
        )
    if not items:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion has an empty list of values. '
            "Fix: list at least one expected string."
        )
    for item in items:
        if isinstance(item, (dict, list)):
            raise AssertionConfigError(
                f'"{type_name(call)}" items must be strings or numbers; got {_describe(item)}.'
            )
    return [js_string(v) for v in items]


_WS = re.compile(r"\s+")


def words(text: str) -> list[str]:
    """Whitespace-separated words (JavaScript ``trim().split(/\\s+/)`` without empties)."""
    return [w for w in _WS.split(text.strip()) if w]
