"""Human-readable differences: which part of a request changed, how an answer drifted."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

#: The request fields the fingerprint covers (see gateway/fingerprint.py).
FINGERPRINTED = ("v", "provider", "route", "query", "repeat", "body")

_MISSING = object()


def _fingerprinted(request: Mapping[str, Any]) -> dict[str, Any]:
    return {k: request.get(k, _MISSING) for k in FINGERPRINTED if k in request}


def _walk(a: Any, b: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}" if path else str(key)
            yield from _walk(a.get(key, _MISSING), b.get(key, _MISSING), sub)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            yield from _walk(
                a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING, f"{path}[{i}]"
            )
    elif type(a) is not type(b) or a != b:
        yield path, a, b


def request_differences(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """Every leaf path where two (redacted) requests differ: ``(path, old, new)``."""
    return list(_walk(_fingerprinted(old), _fingerprinted(new), ""))


def _show(value: Any, width: int = 60) -> str:
    if value is _MISSING:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _show_pair(a: Any, b: Any, width: int = 60) -> tuple[str, str]:
    """Both values, cut around their first difference when they are long strings."""
    if isinstance(a, str) and isinstance(b, str) and max(len(a), len(b)) > width:
        i = next(
            (k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        start = max(0, i - 20)
        lead = "…" if start else ""
        return lead + repr(a[start : start + width]), lead + repr(b[start : start + width])
    return _show(a, width), _show(b, width)


def describe_differences(diffs: list[tuple[str, Any, Any]], limit: int = 6) -> list[str]:
    """Lines like ``body.messages[1].content: 'Hi' -> 'Hello'`` (at most ``limit``)."""
    lines = []
    for path, old, new in diffs[:limit]:
        a, b = _show_pair(old, new)
        lines.append(f"{path}: {a} -> {b}")
    if len(diffs) > limit:
        lines.append(f"... and {len(diffs) - limit} more difference(s)")
    return lines


def text_diff(old: str, new: str, *, limit: int = 40) -> list[str]:
    """A unified diff of two answers (snapshot vs live), at most ``limit`` lines."""
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), "snapshot", "live", n=1, lineterm=""
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)"]
    return lines


def side_by_side(
    old: str | None,
    new: str,
    *,
    width: int = 100,
    limit: int = 30,
    titles: tuple[str, str] = (
        "committed",
        "new recording",
    ),
) -> list[str]:
    """Two answers in two columns (``old | new``), line by line, long lines wrapped; lines
    that differ are marked ``|``, equal ones ``:``; at most ``limit`` rows."""
    import textwrap

    col = max(20, (width - 3) // 2)

    def rows(text: str | None) -> list[str]:
        if text is None:
            return ["(no snapshot)"]
        out: list[str] = []
        for line in text.splitlines() or [""]:
            out.extend(textwrap.wrap(line, col, replace_whitespace=False) or [""])
        return out

    left, right = rows(old), rows(new)
    lines = [f"{titles[0]:<{col}} | {titles[1]}", f"{'-' * col}-+-{'-' * col}"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        mark = ":" if a == b else "|"
        lines.append(f"{a:<{col}} {mark} {b}".rstrip())
        if len(lines) - 2 >= limit:
            lines.append(f"... ({max(len(left), len(right)) - limit} more lines)")
            break
    return lines
