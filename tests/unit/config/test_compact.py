"""Compact assertion strings (CSV __expected cells)."""

from __future__ import annotations

import pytest

from pytest_cfgateway.config import ConfigError, parse_compact
from pytest_cfgateway.config.compact import split_csv_list


@pytest.mark.parametrize(
    ("text", "type_", "value", "threshold"),
    [
        ("Hello world", "equals", "Hello world", None),
        ("contains:foo", "contains", "foo", None),
        ("contains: Paris ", "contains", "Paris", None),
        ("not-contains:bar", "not-contains", "bar", None),
        ("icontains:BONJOUR", "icontains", "BONJOUR", None),
        ("starts-with:Once", "starts-with", "Once", 0.75),  # promptfoo's fallback, unused
        ("regex:\\d+", "regex", "\\d+", None),
        ("is-json", "is-json", None, None),
        ("contains-json", "contains-json", None, None),
        ("similar(0.85):the answer", "similar", "the answer", 0.85),
        ("similar:the answer", "similar", "the answer", 0.8),
        ("rouge-n:reference", "rouge-n", "reference", 0.75),
        ("levenshtein(5):kitten", "levenshtein", "kitten", 5.0),
        ("levenshtein:kitten", "levenshtein", "kitten", 0.75),  # promptfoo: exact match only
        ("latency(3000)", "latency", None, 3000.0),
        ("grade:Is polite", "llm-rubric", "Is polite", None),
        ("grade: Is polite", "llm-rubric", "Is polite", None),
        ("llm-rubric:Mentions {{topic}}", "llm-rubric", "Mentions {{topic}}", None),
        ("factuality:Paris is the capital", "factuality", "Paris is the capital", None),
        ("fn:output.length > 5", "javascript", "output.length > 5", None),
        ("javascript: output.startsWith('A')", "javascript", "output.startsWith('A')", None),
        ("eval:1 + 1", "javascript", "1 + 1", None),
        ("python:len(output) > 3", "python", "len(output) > 3", None),
        ("file://checks.py", "python", "file://checks.py", None),
        ("file://checks.py:my_fn", "python", "file://checks.py:my_fn", None),
        ("file://checks.js", "javascript", "file://checks.js", None),
        ("file://expected.txt", "equals", "file://expected.txt", None),
        ("contain:foo", "equals", "contain:foo", None),
        ("not-is-json", "not-is-json", None, None),
    ],
)
def test_parse_compact(text: str, type_: str, value: object, threshold: float | None) -> None:
    spec = parse_compact(text)
    assert (spec.type, spec.value, spec.threshold) == (type_, value, threshold)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contains-any:a,b , c", ["a", "b", "c"]),
        ('contains-all:"hello, world",universe', ["hello, world", "universe"]),
        ('icontains-any:"a""b",c', ['a"b', "c"]),
        ('not-contains-any:"a\\"b",c', ['a"b', "c"]),
        ('contains-any:"",x', ["", "x"]),
        ("contains-any:a,", ["a", ""]),
    ],
)
def test_list_types_use_csv_quoting(text: str, expected: list[str]) -> None:
    assert parse_compact(text).value == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [('"open, x', "unterminated quoted field"), ('"a" b, c', "expected a comma")],
)
def test_csv_list_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        split_csv_list(text)
