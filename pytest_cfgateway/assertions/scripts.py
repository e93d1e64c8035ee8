"""Script assertions (``python``, ``javascript``), transforms, and the script return contract.

**Python runs in-process**, in the interpreter running pytest (no subprocess, no worker
pool): inline code and ``file://x.py:fn`` functions are ordinary Python called with
``(output, context)``. They can import whatever the test environment has, and a blocking
function blocks the event loop while it runs, as any test code would.

Inline Python: a single line is an expression (``return <expr>`` is implied); several lines
are the body of ``def main(output, context)`` and must ``return``. ``json``, ``re`` and
``math`` are pre-imported. ``file://path.py`` calls ``get_assert`` (``file://path.py:fn``
calls ``fn``); relative paths resolve against the config's directory.

**JavaScript** runs in an embedded QuickJS engine from the optional ``dukpy>=0.6`` package
(extra ``pytest-cfgateway[js]``): promptfoo's inline rules (one line gets ``return``; a
``const/let/var`` line gets ``return`` before its last statement; several lines are a
function body) and ``file://x.js[:fn]`` CommonJS or ES modules. There is no Node: ``require``
reaches only plain ``.js`` files, not npm packages. Without the engine every ``javascript``
assertion raises `AssertionSkipped` naming the fix (install the extra, or use ``python``).

**Transforms** (test ``options.transform``, assertion ``transform``/``contextTransform``) are
Python here, where promptfoo's are JavaScript: an expression over ``output`` and
``context`` (``json.loads(output)["answer"]``), a function body, or ``file://x.py:fn``
(default ``get_transform``). A transform that looks like JavaScript fails with an error
saying so. ``file://x.js`` transforms run in the JavaScript engine.

Return contract (promptfoo's): ``bool`` -> pass/fail, score 1/0; a finite number -> the
score (not clamped), pass when ``n > 0``, or ``n >= threshold`` when the assertion has one;
a dict or `GradingResult` with ``pass``, ``score``, ``reason``, ``named_scores`` (snake or
camel case; ``score`` defaults to 1/0 of ``pass``) -- a ``threshold`` also fails it when
``score < threshold``; the strings ``"true"``/``"false"``, a JSON object string or a numeric
string are parsed. Anything else is an error. ``not-`` flips ``pass``; numbers keep their
score. An exception fails the assertion with ``"Python code execution failed: ..."``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import numbers
import re
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .base import (
    AssertionCall,
    AssertionConfigError,
    AssertionContext,
    AssertionSkipped,
    BuiltinHandler,
    GradingResult,
)
from .scoring import format_number

PASSED = "Assertion passed"

JS_ENGINE_HINT = (
    "javascript assertions need the optional embedded JavaScript engine: "
    "pip install 'pytest-cfgateway[js]' (installs dukpy>=0.6, a QuickJS build). "
    "Alternatively rewrite the check as a `python` assertion: it takes the same "
    "(output, context) arguments and return values."
)

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
            return _from_object(parsed, inverse, threshold, source)
        match = re.match(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", result)
        if not match:
            raise ScriptResultError(_contract_message(source, result))
        return _from_number(float(match.group(0)), inverse, threshold, source, code)
    if isinstance(result, Mapping):
        return _from_object(dict(result), inverse, threshold, source)
    if isinstance(result, numbers.Real):
        value = float(result)
        if not math.isfinite(value):
            raise ScriptResultError(
                f"{source} returned a non-finite number ({result!r}); return a finite score, "
                "a boolean, or {pass, score, reason}."
            )
        return _from_number(value, inverse, threshold, source, code)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return _from_object(dataclasses.asdict(result), inverse, threshold, source)
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


def _from_object(
    obj: dict[str, Any], inverse: bool, threshold: float | None, source: str
) -> GradingResult:
    raw_pass = _pick(obj, "pass", "pass_", "passed")
    if not isinstance(raw_pass, bool):
        raise ScriptResultError(
            f"{source} returned an object without a boolean `pass`: "
            f"{json.dumps(obj, default=str)[:300]}. Return {{'pass': True/False, "
            "'score': 0..1, 'reason': '...'}."
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

_SCRIPT_GLOBALS: dict[str, Any] = {"json": json, "re": re, "math": math}
_module_cache: dict[tuple[str, int], types.ModuleType] = {}
_module_lock = threading.Lock()


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


def compile_python(code: str, *, label: str, params: str = "output, context") -> Callable[..., Any]:
    """Compile inline Python into a ``main(output, context)`` function."""
    source = build_python_source(code, params=params)
    namespace: dict[str, Any] = dict(_SCRIPT_GLOBALS)
    compiled = compile(source, f"<{label}>", "exec")
    exec(compiled, namespace)
    fn: Callable[..., Any] = namespace["main"]
    return fn


def load_python_function(path: Path, name: str) -> Callable[..., Any]:
    """Import ``path`` (cached per file version) and return its function ``name``."""
    if not path.is_file():
        raise AssertionConfigError(
            f"Python file not found: {path}. Fix: make the `file://` path relative to the "
            "config file's directory (or absolute)."
        )
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    with _module_lock:
        module = _module_cache.get(key)
        if module is None:
            digest = hashlib.sha1(key[0].encode()).hexdigest()[:12]
            mod_name = f"_cfgateway_user_{path.stem}_{digest}"
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise AssertionConfigError(f"Cannot import Python file {path}")
            module = importlib.util.module_from_spec(spec)
            parent = str(path.resolve().parent)
            added = parent not in sys.path
            if added:
                sys.path.insert(0, parent)
            try:
                spec.loader.exec_module(module)
            finally:
                if added and parent in sys.path:
                    sys.path.remove(parent)
            _module_cache[key] = module
    fn = getattr(module, name, None)
    if not callable(fn):
        available = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise AssertionConfigError(
            f"{path} has no function {name!r} (functions there: {', '.join(available) or 'none'})."
            f" Fix: define `def {name}(output, context):` or name the function with "
            f"`file://{path.name}:<function>`."
        )
    return fn  # type: ignore[no-any-return]


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; await the result when it is awaitable."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def run_python_value(
    value: str, output: Any, context: AssertionContext, spec: Any, *, default_fn: str
) -> Any:
    """Run inline code or a ``file://`` function and return what it returned."""
    ctx = script_context(context, spec)
    if is_file_ref(value):
        path_text, fn_name = parse_file_ref(value)
        fn = load_python_function(resolve_path(path_text, context.base_dir), fn_name or default_fn)
        return await call_maybe_async(fn, output, ctx)
    label = _spec_field(spec, "key_path") or "python assertion"
    fn = compile_python(value, label=str(label))
    return await call_maybe_async(fn, output, ctx)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


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
    except AssertionConfigError:
        raise
    except Exception as exc:
        return GradingResult(
            passed=False, score=0.0, reason=f"Python code execution failed: {_error_text(exc)}"
        )


