"""Transforms, as promptfoo 0.123.1 runs them: JavaScript unless written otherwise.

Where: test ``options.transform`` (and its old name ``postprocess``), assertion
``transform``, ``contextTransform``, ``options.transformVars`` and provider ``transform``.
Every form runs in the user-code executor (`pytest_cfgateway.usercode`), under the case's
``evaluateOptions.timeoutMs`` (else the executor's default limit).

- **Inline code is JavaScript**, exactly as promptfoo builds it: ``new Function(<input>,
  "context", "process", body)`` where ``<input>`` is ``output`` (``vars`` for
  ``transformVars``) and ``body`` is ``return <code>`` when the code is one line, else the
  code itself (a multi-line transform must ``return``; note that a YAML ``|`` block ends with
  a newline, so even a one-line block is a function body). ``context`` holds ``vars``,
  ``prompt`` and ``metadata``; ``process`` gives ``process.env``.
  ``output.replace('a', 'x')`` replaces the first match only, as in JavaScript.
- **Inline Python needs the ``python:`` marker** (promptfoo has no inline Python transform,
  so the marker is ours): ``python: json.loads(output)['answer']``. After the marker, one
  line is an expression and several lines are the body of ``def main(output, context)``
  (``json``, ``re``, ``math`` imported). Nothing is ever guessed: code without the marker
  runs as JavaScript, and when it fails there but reads as Python, the error says to add
  ``python:``.
- **Files**: ``file://x.js[:fn]`` (``.js``, ``.cjs``, ``.mjs``: the named export, else the
  module's function or default export) and ``file://x.py[:fn]`` (default ``get_transform``),
  called with ``(output, context)``.

A transform returning ``null``/``undefined`` (Python ``None``) is an error ("Transform
function did not return a value"), as in promptfoo. JavaScript ``NaN``/``Infinity`` come
back as Python floats; a returned function or symbol is an error.
"""

from __future__ import annotations

import builtins
import re
import uuid
from pathlib import Path
from typing import Any

from .. import usercode
from .base import AssertionContext
from .scripts import (
    JS_SUFFIXES,
    TransformError,
    build_python_source,
    code_label,
    is_file_ref,
    json_safe,
    missing_function,
    parse_file_ref,
    python_file_path,
    resolve_path,
)

#: The prefix that marks an inline transform as Python.
PYTHON_MARKER = "python:"
#: str/dict methods Python has and JavaScript strings/objects have not
_PYTHON_ONLY_METHODS = frozenset(
    {
        "upper",
        "lower",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "items",
        "get",
        "format",
        "title",
        "capitalize",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "splitlines",
        "casefold",
        "removeprefix",
        "removesuffix",
    }
)
_PYTHON_NAMES = frozenset({"json", "re", "math", *dir(builtins)})


def transform_context(context: AssertionContext) -> dict[str, Any]:
    """promptfoo's transform context: ``vars``, ``prompt`` and (when any) ``metadata``."""
    ctx: dict[str, Any] = {
        "vars": dict(context.vars),
        "prompt": {"raw": context.prompt, "label": context.prompt},
    }
    if context.metadata:
        ctx["metadata"] = dict(context.metadata)
    return ctx


def python_marked(code: str) -> str | None:
    """The Python code after a ``python:`` marker, or None when the code has none."""
    stripped = code.lstrip()
    if stripped.startswith(PYTHON_MARKER):
        return stripped[len(PYTHON_MARKER) :].strip("\n").strip(" \t") or None
    return None


def js_transform_body(code: str) -> str:
    """promptfoo's inline body: ``return <code>`` for one line, the code itself otherwise."""
    return code if "\n" in code else f"return {code}"


