"""Running a test case's assertions against one output (promptfoo's ``runAssertions``).

`run_assertion` grades one `AssertionSpec`: it applies the assertion's ``transform``,
resolves its ``value`` (templated with the vars; ``file://`` files loaded, ``.py``/``.js``
files executed to produce the expected value), calls the handler with ``not-`` passed as
``inverse``, and applies ``weight: 0`` (forced pass, metric only; an ``assert-set`` keeps its
verdict). Grader errors are never flipped. `run_assertions` applies the test-level
``transform`` once, runs the assertions (three at a time, as promptfoo), and aggregates with
`scoring.ScoreAccumulator`.
``select-best`` and ``max-score`` are skipped here: `compare.grade_row` grades them over a
row of outputs.

Errors: a bad assertion config raises `AssertionConfigError` (an item error), an assertion
that cannot run here raises `AssertionSkipped`; neither is turned into a pass or a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import inspect
import json
import math
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .. import usercode
from ..config.cases import AssertionSpec
from ..usercode import JsSpecial, UserCodeRaised
from .base import (
    AssertionCall,
    AssertionConfigError,
    AssertionContext,
    AssertionSkipped,
    GradingResult,
)
from .registry import COMPARISON_TYPES, AssertionRegistry
from .scoring import ScoreAccumulator, no_assertions_result
from .scripts import (
    JS_SUFFIXES,
    SCRIPT_TYPES,
    JsError,
    ScriptResultError,
    call_maybe_async,
    is_file_ref,
    normalize_script_result,
    parse_file_ref,
    resolve_path,
    run_js,
    run_python_value,
    script_context,
)
from .transforms import apply_transform

#: promptfoo's PROMPTFOO_ASSERTIONS_MAX_CONCURRENCY default.
MAX_CONCURRENT_ASSERTIONS = 3


class _ValueScriptFailed(Exception):
    """A ``file://x.py`` value script raised: the assertion fails with this reason."""


# --- templating -------------------------------------------------------------------------


