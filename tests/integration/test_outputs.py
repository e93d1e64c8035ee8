"""--cf-output files: promptfoo's result shape, every row (errors too), no secrets."""

from __future__ import annotations

import csv
import json
import textwrap

import pytest

CONFIG = """
prompts: ['Say {{word}}', 'Shout {{word}}']
providers: [echo]
tests:
  - description: ok
    vars: {word: hi}
    assert: [{type: icontains, value: hi}]
  - description: bad
    vars: {word: bye}
    assert: [{type: contains, value: hi, metric: greeting}]
  - description: broken
    vars: {word: x}
    assert: [{type: starts-with, value: '{{nothing}}'}]
"""


@pytest.fixture
def run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    return pytester.runpytest(
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-output",
        "out/results.json",
        "--cf-output",
        "out/results.jsonl",
        "--cf-output",
        "out/results.csv",
        "--cf-output",
        "out/report.html",
    )


def test_json_has_promptfoo_shape_and_every_row(run, pytester):
    run.assert_outcomes(passed=2, failed=2, errors=2)
    doc = json.loads(pytester.path.joinpath("out/results.json").read_text())
    results = doc["results"]
    assert results["version"] == 3
    rows = results["results"]
    assert len(rows) == 6
    assert results["stats"]["successes"] == 2
    assert results["stats"]["failures"] == 2
    assert results["stats"]["errors"] == 2
    first = rows[0]
    assert first["prompt"] == {"raw": "Say hi", "label": "Say {{word}}"}
    assert first["provider"] == {"id": "echo", "label": "echo"}
    assert first["response"]["output"] == "Say hi"
    assert first["gradingResult"]["pass"] is True
    bad = [r for r in rows if r["testCase"]["description"] == "bad"]
    assert all(r["failureReason"] == 1 and r["namedScores"] == {"greeting": 0.0} for r in bad)
    assert {r["failureReason"] for r in rows if r["outcome"] == "error"} == {2}


def test_jsonl_csv_html(run, pytester):
    lines = pytester.path.joinpath("out/results.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line)["nodeid"] for line in lines)
    with pytester.path.joinpath("out/results.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["outcome"] for r in table].count("passed") == 2
    html = pytester.path.joinpath("out/report.html").read_text()
    assert html.startswith("<!doctype html>")
    assert "2/6 passed" in html
    assert "Shout {{word}}" in html and "Expected output to contain" in html
    assert "<script>" in html and "f-fail" in html  # the filters


def test_unknown_output_format_is_a_usage_error(pytester):
    result = pytester.runpytest("--cf-output", "x.xlsx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ".html" in result.stderr.str()


def test_json_is_what_promptfoo_import_reads(run, pytester):
    """The shape `promptfoo import` (0.123.1) needs to store rows and `promptfoo view` to
    show them: checked by hand once with the real promptfoo (import, then `show eval` listed
    every row with its PASS/FAIL); this keeps the shape."""
    doc = json.loads(pytester.path.joinpath("out/results.json").read_text())
    summary = doc["results"]
    assert summary["version"] == 3 and isinstance(summary["prompts"], list)
    prompts = summary["prompts"]
    assert len(prompts) == 2
    assert all({"raw", "label", "provider", "id", "metrics"} <= set(p) for p in prompts)
    rows = summary["results"]
    cells = {(r["promptIdx"], r["testIdx"]) for r in rows}
    assert cells == {(p, t) for p in (0, 1) for t in (0, 1, 2)}  # one row per cell
    for r in rows:
        assert isinstance(r["id"], str) and r["id"]
        assert r["promptId"] == prompts[r["promptIdx"]]["id"]
        assert isinstance(r["score"], int | float) and isinstance(r["latencyMs"], int | float)
        assert r["failureReason"] == {"passed": 0, "failed": 1, "error": 2}[r["outcome"]]
        assert isinstance(r["namedScores"], dict) and isinstance(r["vars"], dict)
        if r["failureReason"] == 2:
            assert isinstance(r["error"], str) and "starts-with" in r["error"]
            assert r["reason"] == r["error"]
    metrics = prompts[0]["metrics"]
    assert metrics["testPassCount"] == 1 and metrics["testFailCount"] == 1
    assert metrics["testErrorCount"] == 1 and metrics["namedScores"] == {"greeting": 0.0}


def test_config_output_path_gets_the_configs_rows(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("sub").mkdir()
    pytester.path.joinpath("sub/promptfooconfig.yaml").write_text(
        textwrap.dedent(CONFIG) + "outputPath: [results/out.json, results/out.html]\n"
    )
    pytester.path.joinpath("other.yaml").write_text(
        "prompts: [hi]\nproviders: [echo]\ntests: [{assert: [{type: contains, value: hi}]}]\n"
    )
    result = pytester.runpytest(
        "--cf-config", "sub/promptfooconfig.yaml", "--cf-config", "other.yaml"
    )
    result.assert_outcomes(passed=3, failed=2, errors=2)
    doc = json.loads(pytester.path.joinpath("sub/results/out.json").read_text())
    assert len(doc["results"]["results"]) == 6  # that config's rows only
    assert "Shout {{word}}" in pytester.path.joinpath("sub/results/out.html").read_text()


def test_an_output_path_it_cannot_write_warns_and_the_tests_still_run(
    pytester: pytest.Pytester,
) -> None:
    # promptfoo runs such a config and only fails to write the file at the end
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(CONFIG) + "outputPath: [results.xlsx, ./output, out/r.json]\n"
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(passed=2, failed=2, errors=2, warnings=2)
    out = result.stdout.str()
    assert "outputPath: 'results.xlsx' has an unsupported extension '.xlsx'; it is not" in out
    assert "outputPath: './output' has an unsupported extension ''; it is not written" in out
    assert pytester.path.joinpath("out/r.json").is_file()
    assert not pytester.path.joinpath("results.xlsx").exists()
    assert not pytester.path.joinpath("output").exists()


@pytest.mark.parametrize("value", ["42", "[results.json, {a: 1}]", "''"])
def test_an_output_path_that_is_not_a_file_name_warns_and_the_tests_still_run(
    pytester: pytest.Pytester, value: str
) -> None:
    # it refused the whole config ("no tests ran"); promptfoo runs the rows
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(CONFIG) + f"outputPath: {value}\n"
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(passed=2, failed=2, errors=2, warnings=1)
    out = result.stdout.str()
    assert "outputPath: expected a file name or a list of them, got" in out
    assert "Fix: write e.g. 'outputPath: results.json'" in out
    assert pytester.path.joinpath("results.json").is_file() == ("results.json" in value)
