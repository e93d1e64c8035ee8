"""promptfoo's ``extensions``: hook functions run around an eval (beforeAll, beforeEach,
afterEach, afterAll), as promptfoo 0.123.1's ``runExtensionHook`` runs them.

An extension is a string ``file://path.py[:fn]`` or ``file://path.js[:fn]`` (``.cjs``,
``.mjs``). When ``fn`` is one of the hook names (``file://hooks.js:beforeAll``) it runs for
that hook only and is called ``fn(context, {hookName})``; otherwise it runs for every hook
and is called ``fn(hookName, context)`` (Python's default function is ``get_transform``, a
JavaScript file's the function it exports, or its default export). Functions run in the
user-code executor (``pytest_cfgateway.usercode``: a worker process, a time limit), with the
context as JSON. TypeScript files are refused with a named error (no compiler).

What a hook's return value may change, as in promptfoo:

- ``beforeAll`` (``{suite}``): the suite's ``tests``, ``defaultTest``, ``scenarios`` and
  ``prompts`` (its ``providers`` and ``description`` are not read back);
- ``beforeEach`` (``{test}``): the test of one item (its ``vars``, ``assert``, ``options``,
  ``metadata``, ``threshold``);
- ``afterEach`` / ``afterAll``: nothing pytest-cfgateway reports (promptfoo merges
  ``namedScores``/``metadata`` of afterEach into the stored row; our records keep the verdict).

Pure: no pytest. `run_hook` raises `ExtensionHookError` naming the hook and the extension.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .cases import AssertionSpec
from .errors import Ctx
from .files import Session, strip_file_prefix
from .providers import type_name

HOOK_NAMES = ("beforeAll", "beforeEach", "afterEach", "afterAll")
PYTHON_DEFAULT_FUNCTION = "get_transform"  # promptfoo's default for Python transform files
_JS_SUFFIXES = (".js", ".cjs", ".mjs")
_TS_SUFFIXES = (".ts", ".cts", ".mts", ".tsx", ".jsx")


class ExtensionHookError(RuntimeError):
    """An extension hook failed (raised, timed out, returned something unusable)."""


@dataclasses.dataclass(frozen=True)
class Extension:
    """One entry of ``extensions``."""

    ref: str  # as written: "file://hooks.py:extension_hook"
    path: str  # absolute path of the file
    function: str | None  # the function named after the last ':' (None: the default)
    lang: str  # "python" | "javascript"

    @property
    def hook(self) -> str | None:
        """The one hook this extension runs for (``file://x.js:beforeAll``), else None."""
        return self.function if self.function in HOOK_NAMES else None

    def runs_for(self, hook_name: str) -> bool:
        return self.hook is None or self.hook == hook_name

    @property
    def label(self) -> str:
        name = Path(self.path).name
        return f"{name}:{self.function}" if self.function else name


def parse_extensions(value: Any, ctx: Ctx, session: Session) -> tuple[Extension, ...]:
    """The ``extensions`` list -> Extensions (files checked to exist)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.error(
            f"'extensions' must be a list of file://path:function strings, got {type_name(value)}",
            "write e.g. 'extensions: [file://hooks.py:extension_hook]'",
        )
    out = []
    for i, ref in enumerate(value):
        ictx = ctx.at(i)
        if not isinstance(ref, str) or not ref.startswith("file://"):
            raise ictx.error(
                f"an extension must be a 'file://path:function' string, got {ref!r}",
                "write e.g. 'file://hooks.py:extension_hook' or 'file://hooks.js:beforeAll'",
            )
        body = strip_file_prefix(ref)
        # promptfoo splits at the last ':' that is not a drive letter's
        colon = body.rfind(":")
        path_text, fn = (body[:colon], body[colon + 1 :] or None) if colon > 1 else (body, None)
        suffix = Path(path_text).suffix.lower()
        if suffix in _TS_SUFFIXES:
            raise ictx.error(
                f"TypeScript extension hooks ({ref!r}) are not supported by pytest-cfgateway "
                "(it has no TypeScript compiler)",
                "compile the hook file to .js (or write it in Python) and point at that file",
            )
        if suffix != ".py" and suffix not in _JS_SUFFIXES:
            raise ictx.error(
                f"extension {ref!r} is neither a Python nor a JavaScript file "
                "(promptfoo: 'Unsupported transform file format')",
                "point it at a .py, .js, .cjs or .mjs file",
            )
        path = session.require_file(path_text, ictx, "extension file")
        lang = "python" if suffix == ".py" else "javascript"
        out.append(Extension(ref, str(path.resolve()), fn, lang))
    return tuple(out)


def needs(extensions: Sequence[Extension], hook_name: str) -> bool:
    """Whether any extension runs for ``hook_name``."""
    return any(e.runs_for(hook_name) for e in extensions)


def call_hook(
    ext: Extension, hook_name: str, context: dict[str, Any], timeout: float | None
) -> Any:
    """Run one extension for ``hook_name``; its return value (None when it returned none)."""
    from .. import usercode

    if ext.hook is not None:
        args: list[Any] = [context, {"hookName": hook_name}]
    else:
        args = [hook_name, context]
    label = f"extension hook {hook_name!r} ({ext.label})"
    if ext.lang == "python":
        request = usercode.python_file(
            ext.path, ext.function or PYTHON_DEFAULT_FUNCTION, args, label=label
        )
    else:
        request = usercode.js_file(ext.path, ext.function, args, label=label)
    try:
        value = usercode.run(request, timeout=timeout)
    except usercode.UserCodeRaised as exc:
        raise ExtensionHookError(
            f'Extension hook "{hook_name}" failed for {ext.ref}: {exc.type_name}: {exc.message}'
        ) from None
    except usercode.UserCodeError as exc:  # timed out, exited, crashed, bad arguments
        raise ExtensionHookError(
            f'Extension hook "{hook_name}" failed for {ext.ref}: {exc.message}'
        ) from None
    if isinstance(value, usercode.JsSpecial):
        return None  # undefined: the hook changes nothing
    return value


def run_hook(
    extensions: Sequence[Extension],
    hook_name: str,
    context: dict[str, Any],
    timeout: float | None = None,
) -> dict[str, Any]:
    """promptfoo's ``runExtensionHook``: every extension that runs for ``hook_name``, in
    order, each given the context the previous one left; the context after all of them."""
    current = dict(context)
    for ext in extensions:
        if not ext.runs_for(hook_name):
            continue
        value = call_hook(ext, hook_name, current, timeout)
        if not value:
            continue
        if not isinstance(value, dict):
            raise ExtensionHookError(
                f'Extension hook "{hook_name}" of {ext.ref} returned {type_name(value)}; '
                f"return the context object (or nothing)"
            )
        if hook_name == "beforeAll":
            suite = value.get("suite")
            if not isinstance(suite, dict):
                raise ExtensionHookError(
                    f"Extension hook \"beforeAll\" of {ext.ref} returned no 'suite' mapping; "
                    "return the context it was given (with context.suite changed)"
                )
            merged = dict(current["suite"])
            for key in SUITE_KEYS_READ_BACK:
                merged[key] = suite.get(key)
            current = {"suite": merged}
        elif hook_name == "beforeEach":
            test = value.get("test")
            if not isinstance(test, dict):
                raise ExtensionHookError(
                    f"Extension hook \"beforeEach\" of {ext.ref} returned no 'test' mapping; "
                    "return the context it was given (with context.test changed)"
                )
            current = {"test": test}
    return current


#: the suite keys promptfoo takes from what a beforeAll hook returns (the others are kept)
SUITE_KEYS_READ_BACK = (
    "prompts",
    "providerPromptMap",
    "tests",
    "scenarios",
    "defaultTest",
    "nunjucksFilters",
    "derivedMetrics",
    "redteam",
)


# --- plain data of the config, as promptfoo hands it to hooks ---------------------------


def to_json(value: Any) -> Any:
    """``value`` as JSON data (parsed AssertionSpecs of CSV rows back to their mappings)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, AssertionSpec):
            return spec_to_raw(obj)
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON data")

    return json.loads(json.dumps(value, default=default, allow_nan=True))


