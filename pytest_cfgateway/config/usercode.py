"""Running user Python (prompt functions, ``get_var`` loaders). Only ever called at run time."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_modules: dict[tuple[str, float], ModuleType] = {}


def load_module(path: Path) -> ModuleType:
    """Import a Python file by path (cached until the file changes)."""
    resolved = path.resolve()
    key = (str(resolved), resolved.stat().st_mtime)
    with _lock:
        if key in _modules:
            return _modules[key]
        name = f"_cfgateway_user_{abs(hash(key))}"
        spec = importlib.util.spec_from_file_location(name, resolved)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {resolved}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[key] = module
        return module


def get_function(path: Path, name: str) -> Callable[..., Any]:
    """``name`` from the Python file at ``path``; a clear error when it is missing."""
    module = load_module(path)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise AttributeError(f"{path.name} has no function {name!r}")
    return fn  # type: ignore[no-any-return]


def run_script(path: Path, payload: Any, timeout: float = 120.0) -> str:
    """Run a Python file as a script with ``payload`` as JSON in argv[1]; return its stdout."""
    proc = subprocess.run(
        [sys.executable, str(path), json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
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