# --- JavaScript ---------------------------------------------------------------------------


def js_engine() -> Any:
    """The ``dukpy`` module (QuickJS-backed, >= 0.6), or `AssertionSkipped` naming the fix."""
    try:
        dukpy = importlib.import_module("dukpy")
    except ImportError as exc:
        raise AssertionSkipped(JS_ENGINE_HINT) from exc
    try:
        from importlib.metadata import version

        major_minor = tuple(int(p) for p in version("dukpy").split(".")[:2])
    except (ValueError, ImportError, LookupError):
        major_minor = (0, 0)
    if major_minor < (0, 6):
        raise AssertionSkipped(
            "the installed dukpy is older than 0.6 (Duktape, ES5 only); " + JS_ENGINE_HINT
        )
    return dukpy


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
    """promptfoo's inline JS rules, producing a function body."""
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


_JS_SETTLE = """
var __cf_out = %s;
if (__cf_out && typeof __cf_out.then === 'function') {
  __cf_out.then(
    function (v) { globalThis.__cf_result = {kind: typeof v, value: v === undefined ? null : v}; },
    function (e) { globalThis.__cf_result = {error: String((e && e.stack) || e)}; });
} else {
  globalThis.__cf_result = {kind: typeof __cf_out, value: __cf_out === undefined ? null : __cf_out};
}
null;
"""


