"""promptfoo ``extensions``: parsing, runExtensionHook's contract (calling conventions, what
a hook's return value may change), beforeAll at load time and beforeEach's changes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_cfgateway.config import ConfigError
from pytest_cfgateway.config.cases import Extension
from pytest_cfgateway.config.extensions import (
    ExtensionHookError,
    apply_test,
    case_test_json,
    run_hook,
)

from .conftest import Loader

HEAD = "prompts: ['{{x}}']\nproviders: [echo]\ntests: [{vars: {x: one}}]\n"


@pytest.mark.parametrize(
    ("extensions", "fragment"),
    [
        ("file://hooks.py", "not found"),
        ("hooks.py:fn", "must be a 'file://path:function' string"),
        ("[1]", "must be a 'file://path:function' string"),
        ("file://hooks.ts:beforeAll", "TypeScript extension hooks"),
        ("file://hooks.rb:hook", "neither a Python nor a JavaScript file"),
    ],
)
def test_bad_extensions_are_config_errors(load: Loader, extensions: str, fragment: str) -> None:
    value = extensions if extensions.startswith("[") else f"[{extensions!r}]"
    with pytest.raises(ConfigError) as exc:
        load(HEAD + f"extensions: {value}\n", files={"hooks.ts": "", "hooks.rb": ""})
    assert fragment in str(exc.value)
    assert exc.value.key_path.startswith("extensions")


def test_extensions_must_be_a_list(load: Loader) -> None:
    with pytest.raises(ConfigError, match="'extensions' must be a list"):
        load(HEAD + "extensions: file://h.py\n", files={"h.py": ""})


def test_extension_refs_name_their_function_and_hook(load: Loader) -> None:
    cfg = load(
        HEAD + "extensions: [file://h.py, 'file://h.js:afterAll', 'file://h.py:mine']\n",
        files={
            "h.py": "def get_transform(hook_name, context):\n    pass\n"
            "def mine(hook_name, context):\n    pass\n",
            "h.js": "module.exports.afterAll = () => {};\n",
        },
    )
    first, second, third = cfg.extensions
    assert (first.function, first.lang, first.hook) == (None, "python", None)
    assert (second.function, second.lang, second.hook) == ("afterAll", "javascript", "afterAll")
    assert (third.function, third.hook) == ("mine", None)
    assert all(c.extensions == cfg.extensions for c in cfg.cases)
    assert cfg.warnings == []  # no longer "not run"


RECORDER = """
import json
def legacy(hook_name, context):
    if hook_name == "beforeEach":
        context["test"]["vars"]["seen"] = ["legacy", hook_name]
        return context
def beforeEach(context, extra):
    context["test"]["vars"]["seen2"] = ["new", extra["hookName"]]
    return context
def afterAll(context, extra):
    raise AssertionError("afterAll must not run for beforeEach")
def nothing(hook_name, context):
    return None
def not_a_mapping(hook_name, context):
    return [1]
def no_test(hook_name, context):
    return {"suite": {}}
