"""promptfoo ``extensions`` hooks end to end: beforeAll at collection (once per run, also
under xdist), beforeEach before an item renders, afterEach after its verdict, afterAll once
at the end; failures are named collection errors, item errors or warnings."""

from __future__ import annotations

import json
import textwrap

import pytest

CONFIG = """
description: hooks demo
prompts: ['Say {{{{word}}}}']
providers: [echo]
extensions:
  - {ext}
{extra}
tests:
  - vars: {{word: hello}}
    assert: [{{type: contains, value: hello}}]
  - vars: {{word: bye}}
    assert: [{{type: contains, value: PIRATE}}]
"""

HOOKS_PY = """
import json, os

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks.log")


def log(entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\\n")


def hook(hook_name, context):
    if hook_name == "beforeAll":
        suite = context["suite"]
        log({"hook": hook_name, "tests": len(suite["tests"]), "pid": os.getpid(),
             "providers": [p["id"] for p in suite["providers"]]})
        suite["tests"].append({"vars": {"word": "added"}, "assert": [
            {"type": "contains", "value": "added"}]})
        suite["defaultTest"]["assert"].append({"type": "icontains", "value": "say"})
        return context
    if hook_name == "beforeEach":
        test = context["test"]
        log({"hook": hook_name, "vars": test["vars"], "asserts": len(test["assert"])})
        if test["vars"]["word"] == "bye":
            test["vars"]["word"] = "bye PIRATE"
        return context
    if hook_name == "afterEach":
        r = context["result"]
        log({"hook": hook_name, "success": r["success"], "output": r["response"]["output"],
             "vars": context["test"]["vars"]})
    if hook_name == "afterAll":
        log({"hook": hook_name, "results": len(context["results"]),
             "successes": sum(1 for r in context["results"] if r["success"]),
             "prompts": len(context["prompts"]), "tests": len(context["suite"]["tests"]),
             "description": context["config"]["description"]})
"""


def _write(pytester: pytest.Pytester, ext: str, files: dict[str, str], extra: str = "") -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(CONFIG).format(ext=ext, extra=extra), encoding="utf-8"
    )
    for name, text in files.items():
        pytester.path.joinpath(name).write_text(textwrap.dedent(text), encoding="utf-8")


def _log(pytester: pytest.Pytester) -> list[dict]:
    path = pytester.path / "hooks.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_python_hooks_run(pytester: pytest.Pytester, *args: str) -> None:
    _write(pytester, "file://hooks.py:hook", {"hooks.py": HOOKS_PY})
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-rA", *args)
    # beforeAll added the third test; beforeEach turned 'bye' into 'bye PIRATE'
    result.assert_outcomes(passed=3)
    log = _log(pytester)
    by_hook: dict[str, list[dict]] = {}
    for entry in log:
        by_hook.setdefault(entry["hook"], []).append(entry)
    assert len(by_hook["beforeAll"]) == 1, log  # once per run, whatever the workers
    assert by_hook["beforeAll"][0]["tests"] == 2
    assert by_hook["beforeAll"][0]["providers"] == ["echo"]
    assert len(by_hook["beforeEach"]) == 3
    assert {e["asserts"] for e in by_hook["beforeEach"]} == {2}  # defaultTest's one merged in
    after_each = sorted(by_hook["afterEach"], key=lambda e: e["output"])
    assert [e["output"] for e in after_each] == ["Say added", "Say bye PIRATE", "Say hello"]
    assert all(e["success"] for e in after_each)
    assert after_each[1]["vars"]["word"] == "bye PIRATE"  # the test as beforeEach left it
    assert by_hook["afterAll"] == [
        {
            "hook": "afterAll",
            "results": 3,
            "successes": 3,
            "prompts": 1,
            "tests": 3,
            "description": "hooks demo",
        }
    ]


def test_python_hooks_run_around_the_eval(pytester: pytest.Pytester) -> None:
    _check_python_hooks_run(pytester)


def test_python_hooks_under_xdist_run_before_all_and_after_all_once(
    pytester: pytest.Pytester,
) -> None:
    _check_python_hooks_run(pytester, "-n", "2")


HOOKS_JS = """
let seen = 0;
module.exports.beforeAll = function (context, extra) {
  if (extra.hookName !== 'beforeAll') throw new Error('wrong hook ' + extra.hookName);
  context.suite.tests.push({vars: {word: 'js ' + context.suite.tests.length}});
  return context;
};
module.exports.beforeEach = async function (context) {
  seen += 1;
  if (context.test.vars.word === 'bye') context.test.vars.word = 'bye PIRATE';
  return context;
};
"""


