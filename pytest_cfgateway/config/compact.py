"""Compact assertion strings (CSV ``__expected`` cells): ``contains:foo``, ``similar(0.8):x``.

Follows promptfoo's ``assertionFromString`` (src/csv.ts), with one deliberate difference:
``file://`` script references keep their ``file://`` prefix (so the value still names a
file). As in promptfoo 0.123.1, every threshold type without a written threshold gets 0.75
(0.8 for ``similar``), even where that is odd: ``levenshtein:x`` only passes on an exact
match, ``latency`` and ``cost`` allow 0.75 ms / $0.75.
"""

from __future__ import annotations

import re

from .assertion_types import LIST_TYPES, PROMPTFOO_BASE_TYPES, THRESHOLD_TYPES
from .cases import AssertionSpec
from .errors import ConfigError
from .files import JS_EXTENSIONS

_ALTERNATION = "|".join(re.escape(t) for t in PROMPTFOO_BASE_TYPES)
_COMPACT = re.compile(rf"^(not-)?({_ALTERNATION})(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$")
_DEFAULT_THRESHOLDS = {
    "similar": 0.8,
    "rouge-n": 0.75,
    "answer-relevance": 0.75,
    "classifier": 0.75,
    "context-faithfulness": 0.75,
    "context-recall": 0.75,
    "context-relevance": 0.75,
    "perplexity-score": 0.75,
    "perplexity": 0.75,
    "levenshtein": 0.75,
    "starts-with": 0.75,
    "cost": 0.75,
    "latency": 0.75,
}


def split_csv_list(text: str) -> list[str]:
    """``a, "b, c", d`` -> [a, "b, c", d]: CSV quoting (``""`` and ``\\"`` are quotes)."""
    items: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise ConfigError(
                        f"unterminated quoted field in list {text!r}",
                        fix='close the quote: "a, b", c',
                    )
                ch = text[i]
                if (ch == "\\" and i + 1 < n and text[i + 1] == '"') or (
                    ch == '"' and i + 1 < n and text[i + 1] == '"'
                ):
                    buf.append('"')
                    i += 2
                elif ch == '"':
                    i += 1
                    break
                else:
                    buf.append(ch)
                    i += 1
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] != ",":
                raise ConfigError(
                    f"expected a comma after the quoted field in list {text!r}",
                    fix='put a comma after each closing quote: "a", "b"',
                )
            items.append("".join(buf))
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            items.append(text[i:j].strip())
            i = j
        if i >= n:
            break
        i += 1  # the comma
        if i >= n:
            items.append("")
            break
    return items


def parse_compact(s: str) -> AssertionSpec:
    """Parse one compact assertion string (a CSV ``__expected`` cell) into an AssertionSpec."""
    text = s.strip()
    for prefix in ("javascript:", "fn:", "eval:"):
        if text.startswith(prefix):
            return AssertionSpec(type="javascript", value=text[len(prefix) :].strip())
    if text.startswith("file://"):
        path = text[len("file://") :]
        stem = path.split(":", 1)[0] if re.search(r"\.(py|js|cjs|mjs|ts|cts|mts):", path) else path
        if stem.endswith(".py"):
            return AssertionSpec(type="python", value=text)
        if stem.endswith(JS_EXTENSIONS):
            return AssertionSpec(type="javascript", value=text)
    if text.startswith(("grade:", "llm-rubric:")):
        rest = text[len("grade:") :] if text.startswith("grade:") else text[len("llm-rubric:") :]
        return AssertionSpec(type="llm-rubric", value=rest.lstrip())
    if text.startswith("python:"):
        return AssertionSpec(type="python", value=text[len("python:") :].strip())
    m = _COMPACT.match(text)
    if not m:
        return AssertionSpec(type="equals", value=text)
    not_prefix, type_, threshold_text, value = m.groups()
    full = f"not-{type_}" if not_prefix else type_
    threshold = float(threshold_text) if threshold_text else None
    if type_ in LIST_TYPES:
        return AssertionSpec(type=full, value=split_csv_list(value) if value else value)
    if type_ in ("contains-json", "is-json"):
        return AssertionSpec(type=full, value=value or None)
    stripped = value.strip() if value is not None else None
    if type_ in THRESHOLD_TYPES:
        if threshold is None:
            threshold = _DEFAULT_THRESHOLDS.get(type_)
        return AssertionSpec(type=full, value=stripped, threshold=threshold)
    return AssertionSpec(type=full, value=stripped, threshold=threshold)