"""


def _ext(tmp_path: Path, ref: str) -> Extension:
    path = tmp_path / "rec.py"
    path.write_text(RECORDER)
    fn = ref.partition(":")[2] or None
    return Extension(f"file://rec.py:{fn}", str(path), fn, "python")


def test_run_hook_calling_conventions_and_order(tmp_path: Path) -> None:
    exts = [_ext(tmp_path, ":legacy"), _ext(tmp_path, ":beforeEach"), _ext(tmp_path, ":afterAll")]
    out = run_hook(exts, "beforeEach", {"test": {"vars": {}}})
    # legacy: fn(hookName, context); a hook-named function: fn(context, {hookName}); each
    # extension gets the context the one before it left; afterAll's function is skipped
    assert out == {
        "test": {"vars": {"seen": ["legacy", "beforeEach"], "seen2": ["new", "beforeEach"]}}
    }


def test_a_hook_returning_nothing_changes_nothing(tmp_path: Path) -> None:
    context = {"test": {"vars": {"a": 1}}}
    assert run_hook([_ext(tmp_path, ":nothing")], "beforeEach", context) == context


@pytest.mark.parametrize(
    ("fn", "fragment"),
    [
        ("not_a_mapping", "returned a list; return the context object"),
        ("no_test", "returned no 'test' mapping"),
        ("missing", "has no function 'missing'"),
    ],
)
def test_bad_hook_results_are_errors_naming_the_hook(
    tmp_path: Path, fn: str, fragment: str
) -> None:
    with pytest.raises(ExtensionHookError) as exc:
        run_hook([_ext(tmp_path, f":{fn}")], "beforeEach", {"test": {}})
    assert f'Extension hook "beforeEach" failed for file://rec.py:{fn}' in str(
        exc.value
    ) or f"file://rec.py:{fn}" in str(exc.value)
    assert fragment in str(exc.value)


BEFORE_ALL_JS = """
module.exports = function (hookName, context) {
  if (hookName !== 'beforeAll') return;
  const s = context.suite;
  s.tests.push({description: 'from hook', vars: {x: 'two'}});
  s.defaultTest.assert.push({type: 'contains', value: 'o'});
  s.prompts.push({raw: 'B {{x}}', label: 'second'});
  s.providers = [];            // promptfoo does not read providers back
  s.description = 'changed';   // nor the description
  return context;
};
"""


def test_before_all_changes_tests_default_test_and_prompts(load: Loader) -> None:
    cfg = load(
        "description: d\n" + HEAD + "extensions: [file://h.js]\n", files={"h.js": BEFORE_ALL_JS}
    )
    assert [(c.prompt.label, c.vars["x"]) for c in cfg.cases] == [
        ("{{x}}", "one"),
        ("second", "one"),
        ("{{x}}", "two"),
        ("second", "two"),
    ]
    assert {a.type for c in cfg.cases for a in c.asserts} == {"contains"}
    assert cfg.cases[2].description == "from hook"
    assert cfg.description == "d" and [p.id for p in cfg.providers] == ["echo"]
    assert cfg.cases[0].line == 4  # a test the hook left alone keeps its place in the file
    assert cfg.cases[2].line is None


def test_before_all_sees_tests_read_from_files(load: Loader, tmp_path: Path) -> None:
    hooks = (
        "import json, os\n"
        "def hook(name, context):\n"
        "    if name == 'beforeAll':\n"
        "        here = os.path.dirname(os.path.abspath(__file__))\n"
        "        with open(os.path.join(here, 'seen.json'), 'w') as f:\n"
        "            f.write(json.dumps(context['suite']))\n"
    )
    load(
        "prompts: ['{{x}}']\nproviders: [{id: echo, config: {k: 1}}]\n"
        "tests: [file://t.csv]\nextensions: [file://h.py:hook]\n",
        files={"h.py": hooks, "t.csv": "x,__expected\na,contains:a\n"},
    )
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["tests"] == [{"vars": {"x": "a"}, "assert": [{"type": "contains", "value": "a"}]}]
    assert seen["defaultTest"] == {"assert": []}
    assert seen["providers"] == [{"id": "echo", "config": {"k": 1}}]
    assert seen["prompts"] == [{"raw": "{{x}}", "label": "{{x}}"}]
    assert seen["extensions"] == ["file://h.py:hook"]


def test_before_all_runs_through_run_once(load: Loader) -> None:
    calls: list[str] = []

    def run_once(key: str, compute: Any) -> dict[str, Any]:
        calls.append(key)
        result: dict[str, Any] = compute()
        return result

    cfg = load(
        HEAD + "extensions: [file://h.js]\n", files={"h.js": BEFORE_ALL_JS}, run_once=run_once
    )
    assert len(cfg.cases) == 4 and len(calls) == 1 and calls[0].startswith("suite\0")

    # another process of the run reuses the stored suite: the hook does not run again
    stored = {
        "suite": {
            "tests": [{"vars": {"x": "stored"}}],
            "defaultTest": {"assert": []},
            "prompts": [{"raw": "{{x}}", "label": "{{x}}"}],
        }
    }
    cfg = load(
        HEAD + "extensions: [file://h.js]\n",
        files={"h.js": "module.exports = () => { throw new Error('ran again') }"},
        run_once=lambda key, compute: stored,
    )
    assert [c.vars["x"] for c in cfg.cases] == ["stored"]


def test_a_stored_hook_failure_is_the_config_error(load: Loader) -> None:
    with pytest.raises(ConfigError, match="boom from another worker"):
        load(
            HEAD + "extensions: [file://h.js]\n",
            files={"h.js": "module.exports = () => undefined"},
            run_once=lambda key, compute: {"error": "boom from another worker"},
        )


def test_before_each_changes_are_applied_and_validated(load: Loader) -> None:
    cfg = load(
        HEAD + "defaultTest: {assert: [{type: equals, value: one}]}\n"
        "extensions: ['file://h.py:beforeEach']\n",
        files={"h.py": ""},
    )
    case = cfg.cases[0]
    sent = case_test_json(
        case.description, case.vars, case.asserts, case.options, case.metadata, case.threshold
    )
    assert sent["assert"] == [{"type": "equals", "value": "one"}]
    assert apply_test(case, json.loads(json.dumps(sent)), sent, (), {}) is case
    changed = json.loads(json.dumps(sent))
    changed["vars"]["x"] = "pirate"
    changed["assert"].append({"type": "icontains", "value": "PIRATE"})
    changed["threshold"] = 0.5
    new = apply_test(case, changed, sent, (), {})
    assert new.vars == {"x": "pirate"} and new.threshold == 0.5
    assert new.asserts[0] is case.asserts[0]  # unchanged assertions are kept as they were
    assert dataclasses.asdict(new.asserts[1])["value"] == "PIRATE"
    changed["assert"].append({"type": "contains"})
    with pytest.raises(ConfigError) as exc:
        apply_test(case, changed, sent, (), {})
    assert "h.py:beforeEach (beforeEach hook result): assert[2]" in str(exc.value)


def test_the_kept_suite_holds_no_provider_config(load: Loader) -> None:
    kept: list[dict[str, Any]] = []

    def run_once(key: str, compute: Any) -> dict[str, Any]:
        kept.append(compute())
        return kept[-1]

    load(
        "prompts: ['{{x}}']\n"
        "providers: [{id: echo, label: E, config: {apiKey: fake.PLANTED.1111111111}}]\n"
        "tests: [{vars: {x: one}}]\nextensions: [file://h.js]\n",
        files={"h.js": BEFORE_ALL_JS},
        run_once=run_once,
    )
    # the hook emptied them, which promptfoo does not read back; their configs are not kept
    assert kept[0]["suite"]["providers"] == [{"id": "echo", "label": "E"}]
    load(
        "prompts: ['{{x}}']\n"
        "providers: [{id: echo, label: E, config: {apiKey: fake.PLANTED.1111111111}}]\n"
        "tests: [{vars: {x: one}}]\nextensions: ['file://h.js:afterAll']\n",
        files={"h.js": "module.exports.afterAll = () => {};\n"},
        run_once=run_once,
    )
    assert kept[1]["suite"]["providers"] == [{"id": "echo", "label": "E"}]
    assert "PLANTED" not in json.dumps(kept)
