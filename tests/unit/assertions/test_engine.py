"""The assertion engine: registry, value resolution, not-, transforms, weights, assert-set."""

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
from pytest_cfgateway.assertions.engine import render_template, run_assertion, run_assertions
from pytest_cfgateway.assertions.registry import AssertionRegistry
from pytest_cfgateway.assertions.scripts import TransformError
from pytest_cfgateway.config.cases import AssertionSpec

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def echo_handler(call: AssertionCall) -> GradingResult:
    """Passes when the output contains the value; records what it saw."""
    seen.append(call)
    raw = str(call.value) in str(call.output)
    passed = raw != call.inverse
    return GradingResult(passed, 1.0 if passed else 0.0, "ok" if passed else f"no {call.value}")


async def score_handler(call: AssertionCall) -> GradingResult:
    """Score taken from the value: {score, pass}."""
    v = call.value
    return GradingResult(bool(v["pass"]), float(v["score"]), v.get("reason", "scored"))


def grader_error_handler(call: AssertionCall) -> GradingResult:
    # a buggy handler that flipped a grader error under not-
    return GradingResult(passed=call.inverse, score=1.0, reason="grader down", grader_error=True)


seen: list[AssertionCall] = []


@pytest.fixture
def reg() -> AssertionRegistry:
    seen.clear()
    registry = AssertionRegistry()
    registry.add_builtin("has", echo_handler)
    registry.add_builtin("score", score_handler)
    registry.add_builtin("flaky-grader", grader_error_handler)
    return registry


@pytest.fixture
def ctx(tmp_path: Path) -> AssertionContext:
    return AssertionContext(vars={"city": "Paris", "n": 3}, prompt="Capital?", base_dir=tmp_path)


def S(type: str, value: Any = None, **kw: Any) -> AssertionSpec:
    return AssertionSpec(type=type, value=value, **kw)


# --- registry ----------------------------------------------------------------------------


def test_with_builtins_has_every_spec_type() -> None:
    names = AssertionRegistry.with_builtins().names()
    expected = {
        "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
        "icontains-all", "starts-with", "regex", "is-json", "contains-json", "is-html",
        "contains-html", "is-xml", "contains-xml", "is-sql", "contains-sql",
        "is-valid-openai-tools-call", "tool-call-f1", "finish-reason", "is-refusal",
        "levenshtein", "rouge-n", "bleu", "gleu", "word-count", "latency", "cost",
        "perplexity", "perplexity-score", "python", "javascript", "webhook", "assert-set",
        "select-best", "max-score", "llm-rubric", "model-graded-closedqa", "factuality",
        "g-eval", "answer-relevance", "context-faithfulness", "context-recall",
        "context-relevance", "similar", "similar:cosine", "similar:dot", "similar:euclidean",
    }  # fmt: skip
    assert expected <= names
    assert "not-contains" in names and "not-llm-rubric" in names
    assert "not-assert-set" not in names and "not-select-best" not in names


def test_builtin_types_table_matches_the_handler_modules() -> None:
    """`BUILTIN_TYPES` (what a registry knows without importing) names exactly the types
    of the modules' ``HANDLERS``, each with the module that holds it, and a lazily loaded
    handler is the module's own function."""
    from pytest_cfgateway.assertions import registry as registry_module

    loaded = registry_module._load_builtins()
    assert {name: module.rsplit(".", 1)[1] for name, (_fn, module) in loaded.items()} == (
        registry_module.BUILTIN_TYPES
    )
    reg = AssertionRegistry.with_builtins()
    for name, (fn, _module) in loaded.items():
        assert reg.builtin(name) is fn
    assert reg.builtin("no-such-type") is None


