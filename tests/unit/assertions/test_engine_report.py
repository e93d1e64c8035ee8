"""format_failure: a failed item explains itself (failing assertions, reasons, context)."""

from __future__ import annotations

from pytest_cfgateway.assertions.base import GradingResult
from pytest_cfgateway.assertions.report import describe_assertion, format_failure
from pytest_cfgateway.config.cases import AssertionSpec


def comps() -> list[GradingResult]:
    inner = [
        GradingResult(
            False, 0, 'Expected output to contain "zzz"', assertion=AssertionSpec("contains", "zzz")
        ),
        GradingResult(True, 1, "ok", assertion=AssertionSpec("icontains", "a")),
    ]
    return [
        GradingResult(
            False,
            0,
            'Expected output to contain "Paris"',
            assertion=AssertionSpec("contains", "Paris"),
        ),
        GradingResult(
            False,
            0,
            "Grader call failed: 500",
            grader_error=True,
            assertion=AssertionSpec("llm-rubric", "is polite", metric="tone"),
        ),
        GradingResult(True, 1, "Assertion passed", assertion=AssertionSpec("regex", "^A")),
        GradingResult(
            False,
            0.5,
            "Aggregate score 0.50 < 0.8 threshold",
            assertion=AssertionSpec("assert-set", threshold=0.8),
            component_results=inner,
        ),
    ]


def test_lists_failures_with_reasons_and_context() -> None:
    result = GradingResult(False, 0.375, "x", component_results=comps())
    text = format_failure(
        result,
        output="The capital is Lyon.",
        provider="openai:gpt-5.2",
        prompt_label="capital",
        vars={"country": "France", "doc": {"a": 1}},
        verbose=False,
    )
    lines = text.splitlines()
    assert lines[0] == "3 of 4 assertions failed (score 0.38)"
    assert '  FAIL contains "Paris"  score 0.00' in lines
    assert '       Expected output to contain "Paris"' in lines
    assert any(
        "llm-rubric" in ln and "[grader error]" in ln and "metric tone" in ln for ln in lines
    )
    assert '    FAIL contains "zzz"  score 0.00' in lines  # nested under the assert-set
    assert "regex" not in text  # passing ones hidden unless verbose
    assert "  (1 passing assertion not shown; -vv shows them)" in lines
    assert "  provider: openai:gpt-5.2" in lines and "  prompt:   capital" in lines
    assert "    country: France" in lines and '    doc: {"a": 1}' in lines
    assert lines[-1] == "    | The capital is Lyon."


def test_verbose_shows_passing_and_threshold_headline() -> None:
    result = GradingResult(
        False, 0.33, "Aggregate score 0.33 < 0.5 threshold", component_results=comps()[:3]
    )
    text = format_failure(
        result, output="", provider=None, prompt_label=None, vars=None, verbose=True
    )
    assert text.splitlines()[0] == "Aggregate score 0.33 < 0.5 threshold (2 of 3 assertions failed)"
    assert 'PASS regex "^A"' in text and "output: (empty)" in text
    assert "provider:" not in text


def test_long_output_trimmed_unless_verbose() -> None:
    result = GradingResult(False, 0, "r", component_results=comps()[:1])
    long = "word " * 1000
    short = format_failure(
        result, output=long, provider="p", prompt_label=None, vars={}, verbose=False
    )
    assert "output (600 of 5,000 characters; -vv shows more):" in short
    assert len(short) < 1500
    full = format_failure(
        result, output=long, provider="p", prompt_label=None, vars={}, verbose=True
    )
    assert "output (5,000 characters):" in full


def test_object_output_and_no_components() -> None:
    result = GradingResult(False, 0, "Python code execution failed: boom")
    text = format_failure(
        result, output={"a": 1}, provider=None, prompt_label=None, vars=None, verbose=False
    )
    assert "Python code execution failed: boom" in text and '    | {"a": 1}' in text


def test_describe_assertion() -> None:
    assert (
        describe_assertion(AssertionSpec("not-contains", "x", weight=2))
        == 'not-contains "x" (weight 2)'
    )
    assert describe_assertion(AssertionSpec("word-count", {"min": 1})) == 'word-count {"min": 1}'
    assert describe_assertion(None) == "assertion"
