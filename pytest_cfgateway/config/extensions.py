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
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from .cases import AssertionSpec, EvalCase, Extension
from .errors import ConfigWarning, Ctx
from .files import Session, strip_file_prefix
from .providers import type_name

HOOK_NAMES = ("beforeAll", "beforeEach", "afterEach", "afterAll")
PYTHON_DEFAULT_FUNCTION = "get_transform"  # promptfoo's default for Python transform files
_JS_SUFFIXES = (".js", ".cjs", ".mjs")
_TS_SUFFIXES = (".ts", ".cts", ".mts", ".tsx", ".jsx")


class ExtensionHookError(RuntimeError):
    """An extension hook failed (raised, timed out, returned something unusable)."""


class ExtensionHookWarning(ConfigWarning):
    """An afterEach or afterAll extension hook failed (the results are kept as they were)."""


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
            f'Extension hook "{hook_name}" failed for {ext.ref}: {exc.type_name}: {exc.message}. '
            f"Fix: make the hook handle this {_CONTEXT_OF.get(hook_name, 'context')}, or "
            "remove it from `extensions`"
        ) from None
    except usercode.UserCodeTimeout as exc:  # say which limit, and where it is set
        raise ExtensionHookError(
            f'Extension hook "{hook_name}" failed for {ext.ref}: {exc.message} (the limit is '
            "evaluateOptions.timeoutMs, else 30 s: make the hook faster or raise the limit)"
        ) from None
    except usercode.UserCodeError as exc:  # exited, crashed, bad arguments
        raise ExtensionHookError(
            f'Extension hook "{hook_name}" failed for {ext.ref}: {exc.message}'
        ) from None
    if isinstance(value, usercode.JsSpecial):
        return None  # undefined: the hook changes nothing
    return value


#: What each hook is given (for the fix of a hook that raised).
_CONTEXT_OF = {
    "beforeAll": "suite",
    "beforeEach": "test",
    "afterEach": "test and result",
    "afterAll": "run's results",
}


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
        return str(obj)  # a date YAML read, a Path: as text

    return json.loads(json.dumps(value, default=default, allow_nan=True, ensure_ascii=False))


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


def case_test_json(
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


# --- beforeAll at load time -------------------------------------------------------------

#: ``run_once(key, compute)``: compute's result, computed once per test run for ``key`` (the
#: plugin shares it between xdist workers, so every worker collects the same rows)
RunOnce = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]


def _direct(key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return compute()


def suite_key(config_path: Path) -> str:
    """The `RunOnce` key of a config's suite (after its beforeAll hooks)."""
    return f"suite\0{config_path.resolve()}"


def hand_suite(
    extensions: Sequence[Extension],
    suite: dict[str, Any],
    config_path: Path,
    timeout: float | None,
    run_once: RunOnce | None,
) -> dict[str, Any]:
    """The suite after the config's beforeAll hooks, run once per test run: ``{"suite":
    ...}``, or ``{"error": message}`` when a hook failed (every process reports the same)."""
    plain_suite = to_json(suite)

    def compute() -> dict[str, Any]:
        entry: dict[str, Any] = {
            "extensions": [dataclasses.asdict(e) for e in extensions],
            "timeout": timeout,
        }
        if not needs(extensions, "beforeAll"):
            return {**entry, "suite": _storable(plain_suite)}
        try:
            after = run_hook(extensions, "beforeAll", {"suite": plain_suite}, timeout)
            return {**entry, "suite": _storable(to_json(after["suite"]))}
        except (ExtensionHookError, TypeError, ValueError) as exc:
            return {**entry, "error": str(exc)}

    return (run_once or _direct)(suite_key(config_path), compute)


def _storable(suite: dict[str, Any]) -> dict[str, Any]:
    """The suite as the run keeps it (under xdist in a file that workers read): providers
    without their ``config``, which may hold keys (promptfoo does not read providers back
    from a hook; afterAll hooks see ``{id, label}``)."""
    providers = suite.get("providers")
    if isinstance(providers, list):
        suite = {
            **suite,
            "providers": [
                {k: p[k] for k in ("id", "label") if k in p} if isinstance(p, dict) else p
                for p in providers
            ],
        }
    return suite


def changed_items(
    sent: Sequence[Any], returned: Any, originals: Sequence[Any], fresh: Callable[[int, Any], Any]
) -> list[Any]:
    """Items of a list a hook returned: where the hook left the item as it was sent, the
    original (which keeps its source lines); otherwise ``fresh(i, item)``."""
    out = []
    for i, item in enumerate(returned):
        if i < len(sent) and item == sent[i]:
            out.append(originals[i])
        else:
            out.append(fresh(i, item))
    return out


# --- beforeEach -------------------------------------------------------------------------


def apply_test(
    case: EvalCase,
    test: dict[str, Any],
    sent: dict[str, Any],
    extra_types: Collection[str],
    env: Mapping[str, str],
) -> EvalCase:
    """The case with what its beforeEach hooks changed in its test (vars, assert, options,
    metadata, threshold, description); assertions the hooks added or changed are validated
    like the config's (errors name the hook)."""
    if test == sent:
        return case
    from .assertions import parse_assertion
    from .files import Session

    hooks = [e for e in case.extensions if e.runs_for("beforeEach")]
    hctx = hook_ctx(
        ", ".join(e.label for e in hooks) or "extensions",
        "beforeEach",
        Path(hooks[-1].path) if hooks else case.config_path,
    )
    session = Session(config_path=case.config_path, base_dir=case.base_dir, rootdir=None, env=env)
    changes: dict[str, Any] = {}
    for key, field, kinds in (
        ("vars", "vars", (dict,)),
        ("options", "options", (dict,)),
        ("metadata", "metadata", (dict,)),
        ("description", "description", (str,)),
    ):
        value = test.get(key)
        if value == sent.get(key):
            continue
        if value is None and key != "description":
            value = {}
        if not isinstance(value, kinds):
            raise hctx.at(key).error(
                f"test.{key} must be a {'mapping' if dict in kinds else 'string'}, got "
                f"{type_name(value)}",
                f"leave test.{key} as it was, or set it to a valid value",
            )
        changes[field] = value if not isinstance(value, dict) else dict(value)
    threshold = test.get("threshold")
    if threshold != sent.get("threshold"):
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float)
        ):
            raise hctx.at("threshold").error(
                f"test.threshold must be a number, got {type_name(threshold)}", ""
            )
        changes["threshold"] = None if threshold is None else float(threshold)
    new_asserts = test.get("assert") or []
    if new_asserts != sent.get("assert"):
        if not isinstance(new_asserts, list):
            raise hctx.at("assert").error(
                f"test.assert must be a list, got {type_name(new_asserts)}", "return a list"
            )
        changes["asserts"] = tuple(
            changed_items(
                sent.get("assert") or [],
                new_asserts,
                list(case.asserts),
                lambda i, a: parse_assertion(a, hctx.at("assert").at(i), session, extra_types),
            )
        )
    return dataclasses.replace(case, **changes)
