"""Script assertions (``python``, ``javascript``) and the script return contract.

**Where code runs**: every script runs in the user-code executor
(`pytest_cfgateway.usercode`), a pool of warm worker processes, never in the pytest
process: ``evaluateOptions.timeoutMs`` (else the executor's default) really stops it, and
``sys.exit``, ``os._exit`` or a crash cannot end the session (such an item is an error
naming the code). Scripts receive JSON-like copies of ``output`` and ``context``.

Inline Python: a single line is an expression (``return <expr>`` is implied); several lines
are the body of ``def main(output, context)`` and must ``return``. ``json``, ``re`` and
``math`` are pre-imported. ``file://path.py`` calls ``get_assert`` (``file://path.py:fn``
calls ``fn``); relative paths resolve against the config's directory.

**JavaScript** runs in QuickJS (``dukpy>=0.6``, a dependency): promptfoo's inline rules (one
line gets ``return``; a ``const/let/var`` line gets ``return`` before its last statement;
several lines are a function body) and ``file://x.js[:fn]`` CommonJS or ES modules. There is
no Node: ``require`` reaches only plain ``.js`` files, not npm packages. As in promptfoo, a
``javascript`` assertion must return a boolean, a number or a GradingResult object; a value
JSON cannot carry is named as JavaScript prints it (``Infinity``, ``undefined``).

Transforms live in `transforms` (JavaScript by default, ``python:`` marks Python).

Return contract (promptfoo's): ``bool`` -> pass/fail, score 1/0; a finite number -> the
score (not clamped), pass when ``n > 0``, or ``n >= threshold`` when the assertion has one;
a dict or `GradingResult` with ``pass``, ``score``, ``reason``, ``named_scores`` (snake or
camel case) -- from a python/javascript script all of ``pass`` (boolean), ``score`` (number)
and ``reason`` (string) are required, as promptfoo 0.123.1's ``isGradingResult`` requires
them (a plugin's custom assertion may leave ``score``, defaulting to 1/0 of ``pass``, and
``reason`` out); a ``threshold`` also fails it when ``score < threshold`` (Python only: as in
promptfoo, a JavaScript object result keeps its own ``pass``); for Python, the
strings ``"true"``/``"false"``, a JSON object string or a numeric string are parsed.
Anything else is an error. ``not-`` flips ``pass``; numbers keep their score. An exception
fails the assertion with ``"Python code execution failed: ..."``; a time-out, an exit or a
crash is an item error.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import usercode
from .base import (
    AssertionCall,
    AssertionConfigError,
    AssertionContext,
    BuiltinHandler,
    GradingResult,
)
from .scoring import format_number

PASSED = "Assertion passed"

SCRIPT_TYPES = frozenset({"python", "javascript"})
PYTHON_SUFFIXES = (".py",)
JS_SUFFIXES = (".js", ".cjs", ".mjs")


class ScriptResultError(ValueError):
    """A script returned something outside the return contract."""


class TransformError(AssertionConfigError):
    """A transform could not be run (bad code, wrong language, exception, bad file)."""


# --- file references --------------------------------------------------------------------


def is_file_ref(value: Any) -> bool:
    """True for a ``file://`` string."""
    return isinstance(value, str) and value.startswith("file://")


def parse_file_ref(value: str) -> tuple[str, str | None]:
    """``file://dir/x.py:fn`` -> ``("dir/x.py", "fn")``; Windows drive letters are kept."""
    ref = value[len("file://") :] if value.startswith("file://") else value
    head, sep, tail = ref.rpartition(":")
    if (
        sep
        and head
        and re.fullmatch(r"[A-Za-z_$][\w$.]*", tail)
        and not re.fullmatch(r"[A-Za-z]", head)
    ):
        return head, tail
    return ref, None


