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