def test_javascript_hooks_with_one_function_per_hook(pytester: pytest.Pytester) -> None:
    _write(
        pytester,
        "file://hooks.js:beforeAll\n  - file://hooks.js:beforeEach",
        {"hooks.js": HOOKS_JS},
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test-3*PASSED*"])


@pytest.mark.parametrize(
    ("hooks", "extra", "message"),
    [
        (
            "def hook(name, context):\n    if name == 'beforeAll':\n"
            "        raise ValueError('no suite today')\n",
            "",
            'Extension hook "beforeAll" failed for file://hooks.py:hook: '
            "ValueError: no suite today",
        ),
        (
            "import time\ndef hook(name, context):\n    time.sleep(30)\n",
            "evaluateOptions: {timeoutMs: 300}",
            "did not finish within 300 ms; its worker was stopped (the limit is "
            "evaluateOptions.timeoutMs, else 30 s: make the hook faster or raise the limit)",
        ),
        (
            "def hook(name, context):\n    if name == 'beforeAll':\n        return {'x': 1}\n",
            "",
            "returned no 'suite' mapping",
        ),
        (
            "def hook(name, context):\n    if name == 'beforeAll':\n"
            "        context['suite']['tests'].append({'assert': [{'type': 'nosuchtype',"
            " 'value': 1}], 'vars': 3})\n        return context\n",
            "",
            "hooks.py:hook (beforeAll hook result): tests[2].vars",
        ),
    ],
)
def test_a_failing_before_all_is_a_collection_error_naming_file_and_hook(
    pytester: pytest.Pytester, hooks: str, extra: str, message: str
) -> None:
    _write(pytester, "file://hooks.py:hook", {"hooks.py": hooks}, extra)
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert "promptfooconfig.yaml" in out and message in out, out
    assert "INTERNALERROR" not in out and "Traceback" not in out


@pytest.mark.parametrize("mode", ["replay", "live"])
def test_a_failing_before_each_errors_its_item_only(
    pytester: pytest.Pytester, emu, keyed_env, mode: str
) -> None:
    """In replay the hook runs in the item's setup; in live the scheduler runs it ahead of
    the item loop: the same error either way, naming the hook and the fix (it read "cannot
    render the prompt: ..." from the scheduler)."""
    hooks = (
        "def hook(name, context):\n"
        "    if name == 'beforeEach' and context['test']['vars']['word'] == 'bye':\n"
        "        raise RuntimeError('cannot prepare bye')\n"
    )
    _write(pytester, "file://hooks.py:hook", {"hooks.py": hooks})
    args: list[str] = []
    if mode == "live":  # the scheduler renders gateway items (not echo ones) ahead of the loop
        config = pytester.path / "promptfooconfig.yaml"
        config.write_text(config.read_text().replace("[echo]", "[openai:gpt-4o-mini]"))
        args = ["--cf-mode", "live", "--cf-gateway-url", emu.url]
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", *args)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            '*Extension hook "beforeEach" failed for file://hooks.py:hook: RuntimeError: cannot'
            " prepare bye. Fix: make the hook handle this test, or remove it from `extensions`*"
        ]
    )
    assert "cannot render the prompt" not in result.stdout.str()


def test_failing_after_hooks_warn_and_keep_the_results(pytester: pytest.Pytester) -> None:
    hooks = (
        "def hook(name, context):\n"
        "    if name in ('afterEach', 'afterAll'):\n"
        "        raise KeyError(name)\n"
    )
    _write(pytester, "file://hooks.py:hook", {"hooks.py": hooks})
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-output", "out.json", "-n", "2"
    )
    result.assert_outcomes(passed=1, failed=1, warnings=3)
    out = result.stdout.str()
    assert out.count('Extension hook "afterEach" failed') == 2
    assert 'Extension hook "afterAll" failed for file://hooks.py:hook' in out
    assert "after_hooks.py" not in out  # the warning is shown at the config, not the plugin
    rows = json.loads((pytester.path / "out.json").read_text())["results"]["results"]
    assert len(rows) == 2


def test_typescript_hooks_are_refused_by_name(pytester: pytest.Pytester) -> None:
    _write(pytester, "file://hooks.ts:beforeAll", {"hooks.ts": "export function beforeAll() {}"})
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*TypeScript extension hooks ('file://hooks.ts:beforeAll')*"])


def test_before_each_runs_once_per_item_under_xdist_with_gateway_calls(
    pytester: pytest.Pytester, emu, keyed_env
) -> None:
    """xdist workers schedule their share of every item's call, but an item whose config
    has beforeEach hooks is scheduled only by the worker that runs it: the hook runs once."""
    _write(pytester, "file://hooks.py:hook", {"hooks.py": HOOKS_PY})
    config = pytester.path / "promptfooconfig.yaml"
    config.write_text(config.read_text().replace("[echo]", "[openai:gpt-4o-mini]"))
    result = pytester.runpytest_subprocess(
        "--cf-config", "promptfooconfig.yaml", "-p", "xdist", "-n", "2", "--cf-mode", "live",
        "--dist", "loadfile", "--cf-gateway-url", emu.url,  # one worker runs every item
    )  # fmt: skip
    result.assert_outcomes(passed=3)
    before_each = [e for e in _log(pytester) if e["hook"] == "beforeEach"]
    assert sorted(e["vars"]["word"] for e in before_each) == ["added", "bye", "hello"]
    assert len(emu.requests) == 3


PRINTING_HOOKS_PY = """
import os


def hook(hook_name, context):
    print("hook", hook_name, "sees", os.environ.get("OPENAI_API_KEY"))
"""


@pytest.mark.parametrize("args", [(), ("-s",), ("-p", "xdist", "-n", "2")])
def test_a_hook_printing_a_key_shows_it_scrubbed(
    pytester: pytest.Pytester, emu, keyed_env, args: tuple[str, ...]
) -> None:
    """beforeEach runs on the scheduler's thread and afterAll after the session, outside
    any item's capture: what hooks print reached the terminal with the key in it."""
    from .conftest import assert_no_secret

    _write(pytester, "file://hooks.py:hook", {"hooks.py": PRINTING_HOOKS_PY})
    config = pytester.path / "promptfooconfig.yaml"
    config.write_text(config.read_text().replace("[echo]", "[openai:gpt-4o-mini]"))
    result = pytester.runpytest_subprocess(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record", "-rA",
        "--cf-gateway-url", emu.url, "--junitxml", "junit.xml", "--cf-output", "out.json",
        *args,
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str() + result.stderr.str()
    assert keyed_env["OPENAI_API_KEY"] not in out
    if args == ("-s",):
        assert "sees <secret:OPENAI_API_KEY>" in out  # shown, without the key
    assert_no_secret(pytester.path, keyed_env["OPENAI_API_KEY"])