def resolve_path(path: str, base_dir: Path) -> Path:
    """A path from a config, resolved against the config's directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (Path(base_dir) / p)


# --- the context a script sees ----------------------------------------------------------


def script_context(context: AssertionContext, spec: Any = None) -> dict[str, Any]:
    """promptfoo's assertion ``context`` for scripts, as a plain dict.

    Keys: ``prompt``, ``vars``, ``test``, ``config`` (the assertion's ``config``),
    ``provider`` (``{"id", "config"}``), ``providerResponse``, ``logProbs``, ``metadata``.
    """
    completion = context.completion
    provider_response: dict[str, Any] | None = None
    if completion is not None:
        provider_response = {
            "output": completion.text,
            "tokenUsage": {
                "prompt": completion.usage.prompt_tokens,
                "completion": completion.usage.completion_tokens,
                "total": completion.usage.total_tokens,
                "cached": completion.usage.cached_tokens,
            },
            "cost": completion.cost,
            "cached": completion.cached,
            "latencyMs": completion.latency_ms,
            "finishReason": completion.finish_reason,
            "toolCalls": completion.tool_calls,
            "logProbs": completion.logprobs,
            "model": completion.model,
            "provider": completion.provider,
        }
    config = _spec_field(spec, "config") or {}
    return {
        "prompt": context.prompt,
        "vars": dict(context.vars),
        "test": dict(context.test),
        "config": copy.deepcopy(dict(config)) if isinstance(config, Mapping) else config,
        "provider": {"id": context.provider_id, "config": dict(context.provider_config)},
        "providerResponse": provider_response,
        "logProbs": completion.logprobs if completion is not None else None,
        "metadata": dict(context.metadata),
    }


def _spec_field(spec: Any, name: str) -> Any:
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return spec.get(name)
    return getattr(spec, name, None)


# --- the return contract ----------------------------------------------------------------


def normalize_script_result(
    result: Any,
    *,
    inverse: bool,
    threshold: float | None,
    source: str = "Python code",
    code: str | None = None,
) -> GradingResult:
    """Turn what a script (or a registered custom assertion) returned into a GradingResult.

    ``source`` names the script in reasons ("Python code", "JavaScript code", "Custom
    assertion 'x'"). Raises `ScriptResultError` for values outside the contract.
    """
    if isinstance(result, bool):
        return _from_bool(result, inverse, source, code)
    if isinstance(result, GradingResult):
        if result.grader_error:
            return dataclasses.replace(result, passed=False)  # never flipped by not-
        out = _from_object(
            {
                "pass": result.passed,
                "score": result.score,
                "reason": result.reason,
                "named_scores": result.named_scores,
                "component_results": result.component_results,
                "tokens_used": result.tokens_used,
            },
            inverse,
            threshold,
            source,
        )
        out.metric_only = result.metric_only
        return out
    if isinstance(result, str):
        lowered = result.strip().lower()
        if lowered == "true":
            return _from_bool(True, inverse, source, code)
        if lowered == "false":
            return _from_bool(False, inverse, source, code)
        if result.lstrip().startswith("{"):
            try:
                parsed = json.loads(result)
            except json.JSONDecodeError as exc:
                raise ScriptResultError(
                    f"Invalid JSON: {exc} when parsing result: {result[:200]}"
                ) from exc
            if not isinstance(parsed, dict):
                raise ScriptResultError(_contract_message(source, result))
            return _from_object(parsed, inverse, threshold, source, strict=_strict(source))
        match = re.match(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", result)
        if not match:
            raise ScriptResultError(_contract_message(source, result))
        return _from_number(float(match.group(0)), inverse, threshold, source, code)
    if isinstance(result, Mapping):
        return _from_object(dict(result), inverse, threshold, source, strict=_strict(source))
    if isinstance(result, numbers.Real):
        value = float(result)
        if not math.isfinite(value):
            raise ScriptResultError(
                f"{source} returned a non-finite number ({result!r}); return a finite score, "
                "a boolean, or {pass, score, reason}."
            )
        return _from_number(value, inverse, threshold, source, code)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return _from_object(
            dataclasses.asdict(result), inverse, threshold, source, strict=_strict(source)
        )
    raise ScriptResultError(_contract_message(source, result))


def _contract_message(source: str, result: Any) -> str:
    hint = ""
    if result is None:
        hint = (
            " (a multi-line script is a function body: end it with `return ...`; "
            "a file function must return a value)"
        )
    shown = repr(result)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return (
        f"{source} must return a boolean, a number, or a {{pass, score, reason}} object; "
        f"got {type(result).__name__} {shown}{hint}"
    )


def _failure_reason(source: str, raw: bool, code: str | None) -> str:
    reason = f"{source} returned {'true' if raw else 'false'}"
    if code:
        reason += f"\n{code}"
    return reason


def _from_bool(raw: bool, inverse: bool, source: str, code: str | None) -> GradingResult:
    passed = raw != inverse
    return GradingResult(
        passed=passed,
        score=1.0 if passed else 0.0,
        reason=PASSED if passed else _failure_reason(source, raw, code),
    )


def _from_number(
    value: float, inverse: bool, threshold: float | None, source: str, code: str | None
) -> GradingResult:
    raw = value > 0 if threshold is None else value >= threshold
    passed = raw != inverse
    return GradingResult(
        passed=passed,
        score=value,
        reason=PASSED if passed else _failure_reason(source, raw, code),
    )


def _pick(obj: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


#: Sources whose objects must be complete GradingResults, as promptfoo 0.123.1 checks them
#: (``isGradingResult``: boolean ``pass``, numeric ``score``, string ``reason``).
_SCRIPT_SOURCES = frozenset({"Python code", "Custom function"})


def _strict(source: str) -> bool:
    return source in _SCRIPT_SOURCES


def _from_object(
    obj: dict[str, Any],
    inverse: bool,
    threshold: float | None,
    source: str,
    *,
    strict: bool = False,
) -> GradingResult:
    raw_pass = _pick(obj, "pass", "pass_", "passed")
    if not isinstance(raw_pass, bool):
        raise ScriptResultError(
            f"{source} returned an object without a boolean `pass`: "
            f"{json.dumps(obj, default=str)[:300]}. Return {{'pass': True/False, "
            "'score': 0..1, 'reason': '...'}."
        )
    if strict:
        score_value, reason_value = obj.get("score"), obj.get("reason")
        missing = [
            name
            for name, ok in (
                (
                    "a numeric `score`",
                    isinstance(score_value, numbers.Real) and not isinstance(score_value, bool),
                ),
                ("a string `reason`", isinstance(reason_value, str)),
            )
            if not ok
        ]
        if missing:
            raise ScriptResultError(
                f"{source} returned an object without {' and '.join(missing)}: "
                f"{json.dumps(obj, default=str)[:300]}. As in promptfoo, an object result "
                "needs all of `pass` (boolean), `score` (number) and `reason` (string)."
            )
    raw_score = obj.get("score")
    if raw_score is None:
        score = 1.0 if raw_pass else 0.0
    elif isinstance(raw_score, numbers.Real) and not isinstance(raw_score, bool):
        score = float(raw_score)
    else:
        raise ScriptResultError(
            f"{source} returned a non-numeric `score` ({raw_score!r}); use a number."
        )
    reason = obj.get("reason")
    reason_text = reason if isinstance(reason, str) else ("" if reason is None else str(reason))
    named = _pick(obj, "named_scores", "namedScores") or {}
    if not isinstance(named, Mapping):
        raise ScriptResultError(f"{source} returned `named_scores` that is not a mapping")
    named_scores = {str(k): float(v) for k, v in named.items()}
    components: list[GradingResult] = []
    for comp in _pick(obj, "component_results", "componentResults") or []:
        if isinstance(comp, GradingResult):
            components.append(comp)
        elif isinstance(comp, Mapping):
            components.append(_from_object(dict(comp), False, None, source))
    tokens = _pick(obj, "tokens_used", "tokensUsed")
    tokens_used = 0
    if isinstance(tokens, Mapping):
        tokens_used = int(tokens.get("total") or 0)
    elif isinstance(tokens, int) and not isinstance(tokens, bool):
        tokens_used = tokens

    if threshold is not None and score < threshold:
        raw_pass = False
        msg = f"{source.split(' ')[0]} score {format_number(score)} is less than threshold "
        msg += format_number(threshold)
        reason_text = f"{msg}: {reason_text}" if reason_text else msg

    passed = raw_pass != inverse
    if passed == raw_pass:
        final_reason = reason_text or (PASSED if passed else f"{source} returned false")
    elif passed:
        final_reason = PASSED
    else:
        final_reason = f"{source} returned {'true' if raw_pass else 'false'}"
    return GradingResult(
        passed=passed,
        score=score,
        reason=final_reason,
        component_results=components,
        named_scores=named_scores,
        tokens_used=tokens_used,
    )


# --- running Python ---------------------------------------------------------------------


def build_python_source(code: str, *, params: str = "output, context") -> str:
    """promptfoo's wrapper: one line -> ``return <expr>``; several -> the body of ``main``."""
    stripped = code.strip("\n")
    if "\n" not in stripped:
        line = stripped.strip()
        if not line.startswith("return ") and line != "return":
            line = f"return {line}"
        return f"def main({params}):\n    {line}\n"
    body = textwrap.indent(textwrap.dedent(stripped), "    ")
    return f"def main({params}):\n{body}\n"


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` (plugin code, in this process); await the result when it is awaitable."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def code_label(kind: str, code: str) -> str:
    """``python assertion `len(output) > 3``` -- how errors name a piece of user code."""
    if is_file_ref(code):
        return f"{kind} {code}"
    one_line = " ".join(code.split())
    if len(one_line) > 80:
        one_line = one_line[:79] + "…"
    return f"{kind} `{one_line}`"


def python_file_path(value: str, base_dir: Path, *, what: str) -> Path:
    """The ``.py`` file of a ``file://`` reference; a config error when it is missing."""
    path = resolve_path(parse_file_ref(value)[0], base_dir)
    if not path.is_file():
        raise AssertionConfigError(
            f"{what}: Python file not found: {path}. Fix: make the `file://` path relative to "
            "the config file's directory (or absolute)."
        )
    return path


def missing_function(exc: usercode.UserCodeRaised, value: str) -> AssertionConfigError | None:
    """A config error for "the file has no such function" (else None)."""
    if exc.type_name != "LookupError" or "function" not in exc.message:
        return None
    name = parse_file_ref(value)[1]
    return AssertionConfigError(
        f"{exc.message}. Fix: define the function, or name it with "
        f"`file://{parse_file_ref(value)[0]}:<function>`"
        + (f" (asked for {name!r})." if name else ".")
    )


async def run_python_value(
    value: str, output: Any, context: AssertionContext, spec: Any, *, default_fn: str
) -> Any:
    """Run inline code or a ``file://`` function (in a user-code worker); what it returned.

    Raises `usercode.UserCodeRaised` when the code raised, `usercode.UserCodeAborted` when
    it timed out, exited or crashed, `AssertionConfigError` for a missing file or function.
    """
    args = [json_safe(output), json_safe(script_context(context, spec))]
    if is_file_ref(value):
        path = python_file_path(value, context.base_dir, what="python")
        label = code_label("python", value)
        req = usercode.python_file(path, parse_file_ref(value)[1] or default_fn, args, label=label)
        try:
            return await usercode.arun(req, timeout=context.timeout_s)
        except usercode.UserCodeRaised as exc:
            raise missing_function(exc, value) or exc from None
    label = code_label(str(_spec_field(spec, "type") or "python"), value)
    source = build_python_source(value)
    return await usercode.arun(
        usercode.python_source(source, "main", args, label=label), timeout=context.timeout_s
    )


def json_safe(value: Any) -> Any:
    """``value`` as JSON-like data for user code (objects it cannot carry become strings)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


def _raised_text(exc: usercode.UserCodeRaised) -> str:
    return f"{exc.type_name}: {exc.message}" if exc.type_name else exc.message


async def handle_python(call: AssertionCall) -> GradingResult:
    """The ``python`` assertion."""
    value = call.value
    if not isinstance(value, str) or not value.strip():
        raise AssertionConfigError(
            f'"{"not-" if call.inverse else ""}python" assertion needs code in `value` '
            "(an expression such as `len(output) > 10`, a function body that returns, or "
            "`file://check.py:fn`)."
        )
    try:
        raw = await run_python_value(
            value, call.output, call.context, call.spec, default_fn="get_assert"
        )
        return normalize_script_result(
            raw,
            inverse=call.inverse,
            threshold=call.threshold,
            source="Python code",
            code=None if is_file_ref(value) else value,
        )
    except usercode.UserCodeRaised as exc:
        return GradingResult(
            passed=False, score=0.0, reason=f"Python code execution failed: {_raised_text(exc)}"
        )
    except ScriptResultError as exc:
        return GradingResult(passed=False, score=0.0, reason=f"Python code execution failed: {exc}")


# --- JavaScript ---------------------------------------------------------------------------

_DECLARATION = re.compile(r"^(const|let|var)\s")


def split_js_statements(code: str) -> list[str]:
    """Split one line of JS at top-level ``;`` (ignoring those in strings and comments)."""
    parts: list[str] = []
    buf: list[str] = []
    i, n = 0, len(code)
    depth = 0
    quote: str | None = None
    while i < n:
        ch = code[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < n:
                buf.append(code[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"`":
            quote = ch
        elif code.startswith("//", i):
            break
        elif code.startswith("/*", i):
            end = code.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ";" and depth == 0:
            parts.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


def build_js_body(code: str) -> str:
    """promptfoo's inline JS rules for assertions, producing a function body."""
    trimmed = code.strip()
    if "\n" in trimmed:
        return code
    if trimmed.startswith(("return ", "return;")):
        return trimmed
    if _DECLARATION.match(trimmed):
        statements = split_js_statements(trimmed)
        if statements and not _DECLARATION.match(statements[-1]):
            statements[-1] = "return " + statements[-1]
        return ";\n".join(statements) + ";"
    return f"return {trimmed.rstrip(';')};"


class JsError(Exception):
    """JavaScript threw, or returned something a caller cannot use."""


def js_request(
    code_or_ref: str,
    args: list[Any],
    *,
    base_dir: Path,
    label: str,
    params: tuple[str, ...] = ("output", "context"),
    body: str | None = None,
    fallback: bool = False,
) -> usercode.Request:
    """The executor request for inline JS (``body``, default `build_js_body`) or a
    ``file://x.js[:fn]`` function."""
    if is_file_ref(code_or_ref):
        path_text, fn_name = parse_file_ref(code_or_ref)
        path = resolve_path(path_text, base_dir)
        if not path.is_file():
            raise AssertionConfigError(
                f"JavaScript file not found: {path}. Fix: make the `file://` path relative "
                "to the config file's directory (or absolute)."
            )
        return usercode.js_file(path, fn_name, args, label=label, fallback=fallback or not fn_name)
    return usercode.js_body(
        build_js_body(code_or_ref) if body is None else body, params, args, label=label
    )


async def run_js(
    code_or_ref: str,
    output: Any,
    ctx: Mapping[str, Any],
    *,
    base_dir: Path,
    timeout: float | None = None,
    label: str | None = None,
) -> Any:
    """Run inline JS or a ``file://x.js[:fn]`` function with ``(output, context)``.

    `JsError` when it threw or returned a function/symbol; `usercode.UserCodeAborted` when it
    timed out or took its worker down. ``undefined`` comes back as `usercode.JS_UNDEFINED`.
    """
    req = js_request(
        code_or_ref,
        [json_safe(output), json_safe(dict(ctx))],
        base_dir=base_dir,
        label=label or code_label("javascript", code_or_ref),
    )
    try:
        value = await usercode.arun(req, timeout=timeout)
    except usercode.UserCodeRaised as exc:
        if exc.type_name == "LookupError" and "does not export" in exc.message:
            raise AssertionConfigError(
                f"{exc.message}. Fix: `module.exports = (output, context) => ...`, "
                "`export default function`, or name an exported function with "
                "`file://x.js:fn`."
            ) from None
        raise JsError(_raised_text(exc)) from None
    if isinstance(value, usercode.JsSpecial) and value != usercode.JS_UNDEFINED:
        raise JsError(f"returned a {value.kind}, which has no value to use here")
    return value


def _js_contract_error(value: Any) -> str:
    kind = "undefined" if value is usercode.JS_UNDEFINED else type(value).__name__
    return (
        "Custom function must return a boolean, number, or GradingResult object. Got "
        f"{usercode.describe_js(value)} ({kind})"
        + (
            " (a multi-line script is a function body: end it with `return ...`)"
            if value is usercode.JS_UNDEFINED
            else ""
        )
    )


async def handle_javascript(call: AssertionCall) -> GradingResult:
    """The ``javascript`` assertion (QuickJS in a user-code worker)."""
    value = call.value
    if not isinstance(value, str) or not value.strip():
        raise AssertionConfigError(
            '"javascript" assertion needs code in `value` (e.g. `output.length > 10`) or '
            "`file://check.js:fn`."
        )
    ctx = script_context(call.context, call.spec)
    try:
        raw = await run_js(
            value, call.output, ctx, base_dir=call.context.base_dir, timeout=call.context.timeout_s
        )
    except JsError as exc:
        return GradingResult(passed=False, score=0.0, reason=f"Custom function threw error: {exc}")
    if raw is usercode.JS_UNDEFINED or raw is None or isinstance(raw, str | list):
        return GradingResult(
            passed=False,
            score=0.0,
            reason=f"Custom function threw error: {_js_contract_error(raw)}",
        )
    if isinstance(raw, float) and not math.isfinite(raw):
        return GradingResult(
            passed=False,
            score=0.0,
            reason=(
                f"Custom function returned {usercode.describe_js(raw)}, a number that is not a "
                "usable score (promptfoo 0.123.1 would pass it but cannot store its result). "
                "Return a finite number, a boolean, or {pass, score, reason}."
            ),
        )
    try:
        return normalize_script_result(
            raw,
            inverse=call.inverse,
            # promptfoo 0.123.1 applies a javascript assertion's threshold to a returned number
            # only: a returned {pass, score, reason} keeps its own `pass` (python differs).
            threshold=None if isinstance(raw, Mapping) else call.threshold,
            source="Custom function",
            code=None if is_file_ref(value) else value,
        )
    except ScriptResultError as exc:
        return GradingResult(passed=False, score=0.0, reason=f"Custom function failed: {exc}")


HANDLERS: dict[str, BuiltinHandler] = {
    "python": handle_python,
    "javascript": handle_javascript,
}
