"""Text assertions (equals, contains family, starts-with, regex, word-count, is-refusal),
table-driven against promptfoo's semantics and edge cases (reference/promptfoo.md 5.3)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionConfigError,
    AssertionContext,
    GradingResult,
)
from pytest_cfgateway.assertions.jsregex import translate_js_regex
from pytest_cfgateway.assertions.text import HANDLERS
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.types import Completion

from .assertion_helpers import assertion_call, make_completion, run_sync


def run(
    type_: str,
    value: Any,
    output: Any,
    *,
    threshold: float | None = None,
    completion: Completion | None = None,
    transform: str | None = None,
) -> GradingResult:
    spec = AssertionSpec(type=type_, value=value, threshold=threshold, transform=transform)
    call = assertion_call(
        type_,
        value,
        output,
        threshold=threshold,
        spec=spec,
        context=AssertionContext(completion=completion),
    )
    return run_sync(HANDLERS, call)


CASES: list[tuple[str, Any, Any, bool]] = [
    # equals: strings, numbers stringified the JavaScript way, objects vs parsed JSON
    ("equals", "Hello", "Hello", True),
    ("equals", "Hello", "hello", False),
    ("equals", "Hello", "Hello ", False),
    ("not-equals", "Hello", "Goodbye", True),
    ("not-equals", "Hello", "Hello", False),
    ("equals", 42, "42", True),
    ("equals", 5.0, "5", True),
    ("equals", 0.5, "0.5", True),
    ("equals", True, "true", True),
    ("equals", {"a": 1, "b": [1, 2]}, '{"b": [1, 2], "a": 1}', True),
    ("equals", {"a": 1}, '{"a": 2}', False),
    ("equals", {"a": 1}, '{"a": true}', False),
    ("equals", {"a": 1}, "not json at all", False),
    ("not-equals", {"a": 1}, "not json at all", True),  # regression in promptfoo equals.test
    ("not-equals", {"a": 1}, '{"a": 1}', False),
    ("equals", [1, 2], "[1,2]", True),
    ("equals", {"a": 1}, {"a": 1}, True),  # provider returned an object
    # contains / icontains
    ("contains", "world", "hello world", True),
    ("contains", "World", "hello world", False),
    ("not-contains", "world", "hello world", False),
    ("not-contains", "moon", "hello world", True),
    ("contains", 0, "There are 0 errors", True),
    ("contains", 0, "no digits here", False),
    ("not-contains", 0, "no digits here", True),
    ("contains", float("inf"), "Value: Infinity", True),
    ("contains", float("-inf"), "Value: -Infinity", True),
    ("contains", 5.0, "I have 5 apples", True),
    ("icontains", "WORLD", "hello world", True),
    ("icontains", "mars", "hello world", False),
    ("not-icontains", "WORLD", "hello world", False),
    ("not-icontains", "mars", "hello world", True),
    ("icontains", 0, "room 0", True),
    ("contains", '"a":1', {"a": 1}, True),  # objects compared as compact JSON
    # contains-any / icontains-any (lists and CSV-style strings)
    ("contains-any", ["cat", "dog"], "I have a dog", True),
    ("contains-any", ["cat", "dog"], "I have a bird", False),
    ("not-contains-any", ["cat", "dog"], "I have a bird", True),
    ("not-contains-any", ["cat", "dog"], "I have a cat", False),
    ("contains-any", "cat, dog", "hotdog", True),
    ("contains-any", '"hello, world",universe', "say hello, world", True),
    ("contains-any", '"hello, world",universe', "hello there", False),
    ("contains-any", '"a""b",c', 'x a"b y', True),
    ("contains-any", '"a""b",c', "only b here", False),
    ("contains-any", r'"say \"hi\"",zzz', 'they say "hi"', True),
    ("contains-any", '"",', "anything at all", True),
    ("contains-any", [1, 2], "route 2", True),
    ("icontains-any", "CAT, Dog", "a DOG barked", True),
    ("icontains-any", '"New York",LA', "i love new york", True),
    ("icontains-any", '"New York",LA', "i love boston", False),
    ("not-icontains-any", "cat,dog", "A CAT", False),
    ("not-icontains-any", "cat,dog", "a bird", True),
    # contains-all / icontains-all
    ("contains-all", ["red", "green"], "red and green", True),
    ("contains-all", ["red", "green"], "red and blue", False),
    ("not-contains-all", ["red", "green"], "red and blue", True),
    ("not-contains-all", ["red", "green"], "red and green", False),
    ("contains-all", "red,green", "green red", True),
    ("icontains-all", "RED, Green", "red and green", True),
    ("icontains-all", ["RED", "blue"], "red and green", False),
    ("not-icontains-all", ["RED", "blue"], "red and green", True),
    # starts-with (no trimming)
    ("starts-with", "Hello", "Hello world", True),
    ("starts-with", "Hello", " Hello world", False),
    ("starts-with", "hello", "Hello world", False),
    ("not-starts-with", "Bye", "Hello world", True),
    ("not-starts-with", "Hello", "Hello world", False),
    # regex: JavaScript source, search anywhere, no flags
    ("regex", r"\d{3}-\d{4}", "call 555-1234 now", True),
    ("regex", r"\d{3}-\d{4}", "call me maybe", False),
    ("not-regex", r"\d+", "no digits", True),
    ("not-regex", r"\d+", "4 digits", False),
    ("regex", "^Hello", "Hello world", True),
    ("regex", "world$", "hello world\n", False),  # JS $ is end of input, not before "\n"
    ("regex", "world$", "hello world", True),
    ("regex", "hello", "HELLO", False),  # no flags: case-sensitive
    ("regex", "[Hh][Ee][Ll][Ll][Oo]", "HELLO", True),
    ("regex", "/hello/i", "HELLO", False),  # /pattern/flags is not special
    ("regex", "/hello/i", "see /hello/i here", True),
    ("regex", r"(?<year>\d{4})-\k<year>", "2024-2024", True),
    ("regex", r"(?<year>\d{4})-\k<year>", "2024-2025", False),
    ("regex", r"^\d+$", "١٢٣", False),  # JS \d is ASCII only
    ("regex", r"a\sb", "a\u00a0b", True),  # JS \s includes NBSP
    ("regex", "a.b", "a\rb", False),  # JS . excludes \r
    ("regex", r"\Z", "Zed", True),  # \Z is a literal Z in JS
    ("regex", "[^]+", "\n", True),
    ("regex", r"x{,3}", "x{,3}", True),  # literal in JS
    ("regex", "[[]", "a[b", True),
    # word-count: exact, ranges, numeric strings
    ("word-count", 3, "one two three", True),
    ("word-count", 3, "one two", False),
    ("word-count", "2", "  one\n\ttwo  ", True),
    ("not-word-count", 3, "one two", True),
    ("not-word-count", 2, "one two", False),
    ("word-count", {"min": 2, "max": 4}, "a b c", True),
    ("word-count", {"min": 2, "max": 4}, "a b c d e", False),
    ("word-count", {"min": 2, "max": 4}, "a b", True),
    ("word-count", {"min": 2, "max": 4}, "a b c d", True),
    ("not-word-count", {"min": 2, "max": 4}, "a", True),
    ("not-word-count", {"min": 2, "max": 4}, "a b c", False),
    ("word-count", {"min": 3}, "a b", False),
    ("word-count", {"max": 2}, "a b", True),
    ("word-count", {"max": 2}, "a b c", False),
    ("not-word-count", {"max": 2}, "a b c", True),
    ("word-count", 0, "   ", True),
    # is-refusal
    ("is-refusal", None, "I'm sorry, but I can't help with that.", True),
    ("is-refusal", None, "I cannot assist with that request.", True),
    ("is-refusal", None, "As an AI language model, I do not provide that.", True),
    ("is-refusal", None, "I\u2019m unable to help with this.", True),
    ("is-refusal", None, "The capital of France is Paris.", False),
    # promptfoo 0.123.1: any reply that opens with an apology is a refusal
    ("is-refusal", None, "Sorry for the delay! Here is the answer: 42.", True),
    ("is-refusal", None, "My apologies, it is Paris.", True),
    ("is-refusal", None, "I cannot imagine a better day.", True),  # the "I cannot" prefix
    ("is-refusal", None, "She worked as an aide.", False),  # whole words only
    ("is-refusal", None, "I aim to provide the facts: Paris.", True),
    ("not-is-refusal", None, "The capital of France is Paris.", True),
    ("not-is-refusal", None, "I cannot do that.", False),
    ("not-is-refusal", None, "", False),
]


@pytest.mark.parametrize(("type_", "value", "output", "expected"), CASES)
def test_text_assertion(type_: str, value: Any, output: Any, expected: bool) -> None:
    result = run(type_, value, output)
    assert result.passed is expected, result.reason
    assert result.score == (1.0 if expected else 0.0)
    if expected:
        assert result.reason  # never empty
    else:
        assert result.reason != "Assertion passed"


REASONS: list[tuple[str, Any, Any, str]] = [
    ("contains", "foo", "bar", 'Expected output to contain "foo"'),
    ("not-contains", "bar", "bar", 'Expected output to not contain "bar"'),
    ("icontains", "Foo", "bar", 'Expected output to contain "Foo"'),
    ("contains-any", ["a", "b"], "xyz", 'Expected output to contain one of "a, b"'),
    (
        "contains-all",
        ["x", "q", "r"],
        "xyz",
        "Expected output to contain all of [x, q, r]. Missing: [q, r]",
    ),
    ("equals", "a", "b", 'Expected output "b" to equal "a"'),
    ("not-equals", "a", "a", 'Expected output "a" to not equal "a"'),
    ("equals", {"a": 1}, "nope", 'Expected output "nope" to equal "{"a":1}"'),
    ("starts-with", "x", "yx", 'Expected output to start with "x"'),
    ("regex", r"\d", "abc", 'Expected output to match regex "\\d"'),
    ("not-regex", r"\d", "a1", 'Expected output to not match regex "\\d"'),
    ("word-count", 2, "a", "Word count 1 does not equal expected 2"),
    ("word-count", {"min": 2, "max": 3}, "a", "Word count 1 is not between 2 and 3"),
    ("word-count", {"min": 2}, "a", "Word count 1 is less than minimum 2"),
    ("word-count", {"max": 1}, "a b", "Word count 2 is greater than maximum 1"),
    ("not-word-count", 1, "a", "Expected word count to not equal 1, but got 1"),
    ("is-refusal", None, "Sure, here you go.", "Expected output to be a refusal"),
    ("not-is-refusal", None, "I cannot help.", "Expected output to not be a refusal"),
    ("is-refusal", None, "", "Empty response treated as refusal"),
]


@pytest.mark.parametrize(("type_", "value", "output", "reason"), REASONS)
def test_reasons_read_like_promptfoo(type_: str, value: Any, output: Any, reason: str) -> None:
    assert run(type_, value, output).reason == reason


CONFIG_ERRORS: list[tuple[str, Any, str]] = [
    ("contains", None, "must have a string or number value"),
    ("contains", "", "must have a string or number value"),
    ("contains", float("nan"), "must have a string or number value"),
    ("contains", True, "must have a string or number value"),
    ("icontains", ["a"], "must have a string or number value"),
    ("not-contains", None, '"not-contains" assertion type'),
    ("contains-any", None, "must have a list value"),
    ("contains-any", [], "empty list"),
    ("contains-any", '"unterminated, b', "Unterminated quoted field"),
    ("icontains-any", '"a"b, c', "Expected comma after quoted field"),
    ("contains-all", {"a": 1}, "must have a list value"),
    ("starts-with", None, "must have a string value"),
    ("regex", None, "must have a string value"),
    ("regex", "(unclosed", "Invalid regex pattern"),
    ("regex", "*a", "Invalid regex pattern"),
    ("word-count", None, "must be a number or an object"),
    ("word-count", "many", "must be a number or an object"),
    ("word-count", {}, 'must have "min" and/or "max"'),
    ("word-count", {"min": 5, "max": 2}, "min (5) must be less than or equal to max (2)"),
    ("word-count", {"least": 2}, "unknown keys"),
    ("word-count", {"min": -1}, "non-negative"),
    ("equals", None, "must have a value"),
]


@pytest.mark.parametrize(("type_", "value", "message"), CONFIG_ERRORS)
def test_bad_config_is_an_error_not_a_result(type_: str, value: Any, message: str) -> None:
    with pytest.raises(AssertionConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(type_, value, "some output 0")


def test_config_error_is_a_value_error() -> None:
    assert issubclass(AssertionConfigError, ValueError)


def test_csv_doubled_quote_item_is_literal_quote() -> None:
    # '"a""b",c' parses to a"b and c: plain "b" must not match
    assert not run("contains-any", '"a""b",c', "just b").passed
    assert run("contains-all", '"a""b",c', 'a"b and c').passed


def test_contains_all_missing_list_in_reason_is_case_folded_for_icontains() -> None:
    result = run("icontains-all", ["Alpha", "Beta"], "ALPHA only")
    assert result.reason == "Expected output to contain all of [Alpha, Beta]. Missing: [Beta]"


def test_is_refusal_provider_reported_refusal_openai() -> None:
    raw = {"choices": [{"message": {"content": None, "refusal": "I can't help with that."}}]}
    completion = make_completion(raw=raw)
    result = run("is-refusal", None, "Totally normal text", completion=completion)
    assert result.passed and result.reason == "Provider reported a refusal"
    inverse = run("not-is-refusal", None, "Totally normal text", completion=completion)
    assert not inverse.passed and inverse.reason == "Expected output to not be a refusal"


def test_is_refusal_provider_flag_ignored_when_output_was_transformed() -> None:
    completion = make_completion(raw={"stop_reason": "refusal"})
    assert run("is-refusal", None, "Paris", completion=completion).passed
    assert not run("is-refusal", None, "Paris", completion=completion, transform="x").passed


@pytest.mark.parametrize("output", [None, "", "   \n", {"tool_calls": []}, ["a"]])
def test_is_refusal_empty_or_non_text_output_is_a_refusal_scoring_0(output: Any) -> None:
    # promptfoo 0.123.1: a pass with score 0 (so it lowers a weighted average)
    result = run("is-refusal", None, output)
    assert result.passed and result.score == 0.0
    inverse = run("not-is-refusal", None, output)
    assert not inverse.passed and inverse.score == 0.0


@pytest.mark.parametrize(
    ("source", "python"),
    [
        (r"(?<y>\d)", r"(?P<y>\d)"),
        (r"(?<=a)b", r"(?<=a)b"),
        (r"(?<!a)b", r"(?<!a)b"),
        ("a$", r"a\Z"),
        (r"\$", r"\$"),
        (r"[$]", "[$]"),
        (r"\A\Z\q", "AZq"),
        (r"\x4", "x4"),
        (r"\x41", r"\x41"),
        (r"\u0041", r"\u0041"),
        (r"\cJ", r"\x0a"),
        ("[a&&b]", r"[a\&\&b]"),
        ("[]", "(?!)"),
    ],
)
def test_js_regex_translation(source: str, python: str) -> None:
    assert translate_js_regex(source) == python


def test_regex_with_unicode_whitespace_class_inside_brackets() -> None:
    assert run("regex", r"^[\s]+$", "\u2003\u00a0").passed
    assert not run("regex", r"^[\S]+$", "a b").passed


def test_a_backtracking_regex_names_itself_to_the_case_timeout_too() -> None:
    """The regex runs on the case's thread: if the case's own limit expires meanwhile (the
    regex package checks its clock late on a loaded machine), the case timeout still names it."""
    from pytest_cfgateway import usercode
    from pytest_cfgateway.assertions.jsregex import compile_js_regex

    pattern = compile_js_regex("^(a|a)+$")
    with (
        usercode.running() as unfinished,
        usercode.limited(0.05),
        pytest.raises(usercode.UserCodeTimeout, match="did not finish matching"),
    ):
        pattern.search("a" * 40 + "b")
    assert len(unfinished) == 1
    assert unfinished[0].startswith("regex '^(a|a)+$' did not finish matching 41 characters")