def spec_to_raw(spec: AssertionSpec) -> dict[str, Any]:
    """An assertion as the mapping a config holds (for hooks that see tests)."""
    d: dict[str, Any] = {"type": spec.type}
    if spec.children:
        d["assert"] = [spec_to_raw(c) for c in spec.children]
    if spec.value is not None:
        d["value"] = spec.value
    if spec.threshold is not None:
        d["threshold"] = spec.threshold
    if spec.weight != 1.0:
        d["weight"] = spec.weight
    for key, val in (
        ("metric", spec.metric),
        ("provider", spec.provider),
        ("rubricPrompt", spec.rubric_prompt),
        ("transform", spec.transform),
        ("contextTransform", spec.context_transform),
    ):
        if val is not None:
            d[key] = val
    if spec.config:
        d["config"] = dict(spec.config)
    return d


def test_of_case(
    description: str,
    vars: Mapping[str, Any],
    asserts: Sequence[AssertionSpec],
    options: Mapping[str, Any],
    metadata: Mapping[str, Any],
    threshold: float | None,
) -> dict[str, Any]:
    """One item's test as promptfoo's beforeEach sees it (defaultTest merged in)."""
    test: dict[str, Any] = {
        "description": description,
        "vars": dict(vars),
        "assert": [spec_to_raw(a) for a in asserts],
        "options": dict(options),
        "metadata": dict(metadata),
    }
    if threshold is not None:
        test["threshold"] = threshold
    return to_json(test)  # type: ignore[no-any-return]


def hook_ctx(ext_label: str, hook_name: str, path: Path) -> Ctx:
    """Where data a hook returned came from, for messages about it."""
    from .errors import Source

    return Ctx(Source(path, {}, f"{ext_label} ({hook_name} hook result)"))
