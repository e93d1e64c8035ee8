"""pytest's own conventions on config items: --lf, --ff, --nf, --sw, and --cf-config as a
collection argument (alone: only the configs; with paths: both)."""

from __future__ import annotations

import textwrap

import pytest

CONFIG = """
prompts: ['Say {{word}}']
providers: [echo]
tests:
  - description: greets
    vars: {word: hello}
    assert: [{type: contains, value: hello}]
  - description: fails
    vars: {word: hello}
    assert: [{type: contains, value: goodbye}]
  - description: also greets
    vars: {word: hi}
    assert: [{type: contains, value: hi}]
"""

PLAIN = "def test_plain():\n    pass\n"


def _write(pytester: pytest.Pytester, rel: str, text: str) -> None:
    path = pytester.path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def _ids(result: pytest.RunResult) -> list[str]:
    return [ln.split(" ", 1)[0] for ln in result.stdout.lines if "::" in ln and " " in ln]


def test_last_failed_reruns_only_the_failed_item(pytester: pytest.Pytester) -> None:
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    args = ("--cf-config", "promptfooconfig.yaml", "-p", "no:randomly")
    pytester.runpytest(*args).assert_outcomes(passed=2, failed=1)
    result = pytester.runpytest(*args, "--lf", "-v")
    result.assert_outcomes(failed=1, deselected=2)
    assert "rerun previous 1 failure" in result.stdout.str()
    assert "known failures not in selected tests" not in result.stdout.str()


def test_failed_first_puts_the_failed_item_first(pytester: pytest.Pytester) -> None:
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    args = ("--cf-config", "promptfooconfig.yaml", "-p", "no:randomly")
    pytester.runpytest(*args).assert_outcomes(passed=2, failed=1)
    result = pytester.runpytest(*args, "--ff", "-v")
    result.assert_outcomes(passed=2, failed=1)
    ran = [i for i in _ids(result) if i.startswith("promptfooconfig.yaml::")]
    assert ran[0].startswith("promptfooconfig.yaml::fails"), ran


def test_new_first_runs_a_new_case_first(pytester: pytest.Pytester) -> None:
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    args = ("--cf-config", "promptfooconfig.yaml", "-p", "no:randomly")
    pytester.runpytest(*args).assert_outcomes(passed=2, failed=1)
    _write(
        pytester,
        "promptfooconfig.yaml",
        CONFIG
        + """
  - description: brand-new
    vars: {word: new}
    assert: [{type: contains, value: new}]
""",
    )
    result = pytester.runpytest(*args, "--nf", "-v")
    result.assert_outcomes(passed=3, failed=1)
    ran = [i for i in _ids(result) if i.startswith("promptfooconfig.yaml::")]
    assert ran[0].startswith("promptfooconfig.yaml::brand-new"), ran


def test_stepwise_resumes_at_the_failed_item(pytester: pytest.Pytester) -> None:
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    args = ("--cf-config", "promptfooconfig.yaml", "-p", "no:randomly", "--sw")
    first = pytester.runpytest(*args)
    first.assert_outcomes(passed=1, failed=1)  # stops at the first failure
    second = pytester.runpytest(*args, "-v")
    second.assert_outcomes(failed=1, deselected=1)  # starts at the failed item
    assert "skipping 1 already passed items" in second.stdout.str()


def test_cf_config_beside_a_file_argument_in_the_same_folder(pytester: pytest.Pytester) -> None:
    """Both sit in one folder that pytest collects for the file argument."""
    _write(pytester, "test_mod.py", PLAIN)
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    result = pytester.runpytest("test_mod.py", "--cf-config", "promptfooconfig.yaml", "-v")
    result.assert_outcomes(passed=3, failed=1)
    assert "no match" not in result.stdout.str() + result.stderr.str()


def test_cf_config_with_a_folder_argument_collects_the_config_once(
    pytester: pytest.Pytester,
) -> None:
    _write(pytester, "evals/test_mod.py", PLAIN)
    _write(pytester, "evals/promptfooconfig.yaml", CONFIG)
    result = pytester.runpytest("evals", "--cf-config", "evals/promptfooconfig.yaml", "-v")
    result.assert_outcomes(passed=3, failed=1)


def test_cf_config_alone_collects_only_the_configs(pytester: pytest.Pytester) -> None:
    _write(pytester, "tests/test_mod.py", PLAIN)
    _write(pytester, "test_top.py", PLAIN)
    _write(pytester, "evals/promptfooconfig.yaml", CONFIG)
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    result = pytester.runpytest("--cf-config", "evals/promptfooconfig.yaml", "-v")
    result.assert_outcomes(passed=2, failed=1)
    assert "test_plain" not in result.stdout.str()
    # without --cf-config, testpaths as usual
    pytester.runpytest().assert_outcomes(passed=1)


def test_ini_cf_config_is_a_default_like_testpaths(pytester: pytest.Pytester) -> None:
    _write(pytester, "tests/test_mod.py", PLAIN)
    _write(pytester, "other/test_other.py", PLAIN)
    _write(pytester, "evals/promptfooconfig.yaml", CONFIG)
    pytester.makeini("[pytest]\ntestpaths = tests\ncf_config = evals/promptfooconfig.yaml\n")
    pytester.runpytest().assert_outcomes(passed=3, failed=1)  # testpaths + the ini config
    pytester.runpytest("other").assert_outcomes(passed=1)  # paths given: the default is off


def test_a_node_id_of_a_config_item_runs_that_item(pytester: pytest.Pytester) -> None:
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    result = pytester.runpytest("promptfooconfig.yaml::greets[echo]", "-v")
    result.assert_outcomes(passed=1)