class JsError(Exception):
    """JavaScript threw, or returned something that cannot cross to Python."""


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_js(code_or_ref: str, output: Any, ctx: Mapping[str, Any], *, base_dir: Path) -> Any:
    """Run inline JS or a ``file://x.js[:fn]`` function with ``(output, context)``."""
    dukpy = js_engine()
    interp = dukpy.JSInterpreter()
    kwargs = {"output": _json_safe(output), "context": _json_safe(dict(ctx))}
    try:
        if is_file_ref(code_or_ref):
            path_text, fn_name = parse_file_ref(code_or_ref)
            path = resolve_path(path_text, base_dir)
            if not path.is_file():
                raise AssertionConfigError(
                    f"JavaScript file not found: {path}. Fix: make the `file://` path relative "
                    "to the config file's directory (or absolute)."
                )
            target = json.dumps(path.resolve().as_posix())
            try:
                interp.evaljs(f"globalThis.__cf_mod = require({target}); null;")
            except dukpy.JSRuntimeError as exc:
                if "ES modules" not in str(exc) or not hasattr(interp, "_evaljs_module"):
                    raise
                interp._evaljs_module(
                    f"import * as m from {target}; globalThis.__cf_mod = m;",
                    module_name="cfgateway-entry.mjs",
                )
            pick = json.dumps(fn_name) if fn_name else "null"
            kind = interp.evaljs(
                "var __m = globalThis.__cf_mod; var __n = " + pick + ";"
                "globalThis.__cf_fn = __n ? (__m && __m[__n]) : (typeof __m === 'function' ? "
                "__m : (__m && typeof __m.default === 'function' ? __m.default : "
                "(__m && __m.default && typeof __m.default.default === 'function' ? "
                "__m.default.default : undefined))); typeof globalThis.__cf_fn"
            )
            if kind != "function":
                what = f"function {fn_name!r}" if fn_name else "a default export function"
                raise AssertionConfigError(
                    f"{path} does not export {what}. Fix: `module.exports = (output, context) "
                    "=> ...`, `export default function`, or name it with `file://x.js:fn`."
                )
            call = "globalThis.__cf_fn(dukpy.output, dukpy.context)"
        else:
            body = build_js_body(code_or_ref)
            call = f"(function (output, context) {{\n{body}\n}})(dukpy.output, dukpy.context)"
        interp.evaljs(_JS_SETTLE % call, **kwargs)
        settled = interp.evaljs("globalThis.__cf_result === undefined ? null : __cf_result")
    except dukpy.JSRuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise JsError(first[0] if first else "JavaScript error") from exc
    if settled is None:
        raise JsError("the returned promise never settled")
    if "error" in settled:
        raise JsError(str(settled["error"]).splitlines()[0])
    if settled.get("kind") in ("undefined", "function", "symbol"):
        raise JsError(
            f"returned {settled.get('kind')}; return a boolean, a number or "
            "{pass, score, reason} (a multi-line script must `return`)"
        )
    return settled.get("value")


async def handle_javascript(call: AssertionCall) -> GradingResult:
    """The ``javascript`` assertion (embedded QuickJS via dukpy, or a skip)."""
    value = call.value
    if not isinstance(value, str) or not value.strip():
        raise AssertionConfigError(
            '"javascript" assertion needs code in `value` (e.g. `output.length > 10`) or '
            "`file://check.js:fn`."
        )
    js_engine()  # raises AssertionSkipped when unavailable
    ctx = script_context(call.context, call.spec)
    try:
        raw = run_js(value, call.output, ctx, base_dir=call.context.base_dir)
        return normalize_script_result(
            raw,
            inverse=call.inverse,
            threshold=call.threshold,
            source="Custom function",
            code=None if is_file_ref(value) else value,
        )
    except (AssertionConfigError, AssertionSkipped):
        raise
    except JsError as exc:
        return GradingResult(passed=False, score=0.0, reason=f"Custom function threw error: {exc}")
    except ScriptResultError as exc:
        return GradingResult(passed=False, score=0.0, reason=f"Custom function failed: {exc}")


