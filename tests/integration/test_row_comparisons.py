"""select-best and max-score judge a whole row, whatever part of it is selected, on any worker."""

from __future__ import annotations

import textwrap

import pytest

ROW_CONFIG = """
prompts:
  - id: 'Write a short greeting for {{name}}'
    label: short
  - id: 'Write a long and very warm greeting for {{name}}'
    label: long
providers: [echo]
defaultTest:
  options:
    provider: openai:gpt-4o-mini
tests:
  - description: greeting
    vars: {name: Ann}
    assert:
      - type: select-best
        value: the warmest greeting
"""

MAX_SCORE_CONFIG = """
prompts:
  - id: 'alpha beta {{x}}'
    label: two
  - id: 'alpha {{x}}'
    label: one
providers: [echo]
tests:
  - description: scored
    vars: {x: gamma}
    assert:
      - type: contains
        value: beta
      - type: max-score
"""


@pytest.fixture
def row_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(ROW_CONFIG))
    return pytester


def test_select_best_records_and_replays_per_item(row_project, emu, keyed_env, monkeypatch):
    # the grader picks output 1 (the "long" prompt)
    emu.rules = [{"match": "warmest", "reply": "1"}]
    args = ("--cf-config", "promptfooconfig.yaml")
    rec = row_project.runpytest(*args, "--cf-mode", "record", "--cf-gateway-url", emu.url, "-rA")
    rec.assert_outcomes(passed=1, failed=1)
    out = rec.stdout.str()
    assert (
        "greeting[echo-long] PASSED" in out
        or "PASSED promptfooconfig.yaml::greeting[echo-long]" in out
    )
    # replay offline: same verdicts, no calls
    for k in keyed_env:
        monkeypatch.delenv(k)
    emu.rules = []
    emu.clear()
    row_project.runpytest(*args).assert_outcomes(passed=1, failed=1)
    # only part of the row selected: the item still knows the whole row
    row_project.runpytest(*args, "-k", "long").assert_outcomes(passed=1)
    row_project.runpytest(*args, "-k", "short").assert_outcomes(failed=1)
    # on different xdist workers
    row_project.runpytest_subprocess(*args, "-n", "2", "-p", "xdist").assert_outcomes(
        passed=1, failed=1
    )
    assert emu.requests == []


def test_max_score_picks_the_best_scoring_output(pytester):
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(MAX_SCORE_CONFIG))
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-rA")
    # "two" contains beta and wins max-score; "one" fails contains and loses
    result.assert_outcomes(passed=1, failed=1)
    assert "scored[echo-two]" in result.stdout.str()
    pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-k", "two").assert_outcomes(passed=1)


def test_select_best_needs_two_outputs(pytester):
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ['hi']
            providers: [echo]
            tests: [{assert: [{type: select-best, value: best}]}]
            """
        )
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(errors=1)
    assert "at least two outputs" in result.stdout.str()
