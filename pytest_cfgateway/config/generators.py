"""Test generators (``tests: file://gen.py:fn``, ``file://gen.js[:fn]``, ``{path, config}``).

promptfoo runs the generator when it loads the config, so the rows it returns decide the
matrix: pytest-cfgateway does the same at collection, outside the pytest process (the user's
code cannot end, wedge or change it) with a time limit.

- Python: a child Python process run in the file's folder; the function (default
  ``generate_tests``) gets ``config`` as its one argument when one is given (promptfoo's
  call) and returns a list of test-case mappings as JSON-able data.
- JavaScript (``.js``, ``.cjs``, ``.mjs``): the user-code executor's QuickJS, as promptfoo's
  ``readJavascriptTestCases``: the module's default export (or the module, or its export
  ``fn``); a function is called with ``config`` (and may return a promise), any other value
  is the tests themselves (``export default [...]``).
- TypeScript: refused with a named error (no compiler).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .errors import Ctx

#: Seconds a generator may run (promptfoo has no limit; collection must not hang).
GENERATOR_TIMEOUT_S = 120.0
DEFAULT_FUNCTION = "generate_tests"

_RUNNER = r"""
import importlib.util, json, sys
path, name, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, __import__("os").path.dirname(path))
spec = importlib.util.spec_from_file_location("_cfgateway_test_generator", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
fn = getattr(module, name, None)
if not callable(fn):
    sys.stderr.write(f"{path} has no function {name!r}\n")
    sys.exit(3)
result = fn(*args)
out = json.dumps(result, ensure_ascii=False, default=str)
sys.stdout.write("\n@@cfgateway-tests@@" + out)
"""


#: TypeScript generators would need a compiler
_TS_SUFFIXES = (".ts", ".cts", ".mts", ".tsx", ".jsx")
_JS_SUFFIXES = (".js", ".cjs", ".mjs")


def run_generator(path: Path, function: str | None, config: Any, ctx: Ctx) -> list[Any]:
    """The test cases a generator file returns (a ConfigError naming it when it fails)."""
    suffix = path.suffix.lower()
    if suffix == ".py":
        return run_python_generator(path, function, config, ctx)
    if suffix in _JS_SUFFIXES:
        return run_js_generator(path, function, config, ctx)
    where = path.name + (f":{function}" if function else "")
    if suffix in _TS_SUFFIXES:
        raise ctx.error(
            f"TypeScript test generators ({where}) are not supported by pytest-cfgateway "
            "(it has no TypeScript compiler)",
            "compile the generator to .js, write it in Python (file://gen.py:generate_tests), "
            "or write its tests to a YAML or CSV file",
        )
    raise ctx.error(
        f"test generator {where} is neither Python nor JavaScript",
        "use a .py, .js, .cjs or .mjs file",
    )


def run_js_generator(path: Path, function: str | None, config: Any, ctx: Ctx) -> list[Any]:
    """The test cases a JavaScript generator returns (user-code executor, time limit)."""
    from .. import usercode

    where = f"test generator {path.name}" + (f":{function}" if function else "")
    # promptfoo calls the function with its config, undefined when none is given
    args = [] if config is None else [config]
    try:
        result = usercode.run(
            usercode.js_value(path, function, args, label=where), timeout=GENERATOR_TIMEOUT_S
        )
    except usercode.UserCodeRaised as exc:
        raise ctx.error(
            f"{where} failed: {exc.type_name}: {exc.message[:500]}", "fix the generator"
        ) from None
    except usercode.UserCodeError as exc:
        raise ctx.error(
            f"{where} failed: {exc.message[:500]}",
            "make the generator faster, or write its tests to a YAML/CSV file",
        ) from None
    if not isinstance(result, list):
        raise ctx.error(
            f"{where} must give a list of test cases, got {usercode.describe_js(result)[:100]}",
            "export (or return) e.g. [{vars: {...}, assert: [...]}]",
        )
    return result


def run_python_generator(path: Path, function: str | None, config: Any, ctx: Ctx) -> list[Any]:
    """The test cases a Python generator returns (a ConfigError naming it when it fails)."""
    name = function or DEFAULT_FUNCTION
    args = [] if config is None else [config]
    where = f"test generator {path.name}:{name}"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(path), name, json.dumps(args, default=str)],
            capture_output=True,
            text=True,
            timeout=GENERATOR_TIMEOUT_S,
            cwd=path.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ctx.error(
            f"{where} ran longer than {GENERATOR_TIMEOUT_S:.0f} s",
            "make the generator faster, or write its tests to a YAML/CSV file",
        ) from None
    except (OSError, ValueError) as exc:
        raise ctx.error(f"{where} could not start: {exc}", "check the file") from None
    marker = "\n@@cfgateway-tests@@"
    if proc.returncode != 0 or marker not in proc.stdout:
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ctx.error(f"{where} failed: {detail[:500]}", "fix the generator function")
    try:
        result = json.loads(proc.stdout.rsplit(marker, 1)[1])
    except ValueError as exc:
        raise ctx.error(f"{where} returned no JSON data: {exc}", "return a list of dicts") from None
    if not isinstance(result, list):
        raise ctx.error(
            f"{where} must return a list of test cases, got {type(result).__name__}",
            "return e.g. [{'vars': {...}, 'assert': [...]}]",
        )
    return result
