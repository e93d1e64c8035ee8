"""Running user Python at render time (prompt functions, ``get_var`` loaders).

Functions run in the user-code executor (`pytest_cfgateway.usercode`): a worker process,
under the case's ``evaluateOptions.timeoutMs`` (else the executor's default), so a prompt
function that hangs, exits or crashes is an error of its item, never of the session.
Arguments and results cross as JSON. Only ever called at run time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import usercode


def case_timeout_s(evaluate_options: Mapping[str, Any] | None) -> float | None:
    """``evaluateOptions.timeoutMs`` in seconds, or None for the executor's default."""
    timeout_ms = (evaluate_options or {}).get("timeoutMs") or 0
    return timeout_ms / 1000 if timeout_ms else None


def call_function(
    path: Path, name: str, args: Sequence[Any], *, timeout: float | None, what: str
) -> Any:
    """Call ``name`` of the Python file ``path`` with ``args`` in a user-code worker.

    Raises `usercode.UserCodeAborted` (time-out, exit, crash), `AttributeError` when the
    file has no such function, `RuntimeError` naming the exception the function raised.
    """
    label = f"{what} {path.name}:{name}"
    try:
        return usercode.run(usercode.python_file(path, name, args, label=label), timeout=timeout)
    except usercode.UserCodeRaised as exc:
        if exc.type_name == "LookupError" and "has no function" in exc.message:
            raise AttributeError(f"{path.name} has no function {name!r}") from None
        raise RuntimeError(f"{exc.type_name}: {exc.message}") from None


def run_script(path: Path, payload: Any, timeout: float | None = None) -> str:
    """Run a Python file as a script with ``payload`` as JSON in argv[1]; return its stdout."""
    limit = timeout or usercode.DEFAULT_TIMEOUT_S
    try:
        proc = subprocess.run(
            [sys.executable, str(path), json.dumps(payload)],
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise usercode.UserCodeTimeout(
            f"prompt script {path.name}", f"did not finish within {limit * 1000:.0f} ms"
        ) from None
    if proc.returncode != 0:
        raise RuntimeError(
            f"{path.name} exited with status {proc.returncode}: {proc.stderr.strip()[-500:]}"
        )
    return proc.stdout.rstrip("\n")


class UnsupportedUserCode(RuntimeError):
    """User code of a kind pytest-cfgateway cannot run: the item errors, naming it."""


#: TypeScript would need a compiler; refused per item with this reason.
TYPESCRIPT_EXTENSIONS = (".ts", ".cts", ".mts", ".tsx")


def _timeout(timeout_ms: Any) -> float | None:
    if isinstance(timeout_ms, int | float) and not isinstance(timeout_ms, bool) and timeout_ms > 0:
        return float(timeout_ms) / 1000
    return None


def call_prompt_function(
    path: Path, fn: str | None, context: dict[str, Any], timeout_ms: Any
) -> Any:
    """A ``file://prompt.js[:fn]`` prompt function, run by the user-code executor (JavaScript
    in a worker's QuickJS, under a time limit). Returns what the function returned."""
    from ..usercode import js_file, run

    suffix = path.suffix.lower()
    if suffix in TYPESCRIPT_EXTENSIONS:
        raise UnsupportedUserCode(
            f"TypeScript prompt functions ({path.name}) are not supported by pytest-cfgateway "
            "(no TypeScript compiler); compile it to .js or write it in Python"
        )
    label = f"prompt function {path.name}" + (f":{fn}" if fn else "")
    return run(js_file(path, fn, [context], label=label), timeout=_timeout(timeout_ms))


def call_js_var_loader(
    path: Path, fn: str | None, args: Sequence[Any], *, timeout: float | None, what: str
) -> Any:
    """A JavaScript var loader (``vars: {x: file://load.js}``), as promptfoo's renderPrompt
    calls it: the module's function ``(varName, prompt, vars, provider)`` must give
    ``{output}`` (or ``{error}``); the var becomes ``output``."""
    from ..usercode import js_file, run

    try:
        label = f"{what} {path.name}" + (f":{fn}" if fn else "")
        result = run(js_file(path, fn, list(args), label=label), timeout=timeout)
    except usercode.UserCodeRaised as exc:
        raise RuntimeError(f"{exc.type_name}: {exc.message}") from None
    if isinstance(result, dict) and result.get("error"):
        raise RuntimeError(f"Error running {path.name}: {result['error']}")
    if not isinstance(result, dict) or not result.get("output"):
        raise RuntimeError(
            f"expected {path.name} to return {{ output: string }} but got "
            f"{usercode.describe_js(result)[:200]}"
        )
    return result["output"]


def run_nunjucks_filter(name: str, path: str, value: Any, args: list[Any]) -> Any:
    """Run a ``nunjucksFilters`` JavaScript filter on ``value`` (user-code executor)."""
    from ..usercode import js_file, run

    target = Path(path)
    if target.suffix.lower() in TYPESCRIPT_EXTENSIONS:
        raise UnsupportedUserCode(
            f"custom Nunjucks filter {name!r} ({target.name}) is TypeScript, which "
            "pytest-cfgateway does not compile; write it as a .js file"
        )
    return run(js_file(target, None, [value, *args], label=f"nunjucks filter {name!r}"))