# --- transforms ---------------------------------------------------------------------------

_JS_HINTS = re.compile(
    r"=>|===|!==|\bJSON\.(parse|stringify)\b|^\s*(const|let|var|function)\b|\.length\b|"
    r"\.(toUpperCase|toLowerCase|trim|includes|startsWith|endsWith)\(|\bnull\b|\bundefined\b|"
    r"&&|\|\||\bMath\.",
    re.MULTILINE,
)
_JS_NAMES = frozenset({"JSON", "Math", "undefined", "null", "true", "false", "console"})


def looks_like_javascript(code: str) -> bool:
    """Heuristic: does this transform look like promptfoo's JavaScript?"""
    return bool(_JS_HINTS.search(code))


def _js_transform_error(code: str, what: str, detail: str) -> TransformError:
    return TransformError(
        f"{what} `{code.strip()[:200]}` looks like JavaScript ({detail}). pytest-cfgateway "
        "runs transforms as Python over `output` and `context`: e.g. "
        "`json.loads(output)['answer']` for `JSON.parse(output).answer`, "
        "`output.upper()` for `output.toUpperCase()`, `len(output)` for `output.length`. "
        "A JavaScript file transform can be kept as `file://transform.js`."
    )


async def apply_transform(
    code: Any,
    output: Any,
    context: AssertionContext,
    *,
    spec: Any = None,
    what: str = "transform",
) -> Any:
    """Run a Python transform over ``output`` (see the module docstring)."""
    if code is None or (isinstance(code, str) and not code.strip()):
        return output
    if not isinstance(code, str):
        raise TransformError(f"{what} must be a string of Python code; got {type(code).__name__}")
    ctx = script_context(context, spec)
    if is_file_ref(code):
        path_text, fn_name = parse_file_ref(code)
        path = resolve_path(path_text, context.base_dir)
        if path.suffix in JS_SUFFIXES:
            try:
                return run_js(code, output, ctx, base_dir=context.base_dir)
            except JsError as exc:
                raise TransformError(f"{what} {code} failed: {exc}") from exc
        fn = load_python_function(path, fn_name or "get_transform")
        try:
            return await call_maybe_async(fn, output, ctx)
        except Exception as exc:
            raise TransformError(f"{what} {code} failed: {_error_text(exc)}") from exc
    try:
        fn = compile_python(code, label=what)
    except SyntaxError as exc:
        if looks_like_javascript(code):
            raise _js_transform_error(code, what, "it is not valid Python") from exc
        raise TransformError(f"{what} `{code.strip()[:200]}` is not valid Python: {exc}") from exc
    try:
        return await call_maybe_async(fn, output, ctx)
    except NameError as exc:
        if exc.name in _JS_NAMES or looks_like_javascript(code):
            raise _js_transform_error(code, what, f"NameError: {exc}") from exc
        raise TransformError(f"{what} `{code.strip()[:200]}` failed: {_error_text(exc)}") from exc
    except AttributeError as exc:
        if looks_like_javascript(code):
            raise _js_transform_error(code, what, f"AttributeError: {exc}") from exc
        raise TransformError(f"{what} `{code.strip()[:200]}` failed: {_error_text(exc)}") from exc
    except Exception as exc:
        raise TransformError(f"{what} `{code.strip()[:200]}` failed: {_error_text(exc)}") from exc


HANDLERS: dict[str, BuiltinHandler] = {
    "python": handle_python,
    "javascript": handle_javascript,
}