def test_a_builtin_module_is_imported_when_its_type_is_first_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pytest_cfgateway.assertions.registry import AssertionRegistry\n"
        "reg = AssertionRegistry.with_builtins()\n"
        "assert 'is-json' in reg.names() and 'not-llm-rubric' in reg.names()\n"
        "heavy = ('jsonschema', 'regex', 'pytest_cfgateway.assertions.structured',\n"
        "         'pytest_cfgateway.assertions.graded')\n"
        "early = [m for m in heavy if m in sys.modules]\n"
        "assert not early, early\n"
        "assert reg.builtin('contains') is not None\n"
        "assert 'pytest_cfgateway.assertions.text' in sys.modules\n"
        "assert 'pytest_cfgateway.assertions.structured' not in sys.modules\n"
        "assert reg.builtin('is-json') is not None and 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registering_over_a_builtin_that_is_not_loaded_yet_is_refused() -> None:
    reg = AssertionRegistry.with_builtins()

    def mine(output: str, value: Any, context: AssertionContext) -> bool:
        return True

    with pytest.raises(ValueError, match=r"already registered by .*graded"):
        reg.register("llm-rubric", mine)
    with pytest.raises(ValueError, match=r"already registered by .*similarity"):
        reg.copy().add_builtin("bleu", mine)


def test_register_same_function_twice_is_noop() -> None:
    reg = AssertionRegistry()

    def mine(output: str, value: Any, context: AssertionContext) -> bool:
        return True

    reg.register("mine", mine)
    reg.register("mine", mine)
    assert "mine" in reg.names() and "not-mine" in reg.names()


def test_register_duplicate_names_both_functions() -> None:
    reg = AssertionRegistry()

    def first(output: str, value: Any, context: AssertionContext) -> bool:
        return True

    def second(output: str, value: Any, context: AssertionContext) -> bool:
        return False

    reg.register("dup", first)
    with pytest.raises(ValueError, match=r"'dup'.*first.*second"):
        reg.register("dup", second)


def test_register_cannot_shadow_builtin() -> None:
    reg = AssertionRegistry.with_builtins()
    with pytest.raises(ValueError, match=r"already registered by .*text"):
        reg.register("contains", lambda o, v, c: True)


@pytest.mark.parametrize("name", ["not-x", "assert-set", "", "has space"])
def test_register_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        AssertionRegistry().register(name, lambda o, v, c: True)


# --- run_assertion ------------------------------------------------------------------------


