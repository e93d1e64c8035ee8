"""Python test generators (``tests: file://gen.py:fn``, ``{path: file://gen.py:fn, config}``).

promptfoo runs the generator when it loads the config, so the rows it returns decide the
matrix: pytest-cfgateway does the same at collection, in a child Python process (the user's
code cannot end, wedge or change the pytest process) with a time limit. The generator gets
``config`` as its one argument when one is given (promptfoo's call), and returns a list of
test-case mappings as JSON-able data.
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
