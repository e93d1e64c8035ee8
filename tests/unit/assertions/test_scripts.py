"""python / javascript assertions: the return contract, inline code rules, file:// functions."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionCall,
    AssertionConfigError,
    AssertionContext,
    GradingResult,
)
from pytest_cfgateway.assertions.scripts import (
    ScriptResultError,
    build_js_body,
    build_python_source,
    handle_javascript,
    handle_python,
    normalize_script_result,
    parse_file_ref,
    split_js_statements,
)
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.types import Completion, Usage

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_call(
    value: str,
    *,
    output: Any = "hello world",
    inverse: bool = False,
    threshold: float | None = None,
    base_dir: Path | None = None,
    config: dict[str, Any] | None = None,
    base_type: str = "python",
) -> AssertionCall:
    spec = AssertionSpec(type=base_type, value=value, threshold=threshold, config=config or {})
    ctx = AssertionContext(
        vars={"name": "Ada"},
        prompt="Say hi",
        base_dir=base_dir or Path.cwd(),
        provider_id="openai:gpt-5.2",
        completion=Completion(
            text="hello world",
            raw=None,
            usage=Usage(1, 2, 3),
            provider="openai",
            model="x",
            logprobs=[-0.1, -0.2],
        ),
    )
    return AssertionCall(
        output=output,
        value=value,
        spec=spec,
        inverse=inverse,
        base_type=base_type,
        threshold=threshold,
        context=ctx,
    )


# --- the return contract (pure) ---------------------------------------------------------

CONTRACT = [
    # (returned, inverse, threshold, passed, score)
    pytest.param(True, False, None, True, 1.0, id="true"),
    pytest.param(False, False, None, False, 0.0, id="false"),
    pytest.param(True, True, None, False, 0.0, id="not-true"),
    pytest.param(False, True, None, True, 1.0, id="not-false"),
    pytest.param(0.7, False, None, True, 0.7, id="number>0"),
    pytest.param(0, False, None, False, 0.0, id="zero"),
    pytest.param(-1, False, None, False, -1.0, id="negative"),
    pytest.param(150, False, None, True, 150.0, id="not-clamped"),
    pytest.param(0.5, False, 0.5, True, 0.5, id="threshold-equal"),
    pytest.param(0.4, False, 0.5, False, 0.4, id="threshold-below"),
    pytest.param(0, False, 0, True, 0.0, id="threshold-zero"),
    pytest.param(0.7, True, None, False, 0.7, id="not-number-keeps-score"),
    pytest.param({"pass": True, "score": 0.9, "reason": "r"}, False, None, True, 0.9, id="dict"),
    pytest.param(
        {"pass": False, "score": 0.1, "reason": "r"}, True, None, True, 0.1, id="not-dict"
    ),
    pytest.param(
        {"pass": True, "score": 0.4, "reason": "r"}, False, 0.5, False, 0.4, id="dict-threshold"
    ),
    pytest.param(
        {"pass_": True, "score": 1, "reason": "r"}, False, None, True, 1.0, id="dataclass-pass_"
    ),
    pytest.param(GradingResult(True, 0.8, "gr"), False, None, True, 0.8, id="gradingresult"),
    pytest.param("true", False, None, True, 1.0, id="str-true"),
    pytest.param("FALSE", False, None, False, 0.0, id="str-false"),
    pytest.param(
        '{"pass": false, "score": 0.2, "reason": "r"}', False, None, False, 0.2, id="str-json"
    ),
    pytest.param("0.9", False, None, True, 0.9, id="str-number"),
]


@pytest.mark.parametrize(("returned", "inverse", "threshold", "passed", "score"), CONTRACT)
def test_return_contract(
    returned: Any, inverse: bool, threshold: float | None, passed: bool, score: float
) -> None:
    res = normalize_script_result(returned, inverse=inverse, threshold=threshold)
    assert res.passed is passed
    assert res.score == pytest.approx(score)


@pytest.mark.parametrize(
    "returned",
    [
        None,
        [1, 2],
        "not a verdict",
        float("nan"),
        float("inf"),
        {"score": 1},
        {"pass": "yes"},
        object(),
    ],
)
def test_return_contract_errors(returned: Any) -> None:
    with pytest.raises(ScriptResultError):
        normalize_script_result(returned, inverse=False, threshold=None)


@pytest.mark.parametrize(
    "returned",
    [{"pass": True}, {"pass": True, "score": 0.4}, '{"pass": false, "score": 0.2}'],
)
def test_script_objects_need_pass_score_and_reason_as_in_promptfoo(returned: Any) -> None:
    with pytest.raises(ScriptResultError, match=r"needs all of `pass` \(boolean\), `score`"):
        normalize_script_result(returned, inverse=False, threshold=None)
    # a plugin's custom assertion (our own API) may leave score and reason out
    res = normalize_script_result(
        {"pass": True}, inverse=False, threshold=None, source="Custom assertion 'x'"
    )
    assert res.passed and res.score == 1.0


def test_named_scores_snake_and_camel() -> None:
    snake = normalize_script_result(
        {"pass": True, "score": 1, "reason": "", "named_scores": {"a": 0.5}},
        inverse=False,
        threshold=None,
    )
    camel = normalize_script_result(
        {"pass": True, "score": 1, "reason": "", "namedScores": {"b": 1}},
        inverse=False,
        threshold=None,
    )
    assert snake.named_scores == {"a": 0.5} and camel.named_scores == {"b": 1.0}


def test_threshold_reason_on_objects() -> None:
    res = normalize_script_result(
        {"pass": True, "score": 0.4, "reason": "meh"}, inverse=False, threshold=0.5
    )
    assert res.reason == "Python score 0.4 is less than threshold 0.5: meh"


def test_false_reason_includes_code() -> None:
    res = normalize_script_result(False, inverse=False, threshold=None, code="len(output) > 99")
    assert res.reason == "Python code returned false\nlen(output) > 99"


def test_not_flipped_object_reason() -> None:
    res = normalize_script_result(
        {"pass": True, "score": 1, "reason": "fine"}, inverse=True, threshold=None
    )
    assert not res.passed and res.reason == "Python code returned true"


# --- inline python ----------------------------------------------------------------------


def test_build_python_source_rules() -> None:
    assert build_python_source("x > 1") == "def main(output, context):\n    return x > 1\n"
    multi = build_python_source("  a = 1\n  return a\n")
    assert multi == "def main(output, context):\n    a = 1\n    return a\n"


@pytest.mark.parametrize(
    ("code", "passed"),
    [
        ("'hello' in output", True),
        ("output.startswith('bye')", False),
        ("len(output) / 20", True),
        ("context['vars']['name'] == 'Ada' and context['prompt'] == 'Say hi'", True),
        ("context['provider']['id'] == 'openai:gpt-5.2'", True),
        ("context['logProbs'] == [-0.1, -0.2]", True),
        ("context['config']['min'] == 3", True),
        (
            "words = output.split()\nreturn {'pass': len(words) == 2, 'score': 1, 'reason': 'n'}",
            True,
        ),
        ("import json\nreturn json.dumps({'pass': True, 'score': 1, 'reason': 'x'})", True),
        ("json.loads('{\"a\": 1}')['a'] == 1", True),
    ],
)
def test_inline_python(code: str, passed: bool) -> None:
    res = run(handle_python(make_call(code, config={"min": 3})))
    assert res.passed is passed, res.reason


def test_inline_python_exception_fails() -> None:
    res = run(handle_python(make_call("1 / 0")))
    assert not res.passed
    assert res.reason.startswith("Python code execution failed: ZeroDivisionError")


def test_inline_python_exception_not_flipped() -> None:
    res = run(handle_python(make_call("1 / 0", inverse=True)))
    assert not res.passed


def test_multiline_without_return_explains() -> None:
    res = run(handle_python(make_call("x = 1\ny = 2")))
    assert not res.passed and "end it with `return" in res.reason


def test_syntax_error_fails() -> None:
    res = run(handle_python(make_call("output ==")))
    assert not res.passed and "SyntaxError" in res.reason


def test_empty_python_value_is_config_error() -> None:
    with pytest.raises(AssertionConfigError):
        run(handle_python(make_call("   ")))


# --- python files -------------------------------------------------------------------------


@pytest.fixture
def pyfile(tmp_path: Path) -> Path:
    (tmp_path / "helper_mod_cfg.py").write_text("LIMIT = 5\n")
    (tmp_path / "checks.py").write_text(
        "from helper_mod_cfg import LIMIT\n"
        "def get_assert(output, context):\n"
        "    return {'pass': len(output) > LIMIT, 'score': 0.75, 'reason': 'default fn'}\n"
        "def named(output, context):\n"
        "    return context['vars']['name'] == 'Ada'\n"
        "async def later(output, context):\n"
        "    return 0.25\n"
        "def broken(output, context):\n"
        "    raise ValueError('nope')\n"
    )
    return tmp_path


def test_file_default_function(pyfile: Path) -> None:
    res = run(handle_python(make_call("file://checks.py", base_dir=pyfile)))
    assert res.passed and res.score == 0.75 and res.reason == "default fn"


def test_file_named_function(pyfile: Path) -> None:
    assert run(handle_python(make_call("file://checks.py:named", base_dir=pyfile))).passed


def test_file_async_function_with_threshold(pyfile: Path) -> None:
    res = run(handle_python(make_call("file://checks.py:later", base_dir=pyfile, threshold=0.5)))
    assert not res.passed and res.score == 0.25


def test_file_function_raising(pyfile: Path) -> None:
    res = run(handle_python(make_call("file://checks.py:broken", base_dir=pyfile)))
    assert not res.passed and "ValueError: nope" in res.reason


def test_file_missing_function_is_config_error(pyfile: Path) -> None:
    with pytest.raises(AssertionConfigError, match=r"no function 'absent'.*get_assert"):
        run(handle_python(make_call("file://checks.py:absent", base_dir=pyfile)))


def test_file_missing_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(AssertionConfigError, match="Python file not found"):
        run(handle_python(make_call("file://missing.py", base_dir=tmp_path)))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("file://a/b.py", ("a/b.py", None)),
        ("file://a/b.py:fn", ("a/b.py", "fn")),
        ("file://C:/x/b.py", ("C:/x/b.py", None)),
        ("file://C:/x/b.py:check", ("C:/x/b.py", "check")),
    ],
)
def test_parse_file_ref(ref: str, expected: tuple[str, str | None]) -> None:
    assert parse_file_ref(ref) == expected


# --- javascript: body building (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "body"),
    [
        ("output.length > 3", "return output.length > 3;"),
        ("const x = 1; x + 1", "const x = 1;\nreturn x + 1;"),
        ("let s = 'a;b'; s.split(';').length", "let s = 'a;b';\nreturn s.split(';').length;"),
        ("constant === true", "return constant === true;"),
        ("return output", "return output"),
        ("const a = 1;\nreturn a", "const a = 1;\nreturn a"),
    ],
)
def test_build_js_body(code: str, body: str) -> None:
    assert build_js_body(code) == body


def test_split_js_statements_respects_strings_and_comments() -> None:
    assert split_js_statements('var a = "x;y"; `t;${1}`; b /* ; */; c // ; d') == [
        'var a = "x;y"',
        "`t;${1}`",
        "b",
        "c",
    ]


# --- javascript through the embedded engine ---------------------------------------------------

JS_CASES = [
    ("output.includes('hello')", None, False, True, 1.0),
    ("const n = output.split(' ').length; n === 2", None, False, True, 1.0),
    ("output.length / 100", 0.2, False, False, 0.11),
    ("output.length / 100", 0.1, False, True, 0.11),
    ("({pass: false, score: 0.25, reason: 'js says no'})", None, False, False, 0.25),
    ("context.vars.name === 'Ada' && context.prompt === 'Say hi'", None, False, True, 1.0),
    ("`${output}`.startsWith('hello')", None, True, False, 0.0),
    (
        "const words = output.split(' ');\nif (words.length > 5) { return false; }\nreturn true;",
        None,
        False,
        True,
        1.0,
    ),
    ("return Promise.resolve(0.9)", None, False, True, 0.9),
]


@pytest.mark.parametrize(("code", "threshold", "inverse", "passed", "score"), JS_CASES)
def test_javascript_inline(
    code: str, threshold: float | None, inverse: bool, passed: bool, score: float
) -> None:
    pytest.importorskip("dukpy")
    res = run(
        handle_javascript(
            make_call(code, base_type="javascript", threshold=threshold, inverse=inverse)
        )
    )
    assert (res.passed, res.score) == (passed, pytest.approx(score)), res.reason


def test_javascript_throw_fails() -> None:
    pytest.importorskip("dukpy")
    res = run(handle_javascript(make_call("null.x", base_type="javascript")))
    assert not res.passed and res.reason.startswith("Custom function threw error: TypeError")


def test_javascript_undefined_fails() -> None:
    pytest.importorskip("dukpy")
    res = run(handle_javascript(make_call("let a = 1;\nconsole.log(a)", base_type="javascript")))
    assert not res.passed and "undefined" in res.reason


def test_javascript_files(tmp_path: Path) -> None:
    pytest.importorskip("dukpy")
    (tmp_path / "cjs.js").write_text(
        "module.exports = (output, context) => output.length > 3;\n"
        "module.exports.named = (output) =>\n"
        "  ({pass: true, score: 0.5, reason: 'named ' + output});\n"
    )
    (tmp_path / "esm.mjs").write_text(
        "export default async function (output, context) { return context.vars.name === 'Ada'; }\n"
    )
    res = run(
        handle_javascript(make_call("file://cjs.js", base_type="javascript", base_dir=tmp_path))
    )
    assert res.passed
    res = run(
        handle_javascript(
            make_call("file://cjs.js:named", base_type="javascript", base_dir=tmp_path)
        )
    )
    assert res.passed and res.reason == "named hello world"
    res = run(
        handle_javascript(make_call("file://esm.mjs", base_type="javascript", base_dir=tmp_path))
    )
    assert res.passed
    with pytest.raises(AssertionConfigError, match="does not export function 'nope'"):
        run(
            handle_javascript(
                make_call("file://cjs.js:nope", base_type="javascript", base_dir=tmp_path)
            )
        )


def test_grading_result_grader_error_is_not_flipped() -> None:
    res = normalize_script_result(
        GradingResult(False, 0.0, "grader down", grader_error=True), inverse=True, threshold=None
    )
    assert not res.passed and res.grader_error and res.reason == "grader down"


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("1 / 0", "Custom function returned Infinity, a number that is not a usable score"),
        ("-1 / 0", "returned -Infinity"),
        ("0 / 0", "returned NaN"),
        ("undefined", "Got undefined (undefined)"),
        ("'true'", 'Got "true" (str)'),
        ("null", "Got null"),
    ],
)
def test_javascript_non_verdicts_say_what_js_returned(code: str, says: str) -> None:
    res = run(handle_javascript(make_call(code, base_type="javascript")))
    assert not res.passed and res.score == 0.0
    assert says in res.reason


def test_javascript_function_return_is_named() -> None:
    res = run(handle_javascript(make_call("() => 1", base_type="javascript")))
    assert not res.passed and "returned a function" in res.reason