def test_not_prefix_passes_inverse(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    res = run(run_assertion("hello", S("not-has", "bye"), ctx, registry=reg))
    assert res.passed and seen[-1].inverse is True and seen[-1].base_type == "has"
    res = run(run_assertion("hello", S("not-has", "ell"), ctx, registry=reg))
    assert not res.passed


def test_unknown_type_suggests(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    with pytest.raises(AssertionConfigError, match=r"Unknown assertion type 'hass'.*'has'"):
        run(run_assertion("x", S("hass", "x"), ctx, registry=reg))


@pytest.mark.parametrize("type_", ["not-assert-set", "not-select-best", "select-best"])
def test_special_types_rejected_per_item(
    reg: AssertionRegistry, ctx: AssertionContext, type_: str
) -> None:
    with pytest.raises(AssertionConfigError):
        run(run_assertion("x", S(type_, "x"), ctx, registry=reg))


def test_value_templated_with_vars(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    res = run(run_assertion("I love Paris", S("has", "{{ city }}"), ctx, registry=reg))
    assert res.passed and seen[-1].value == "Paris"


def test_undefined_var_renders_empty() -> None:
    assert render_template("a{{ missing }}b{{ missing.deep }}c", {}) == "abc"


def test_list_items_templated(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    run(run_assertion("x", S("has", ["{{ city }}", 5]), ctx, registry=reg))
    assert seen[-1].value == ["Paris", 5]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("v.json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("v.yaml", "a: b\nc: [1]\n", {"a": "b", "c": [1]}),
        ("v.txt", "plain text\n", "plain text\n"),
    ],
)
def test_file_values_loaded(
    reg: AssertionRegistry, ctx: AssertionContext, name: str, content: str, expected: Any
) -> None:
    (ctx.base_dir / name).write_text(content)
    run(run_assertion("x", S("has", f"file://{name}"), ctx, registry=reg))
    assert seen[-1].value == expected


def test_missing_value_file_is_config_error(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    with pytest.raises(AssertionConfigError, match="value file not found"):
        run(run_assertion("x", S("has", "file://nope.json"), ctx, registry=reg))


def test_python_value_script_produces_expected_value(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    (ctx.base_dir / "exp.py").write_text(
        "def get_assert(output, context):\n    return context['vars']['city'].upper()\n"
        "def other(output, context):\n    return output[:2]\n"
    )
    assert run(run_assertion("PARIS!", S("has", "file://exp.py"), ctx, registry=reg)).passed
    assert seen[-1].value == "PARIS"
    run(run_assertion("hello", S("has", "file://exp.py:other"), ctx, registry=reg))
    assert seen[-1].value == "he"


def test_value_script_returning_bool_is_config_error(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    (ctx.base_dir / "b.py").write_text("def get_assert(output, context):\n    return True\n")
    with pytest.raises(AssertionConfigError, match="returned a boolean"):
        run(run_assertion("x", S("has", "file://b.py"), ctx, registry=reg))


def test_value_script_raising_fails_assertion(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    (ctx.base_dir / "e.py").write_text("def get_assert(output, context):\n    1/0\n")
    res = run(run_assertion("x", S("has", "file://e.py"), ctx, registry=reg))
    assert not res.passed and "ZeroDivisionError" in res.reason


# --- transforms ---------------------------------------------------------------------------


def test_assertion_transform_is_javascript(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    spec = S("has", "PARIS", transform="output.toUpperCase()")
    assert run(run_assertion("paris", spec, ctx, registry=reg)).passed


def test_js_replace_changes_the_first_match_only(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    spec = S("equals", "x a a", transform="output.replace('a', 'x')")
    builtins = AssertionRegistry.with_builtins()
    assert run(run_assertion("a a a", spec, ctx, registry=builtins)).passed


def test_test_transform_runs_before_assertion_transform(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    spec = S("has", "<answer>", transform="'<' + output + '>'")
    res = run(
        run_assertions(
            '{"a": "answer"}', [spec], ctx, registry=reg, transform="JSON.parse(output).a"
        )
    )
    assert res.passed


def test_transform_sees_context_vars(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    spec = S("has", "Paris", transform="output + context.vars.city")
    assert run(run_assertion("x", spec, ctx, registry=reg)).passed


def test_multiline_js_transform_is_function_body(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    spec = S("has", "3", transform="const n = output.length;\nreturn String(n);")
    assert run(run_assertion("abc", spec, ctx, registry=reg)).passed


def test_multiline_js_transform_without_return_is_an_error(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    spec = S("has", "3", transform="output.length\n")
    with pytest.raises(TransformError, match=r"did not return a value.*end it with `return"):
        run(run_assertion("abc", spec, ctx, registry=reg))


def test_python_marker_runs_python(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    spec = S("has", "PARIS", transform="python: output.upper()")
    assert run(run_assertion("paris", spec, ctx, registry=reg)).passed
    body = S("has", "3", transform="python:\nn = len(output)\nreturn str(n)")
    assert run(run_assertion("abc", body, ctx, registry=reg)).passed
    via_ctx = S("has", "Paris", transform="python: output + context['vars']['city']")
    assert run(run_assertion("x", via_ctx, ctx, registry=reg)).passed


@pytest.mark.parametrize(
    "code", ["json.loads(output)['answer']", "output.upper()", "len(output)", "str(output)"]
)
def test_python_without_marker_gets_an_error_naming_the_marker(
    reg: AssertionRegistry, ctx: AssertionContext, code: str
) -> None:
    with pytest.raises(TransformError, match=r"failed as JavaScript.*python: "):
        run(run_assertion('{"answer": 1}', S("has", "1", transform=code), ctx, registry=reg))


def test_plain_js_failure_does_not_mention_python(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    with pytest.raises(TransformError, match="failed as JavaScript: SyntaxError") as info:
        run(run_assertion("x", S("has", "1", transform="JSON.parse(output)"), ctx, registry=reg))
    assert "python:" not in str(info.value)


def test_transform_exception_is_error(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    with pytest.raises(TransformError, match="KeyError"):
        run(
            run_assertions(
                "{}",
                [S("has", "x")],
                ctx,
                registry=reg,
                transform="python: json.loads(output)['k']",
            )
        )


def test_transform_returning_nothing_is_an_error(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    for code in ("undefined", "null", "python: None"):
        with pytest.raises(TransformError, match="did not return a value"):
            run(run_assertion("x", S("has", "x", transform=code), ctx, registry=reg))


def test_transform_non_json_js_values_come_back(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    spec = S("python", "output == float('inf')", transform="1 / 0")
    builtins = AssertionRegistry.with_builtins()
    assert run(run_assertion("x", spec, ctx, registry=builtins)).passed


def test_file_transform_default_function(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    (ctx.base_dir / "t.py").write_text(
        "def get_transform(output, context):\n    return output * 2\n"
    )
    assert run(
        run_assertion("ab", S("has", "abab", transform="file://t.py"), ctx, registry=reg)
    ).passed


def test_js_file_transform(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    (ctx.base_dir / "t.js").write_text(
        "module.exports = { twice: (output, context) => output + output };\n"
    )
    spec = S("has", "abab", transform="file://t.js:twice")
    assert run(run_assertion("ab", spec, ctx, registry=reg)).passed


# --- weights, thresholds, sets, errors ------------------------------------------------------


def test_weight_zero_forced_pass_metric_only(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    res = run(
        run_assertions(
            "hello",
            [S("has", "hello"), S("has", "absent", weight=0, metric="extra")],
            ctx,
            registry=reg,
        )
    )
    assert res.passed and res.score == 1.0
    zero = res.component_results[1]
    assert zero.passed and zero.metric_only
    assert res.named_scores == {"extra": 0.0}


def test_weights_and_threshold(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    specs = [
        S("score", {"pass": True, "score": 0.8}, weight=2),
        S("score", {"pass": False, "score": 0.2, "reason": "low"}),
    ]
    res = run(run_assertions("x", specs, ctx, registry=reg))
    assert not res.passed and res.reason == "low"
    assert res.score == pytest.approx(0.6)
    res = run(run_assertions("x", specs, ctx, registry=reg, threshold=0.6))
    assert res.passed and res.reason == "Aggregate score 0.60 ≥ 0.6 threshold"


def test_no_assertions(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    res = run(run_assertions("x", [], ctx, registry=reg))
    assert (res.passed, res.score, res.reason) == (True, 1.0, "No assertions")


def test_metric_names_rendered_with_vars(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    res = run(
        run_assertions("Paris", [S("has", "Paris", metric="m-{{ city }}")], ctx, registry=reg)
    )
    assert res.named_scores == {"m-Paris": 1.0}


def test_assert_set_own_threshold_then_weighted(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    inner = (S("has", "a"), S("has", "zzz"))
    specs = [
        S("assert-set", threshold=0.5, weight=2, metric="set", children=inner),
        S("has", "nope"),
    ]
    res = run(run_assertions("abc", specs, ctx, registry=reg))
    set_result = res.component_results[0]
    assert set_result.passed and set_result.score == 0.5
    assert set_result.assertion is specs[0]
    assert len(set_result.component_results) == 2
    assert res.score == pytest.approx((0.5 * 2 + 0) / 3)
    assert res.named_scores == {"set": 0.5}
    assert res.reason == "no nope"


def test_assert_set_weight_zero_still_fails_the_test(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    # promptfoo 0.123.1 (fidelity 17_assert_set #5): weight 0 forces a pass only for single
    # assertions; a failing weight-0 set fails the test, adds nothing to the score, and its
    # inner failure is the reason
    specs = [
        S("assert-set", weight=0, metric="geo", children=(S("has", "Berlin"),)),
        S("has", "capital"),
    ]
    res = run(run_assertions("The capital of France is Paris", specs, ctx, registry=reg))
    assert not res.passed
    assert res.score == 1.0
    assert res.reason == "no Berlin"
    set_result = res.component_results[0]
    assert not set_result.passed and not set_result.metric_only
    assert res.named_scores == {"geo": 0.0}  # promptfoo: weight 0 -> named score 0


def test_assert_set_weight_zero_passing_and_alone(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    only = [S("assert-set", weight=0, children=(S("has", "hello"),))]
    res = run(run_assertions("hello", only, ctx, registry=reg))
    assert res.passed and res.score == 0.0  # no weight at all: score 0, as promptfoo


def test_weight_zero_member_inside_set_is_forced_pass(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    inner = (S("has", "absent", weight=0), S("has", "hello"))
    res = run(run_assertions("hello", [S("assert-set", children=inner)], ctx, registry=reg))
    assert res.passed and res.score == 1.0


def test_failing_set_reason_wins_over_plain_failure(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    # promptfoo adds set results after the plain ones and keeps the last failure's reason
    specs = [S("assert-set", children=(S("has", "SETFAIL"),)), S("has", "PLAINFAIL")]
    res = run(run_assertions("hello", specs, ctx, registry=reg))
    assert res.reason == "no SETFAIL"


def test_assert_set_without_children_is_config_error(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    with pytest.raises(AssertionConfigError, match="no assertions"):
        run(run_assertions("x", [S("assert-set")], ctx, registry=reg))


def test_grader_error_never_flipped(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    res = run(run_assertion("x", S("not-flaky-grader"), ctx, registry=reg))
    assert not res.passed and res.grader_error and res.score == 0.0


def test_comparison_types_skipped_in_item_run(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    res = run(run_assertions("abc", [S("has", "a"), S("select-best", "best")], ctx, registry=reg))
    assert res.passed and len(res.component_results) == 1


def test_config_error_propagates_from_run_assertions(
    reg: AssertionRegistry, ctx: AssertionContext
) -> None:
    with pytest.raises(AssertionConfigError):
        run(run_assertions("x", [S("has", "x"), S("bogus", "x")], ctx, registry=reg))


def test_result_carries_its_spec(reg: AssertionRegistry, ctx: AssertionContext) -> None:
    spec = S("has", "x")
    assert run(run_assertion("x", spec, ctx, registry=reg)).assertion is spec


# --- custom (plugin-registered) assertions --------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "type_", "passed", "score"),
    [
        (True, "custom", True, 1.0),
        (False, "custom", False, 0.0),
        (True, "not-custom", False, 0.0),
        (0.4, "custom", True, 0.4),
        ({"pass": False, "score": 0.3, "reason": "meh"}, "custom", False, 0.3),
        (GradingResult(True, 0.9, "fine"), "custom", True, 0.9),
    ],
)
def test_custom_function_contract(
    ctx: AssertionContext, returned: Any, type_: str, passed: bool, score: float
) -> None:
    reg = AssertionRegistry()
    got: list[Any] = []

    def fn(output: str, value: Any, context: AssertionContext) -> Any:
        got.append((output, value, context))
        return returned

    reg.register("custom", fn)
    res = run(run_assertion("out", S(type_, "{{ city }}"), ctx, registry=reg))
    assert (res.passed, res.score) == (passed, pytest.approx(score))
    assert got[0][0] == "out" and got[0][1] == "Paris" and got[0][2] is ctx


def test_custom_async_function(ctx: AssertionContext) -> None:
    reg = AssertionRegistry()

    async def fn(output: str, value: Any, context: AssertionContext) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"pass": True, "score": 1, "reason": "async ok"}

    reg.register("a", fn)
    res = run(run_assertion("x", S("a"), ctx, registry=reg))
    assert res.passed and res.reason == "async ok"


def test_custom_function_raising_fails(ctx: AssertionContext) -> None:
    reg = AssertionRegistry()

    def fn(output: str, value: Any, context: AssertionContext) -> bool:
        raise RuntimeError("kaput")

    reg.register("boom", fn)
    res = run(run_assertion("x", S("boom"), ctx, registry=reg))
    assert not res.passed and "Custom assertion 'boom' raised RuntimeError: kaput" in res.reason


def test_custom_function_bad_return_fails(ctx: AssertionContext) -> None:
    reg = AssertionRegistry()
    reg.register("bad", lambda o, v, c: [1, 2])
    res = run(run_assertion("x", S("bad"), ctx, registry=reg))
    assert not res.passed and "must return a boolean" in res.reason


def test_real_builtins_through_engine(ctx: AssertionContext) -> None:
    reg = AssertionRegistry.with_builtins()
    specs = [
        S("contains", "{{ city }}"),
        S("not-contains", "London"),
        S("python", "len(output) > 3"),
    ]
    res = run(run_assertions("Paris is nice", specs, ctx, registry=reg))
    assert res.passed and res.score == 1.0