def render_template(
    text: str, vars: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> str:
    """Render ``text`` with the vars like promptfoo's Nunjucks (undefined -> empty).

    Uses the config package's Jinja2 setup (``env`` global = the process environment, ``load``
    and ``dump`` filters...); a template error becomes an `AssertionConfigError`.
    """
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return text
    from ..config.errors import ConfigError
    from ..config.render import render_template as config_render

    try:
        return config_render(
            text, vars, os.environ if env is None else env, what=f"template {text[:60]!r}"
        )
    except ConfigError as exc:
        fix = f" Fix: {exc.fix}" if exc.fix else ""
        raise AssertionConfigError(f"{exc.message}.{fix}") from exc


def render_metric(metric: str | None, vars: Mapping[str, Any]) -> str | None:
    """A ``metric`` name rendered with the vars (left as written when it cannot render)."""
    if not metric:
        return metric
    try:
        return render_template(metric, vars)
    except AssertionConfigError:
        return metric


# --- value resolution -------------------------------------------------------------------


def load_value_file(path: Path) -> Any:
    """A ``file://`` expected value: JSON/YAML parsed, anything else as text."""
    if not path.is_file():
        raise AssertionConfigError(
            f"assertion value file not found: {path}. Fix: make the `file://` path relative "
            "to the config file's directory (or absolute)."
        )
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise AssertionConfigError(f"cannot parse assertion value file {path}: {exc}") from exc
    return text


def _check_script_value(result: Any, spec: AssertionSpec, ref: str) -> Any:
    kind: str | None = None
    if isinstance(result, JsSpecial):
        kind = result.kind
    elif callable(result):
        kind = "a function"
    elif isinstance(result, bool):
        kind = "a boolean"
    elif isinstance(result, GradingResult) or (isinstance(result, Mapping) and "pass" in result):
        kind = "a GradingResult"
    if kind is not None:
        raise AssertionConfigError(
            f'Script {ref} for "{spec.type}" assertion returned {kind}. Only python/javascript '
            "assertions may return pass/fail verdicts; for other types the script must return "
            "the expected value (string, number, list or object)."
        )
    return result


async def resolve_value(
    spec: AssertionSpec, output: Any, context: AssertionContext, base_type: str
) -> Any:
    """The assertion's expected value, ready for its handler."""
    value = spec.value
    if isinstance(value, str):
        if not is_file_ref(value):
            return render_template(value, context.vars)
        if base_type in SCRIPT_TYPES:
            return value  # the script handler runs it
        path_text, _fn = parse_file_ref(value)
        path = resolve_path(path_text, context.base_dir)
        suffix = path.suffix.lower()
        if suffix == ".py":
            try:
                result = await run_python_value(
                    value, output, context, spec, default_fn="get_assert"
                )
            except UserCodeRaised as exc:
                raise _ValueScriptFailed(
                    f"Python value script {value} failed: {exc.type_name}: {exc.message}"
                ) from exc
            return _check_script_value(result, spec, value)
        if suffix in JS_SUFFIXES:
            try:
                result = await run_js(
                    value,
                    output,
                    script_context(context, spec),
                    base_dir=context.base_dir,
                    timeout=context.timeout_s,
                )
            except JsError as exc:
                raise _ValueScriptFailed(f"JavaScript value script {value} failed: {exc}") from exc
            return _check_script_value(result, spec, value)
        return load_value_file(path)
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            if isinstance(item, str) and is_file_ref(item):
                items.append(
                    load_value_file(resolve_path(parse_file_ref(item)[0], context.base_dir))
                )
            elif isinstance(item, str):
                items.append(render_template(item, context.vars))
            else:
                items.append(item)
        return items
    return value


# --- one assertion ----------------------------------------------------------------------


def _unknown_type(type_name: str, registry: AssertionRegistry) -> AssertionConfigError:
    close = difflib.get_close_matches(type_name, sorted(registry.names()), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return AssertionConfigError(
        f"Unknown assertion type {type_name!r}.{hint} Custom types are added with the "
        "pytest_cfgateway_register_assertions hook (register(name, fn))."
    )


def _finalize(result: GradingResult, spec: AssertionSpec, *, is_set: bool = False) -> GradingResult:
    """Attach the spec, keep grader errors failed, and apply ``weight: 0``.

    As in promptfoo, ``weight: 0`` forces a *single* assertion to pass (it only feeds its
    metric); an ``assert-set`` with ``weight: 0`` keeps its verdict, so a failing set still
    fails the test while adding nothing to the score (promptfoo forces the pass in
    ``runAssertion``, which assert-sets do not go through).
    """
    changes: dict[str, Any] = {}
    if result.assertion is None:
        changes["assertion"] = spec
    if result.grader_error and result.passed:
        # a grader failure is not evidence either way: never let not- turn it into a pass
        changes.update(passed=False, score=0.0)
    if not is_set and spec.weight is not None and float(spec.weight) == 0.0:
        changes.update(passed=True, metric_only=True)
    return dataclasses.replace(result, **changes) if changes else result


async def run_assertion(
    output: Any,
    spec: AssertionSpec,
    context: AssertionContext,
    *,
    registry: AssertionRegistry,
) -> GradingResult:
    """Grade ``output`` against one assertion (an ``assert-set`` grades its members)."""
    with usercode.limited(context.timeout_s):  # user regexes in handlers stop at the limit
        return await _run_assertion(output, spec, context, registry=registry)


async def _run_assertion(
    output: Any,
    spec: AssertionSpec,
    context: AssertionContext,
    *,
    registry: AssertionRegistry,
) -> GradingResult:
    type_name = spec.type
    if not isinstance(type_name, str) or not type_name:
        raise AssertionConfigError(
            f"assertion {spec.key_path or ''} has no `type`. Fix: add e.g. `type: contains`."
        )
    if type_name == "assert-set":
        return _finalize(await _run_set(output, spec, context, registry), spec, is_set=True)
    inverse = type_name.startswith("not-")
    base = type_name[4:] if inverse else type_name
    if base in COMPARISON_TYPES or base == "assert-set":
        if inverse:
            raise AssertionConfigError(
                f"{type_name!r} is not valid: {base} cannot be negated with 'not-'."
            )
        raise AssertionConfigError(
            f"{base} compares the outputs of a whole row; grade it with "
            "pytest_cfgateway.assertions.compare.grade_row, not run_assertion."
        )
    handler = registry.builtin(base)
    custom = registry.custom(base)
    if handler is None and custom is None:
        raise _unknown_type(type_name, registry)

    out = await apply_transform(
        spec.transform, output, context, spec=spec, what=f"transform of {type_name} assertion"
    )
    try:
        value = await resolve_value(spec, out, context, base)
    except _ValueScriptFailed as exc:
        return _finalize(GradingResult(passed=False, score=0.0, reason=str(exc)), spec)

    if custom is not None:
        result = await _run_custom(custom, base, out, value, spec, inverse, context)
    else:
        assert handler is not None
        call = AssertionCall(
            output=out,
            value=value,
            spec=spec,
            inverse=inverse,
            base_type=base,
            threshold=_threshold(spec.threshold),
            context=context,
        )
        produced: GradingResult | Awaitable[GradingResult] = handler(call)
        result = await produced if inspect.isawaitable(produced) else produced
        if not isinstance(result, GradingResult):
            raise TypeError(
                f"assertion handler for {base!r} returned {type(result).__name__}, "
                "not GradingResult"
            )
    return _finalize(result, spec)


def _threshold(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise AssertionConfigError(f"assertion threshold must be a number; got {value!r}") from exc
    return None if math.isnan(number) else number


async def _run_custom(
    fn: Callable[..., Any],
    name: str,
    output: Any,
    value: Any,
    spec: AssertionSpec,
    inverse: bool,
    context: AssertionContext,
) -> GradingResult:
    source = f"Custom assertion {name!r}"
    try:
        raw = await call_maybe_async(fn, output, value, context)
        return normalize_script_result(
            raw, inverse=inverse, threshold=_threshold(spec.threshold), source=source
        )
    except (AssertionConfigError, AssertionSkipped):
        raise
    except ScriptResultError as exc:
        return GradingResult(passed=False, score=0.0, reason=str(exc))
    except Exception as exc:
        return GradingResult(
            passed=False,
            score=0.0,
            reason=f"{source} raised {type(exc).__name__}: {exc}",
        )


async def _run_set(
    output: Any, spec: AssertionSpec, context: AssertionContext, registry: AssertionRegistry
) -> GradingResult:
    children = list(spec.children)
    if not children:
        raise AssertionConfigError(
            f"assert-set {spec.key_path or ''} has no assertions. Fix: give it an `assert:` "
            "list of assertions."
        )
    acc = ScoreAccumulator(_threshold(spec.threshold))
    await _grade_into(acc, output, children, context, registry)
    return acc.result()


async def _grade_into(
    acc: ScoreAccumulator,
    output: Any,
    specs: Sequence[AssertionSpec],
    context: AssertionContext,
    registry: AssertionRegistry,
) -> None:
    runnable = [s for s in specs if s.type not in COMPARISON_TYPES]
    semaphore = asyncio.Semaphore(MAX_CONCURRENT_ASSERTIONS)

    async def one(s: AssertionSpec) -> GradingResult:
        async with semaphore:
            return await run_assertion(output, s, context, registry=registry)

    outcomes: list[GradingResult | BaseException]
    if len(runnable) == 1:
        # one assertion (most test cases): awaited directly, without a task and a gather
        # (a replayed item then finishes in one step of the event loop)
        outcomes = [await one(runnable[0])]
    else:
        outcomes = await asyncio.gather(*(one(s) for s in runnable), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    for s, outcome in zip(runnable, outcomes, strict=True):
        assert isinstance(outcome, GradingResult)
        acc.add(
            outcome,
            weight=1.0 if s.weight is None else s.weight,
            metric=render_metric(s.metric, context.vars),
            metric_only=outcome.metric_only,
            group=s.type == "assert-set",
        )


async def run_assertions(
    output: Any,
    asserts: Sequence[AssertionSpec],
    context: AssertionContext,
    *,
    registry: AssertionRegistry,
    threshold: float | None = None,
    transform: str | None = None,
) -> GradingResult:
    """Grade one output against a test case's assertions and aggregate the verdict.

    ``transform`` is the test-level ``options.transform`` (Python; applied once, before the
    per-assertion transforms); ``threshold`` the test's ``threshold``.
    """
    if transform:
        output = await apply_transform(
            transform, output, context, what="test transform (options.transform)"
        )
    if not asserts:
        return no_assertions_result()
    acc = ScoreAccumulator(_threshold(threshold))
    await _grade_into(acc, output, asserts, context, registry)
    return acc.result()