def reads_as_python(code: str, input_name: str = "output") -> bool:
    """True when ``code`` compiles as a Python transform (expression or function body)."""
    try:
        compile(build_python_source(code, params=f"{input_name}, context"), "<t>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def python_hint_applies(code: str, error_type: str, message: str, input_name: str) -> bool:
    """Whether a JavaScript failure looks like Python written without the ``python:`` marker:
    the code compiles as Python, and JavaScript stumbled on something Python-only (a syntax
    error, an unknown name that Python has built in, or a Python-only method)."""
    if not reads_as_python(code, input_name):
        return False
    if error_type == "SyntaxError":
        return message.endswith("(the code does not parse as JavaScript)")
    if error_type == "ReferenceError":
        name = re.match(r"'?([\w$]+)'? is not defined", message)
        return bool(name) and name.group(1) in _PYTHON_NAMES  # type: ignore[union-attr]
    if error_type == "TypeError" and "not a function" in message:
        called = set(re.findall(r"\.(\w+)\s*\(", code))
        return bool(called & _PYTHON_ONLY_METHODS)
    return False


async def apply_transform(
    code: Any,
    output: Any,
    context: AssertionContext,
    *,
    spec: Any = None,
    what: str = "transform",
    input_name: str = "output",
    ctx: dict[str, Any] | None = None,
) -> Any:
    """Run a transform over ``output`` (see the module docstring) and return its result.

    Errors: `TransformError` (an item error naming the transform) when it cannot run, raises
    or returns nothing; `usercode.UserCodeAborted` when it times out or ends its worker.
    ``spec`` is accepted for callers that pass the assertion (unused: promptfoo gives
    transforms the same context whichever assertion they belong to).
    """
    del spec
    if code is None or (isinstance(code, str) and not code.strip()):
        return output
    request = _request(code, output, context, what, input_name, ctx)
    try:
        result = await usercode.arun(request, timeout=context.timeout_s)
    except usercode.UserCodeRaised as exc:
        raise _failure(code, what, exc, input_name) from None
    return _checked(code, request.label, result)


def apply_transform_sync(
    code: Any,
    output: Any,
    context: AssertionContext,
    *,
    what: str = "transform",
    input_name: str = "output",
    ctx: dict[str, Any] | None = None,
) -> Any:
    """`apply_transform` for code that is not on an event loop (``transformVars``)."""
    if code is None or (isinstance(code, str) and not code.strip()):
        return output
    request = _request(code, output, context, what, input_name, ctx)
    try:
        result = usercode.run(request, timeout=context.timeout_s)
    except usercode.UserCodeRaised as exc:
        raise _failure(code, what, exc, input_name) from None
    return _checked(code, request.label, result)


def _request(
    code: Any,
    output: Any,
    context: AssertionContext,
    what: str,
    input_name: str,
    ctx: dict[str, Any] | None,
) -> usercode.Request:
    if not isinstance(code, str):
        raise TransformError(
            f"{what} must be a string (JavaScript, `python: ...` or file://...); "
            f"got {type(code).__name__}"
        )
    args = [json_safe(output), json_safe(transform_context(context) if ctx is None else ctx)]
    if is_file_ref(code):
        return _file_request(code, args, context.base_dir, what)
    py = python_marked(code)
    if py is not None:
        source = build_python_source(py, params=f"{input_name}, context")
        label = code_label(f"{what} (Python)", py)
        return usercode.python_source(source, "main", args, label=label)
    return usercode.js_body(
        js_transform_body(code),
        (input_name, "context", "process"),
        args,
        label=code_label(what, code),
    )


def _checked(code: str, label: str, result: Any) -> Any:
    if result is None or result is usercode.JS_UNDEFINED:
        hint = ""
        if not is_file_ref(code) and python_marked(code) is None and "\n" in code:
            hint = (
                "; a multi-line JavaScript transform is a function body: end it with "
                "`return ...` (a YAML `|` block is multi-line too)"
            )
        raise TransformError(
            f"{label} did not return a value (it gave {usercode.describe_js(result)}){hint}"
        )
    if isinstance(result, usercode.JsSpecial):
        raise TransformError(f"{label} returned a {result.kind}, which is not a value to use")
    return result


def _file_request(code: str, args: list[Any], base_dir: Path, what: str) -> usercode.Request:
    path_text, fn_name = parse_file_ref(code)
    path = resolve_path(path_text, base_dir)
    label = f"{what} {code}"
    if path.suffix.lower() in JS_SUFFIXES:
        if not path.is_file():
            raise TransformError(
                f"{what}: JavaScript file not found: {path}. Fix: make the `file://` path "
                "relative to the config file's directory (or absolute)."
            )
        return usercode.js_file(path, fn_name, args, label=label, fallback=True)
    if path.suffix.lower() == ".py":
        path = python_file_path(code, base_dir, what=what)
        return usercode.python_file(path, fn_name or "get_transform", args, label=label)
    raise TransformError(
        f"{what}: unsupported transform file format {code} (use .js, .cjs, .mjs or .py)"
    )


def _failure(code: str, what: str, exc: usercode.UserCodeRaised, input_name: str) -> TransformError:
    error = f"{exc.type_name}: {exc.message}" if exc.type_name else exc.message
    if is_file_ref(code):
        missing = missing_function(exc, code)
        if missing is not None:
            return TransformError(f"{what} {code}: {missing}")
        return TransformError(f"{what} {code} failed: {error}")
    py = python_marked(code)
    if py is not None:
        return TransformError(f"{code_label(what + ' (Python)', py)} failed: {error}")
    text = f"{code_label(what, code)} failed as JavaScript: {error}"
    if python_hint_applies(code, exc.type_name, exc.message, input_name):
        text += (
            ". It reads as Python: inline transforms are JavaScript, as in promptfoo; to run "
            f"it as Python, mark it: `python: {code.strip()}`"
        )
    return TransformError(text)


def new_transform_vars_context() -> dict[str, Any]:
    """promptfoo's context for ``transformVars``: an empty prompt and a fresh uuid."""
    return {"prompt": {}, "uuid": str(uuid.uuid4())}
