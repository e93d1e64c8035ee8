"""``load_config``: read a promptfooconfig.yaml into validated, expanded EvalCases.

Pure: no pytest, no network. The only user code run here is what decides the rows, as
promptfoo runs it at load time: test generators and ``extensions`` beforeAll hooks (out of
process, with a time limit). Prompt functions, var loaders and the other hooks are only
referenced; they run at render time or around items.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .._yamlguard import YamlBoundsError, check_data
from .cases import EvalCase, Extension, PromptSpec, ProviderSpec
from .errors import ConfigError, Ctx, Source, display_path
from .expand import MatrixInput, build_cases, load_scenarios
from .extensions import RunOnce, changed_items, hand_suite, hook_ctx, parse_extensions, to_json
from .files import Session
from .prompts import parse_prompts
from .providers import parse_providers, type_name
from .testcases import TestDef, load_test_items, parse_test
from .yaml12 import load_yaml

#: Top-level keys pytest-cfgateway reads.
SUPPORTED_KEYS = (
    "description",
    "providers",
    "targets",
    "prompts",
    "tests",
    "scenarios",
    "defaultTest",
    "env",
    "evaluateOptions",
    "metadata",
    "assertionTemplates",
    "nunjucksFilters",
    "outputPath",  # read at collection (run/items.py): the config's result files
    "extensions",  # hooks: beforeAll here, the others around items (run/hooks.py)
)
#: promptfoo keys that only affect promptfoo's own CLI/UI/outputs: accepted, ignored.
IGNORED_KEYS = (
    "sharing",
    "tags",
    "writeLatestResults",
    "commandLineOptions",
    "tracing",
    "$schema",
)
#: promptfoo keys whose meaning pytest-cfgateway does not carry out: a warning each (the
#: ordinary tests still run), never an error.
NOT_RUN_KEYS = {
    "redteam": "red-team test generation is not run here (run 'promptfoo redteam' for it); "
    "the config's ordinary tests run",
    "derivedMetrics": "derivedMetrics are not computed by pytest-cfgateway",
}
#: Every top-level key of promptfoo 0.123.1's config schema (UnifiedConfigSchema).
SCHEMA_KEYS = (
    *SUPPORTED_KEYS,
    *IGNORED_KEYS,
    *NOT_RUN_KEYS,
)
#: Values a config's ``$ref``s may copy in, in all.
MAX_RESOLVED_VALUES = 100_000
_EVALUATE_NUMBERS = {
    "maxConcurrency": (1, True),
    "repeat": (1, True),
    "delay": (0, False),
    "timeoutMs": (0, False),
    "maxEvalTimeMs": (0, False),
}


@dataclasses.dataclass
class LoadedConfig:
    """A loaded promptfoo config: its EvalCases and the parts the plugin reports on."""

    path: Path
    description: str | None
    cases: list[EvalCase]
    providers: list[ProviderSpec]
    prompts: list[PromptSpec]
    default_test: dict[str, Any]
    evaluate_options: dict[str, Any]
    env: dict[str, str]  # the config's own ``env`` (strings)
    metadata: dict[str, Any]
    threshold: float | None  # defaultTest threshold, if any
    raw: Any  # the parsed YAML
    warnings: list[str] = dataclasses.field(default_factory=list)
    extensions: tuple[Extension, ...] = ()


def load_config(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    rootdir: Path | None = None,
    extra_assertion_types: Collection[str] = (),
    run_once: RunOnce | None = None,
) -> LoadedConfig:
    """Read, validate and expand one promptfoo config file.

    ``env`` is the process environment for ``{{ env.X }}`` templates (default ``os.environ``);
    the config's own ``env`` is merged over it. ``rootdir`` makes paths in messages relative.
    ``extra_assertion_types`` are plugin-registered assertion types that validate like
    built-ins. ``run_once`` shares the result of the config's beforeAll extension hooks
    (user code, run here because it changes the rows) between the processes of one test
    run (see `extensions.RunOnce`; None: run them). Raises ConfigError naming the file, key
    path, line and fix.
    """
    path = Path(path).absolute()
    shown = display_path(path, rootdir)
    base_ctx = Ctx(Source(path, {}, shown))
    if path.suffix.lower() in (".js", ".cjs", ".mjs", ".ts"):
        raise base_ctx.error(
            "JavaScript configs are not supported by pytest-cfgateway",
            "write the config as promptfooconfig.yaml",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise base_ctx.error(
            "config file not found", "check the path passed to --cf-config"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise base_ctx.error(f"cannot read the config: {exc}", "save it as UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            raw, lines = json.loads(text), {"": 1}
            check_data(raw)
        except (RecursionError, YamlBoundsError) as exc:
            detail = str(exc) if isinstance(exc, YamlBoundsError) else "nested too deeply"
            raise base_ctx.error(
                f"JSON too large to load: {detail}", "keep nesting under 100 levels"
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"invalid JSON: {exc.msg}",
                path=path,
                line=exc.lineno,
                display_path=shown,
                fix=f"correct the JSON near line {exc.lineno}, column {exc.colno}",
            ) from None
    else:
        raw, lines = load_yaml(text, path, shown)
    ctx = Ctx(Source(path, lines, shown))
    if raw is None:
        raise ctx.error(
            "the config is empty", "add at least 'providers:' (and usually 'prompts:', 'tests:')"
        )
    if not isinstance(raw, dict):
        raise ctx.error(
            f"the top level must be a mapping of keys (providers, prompts, tests, ...), got "
            f"{type_name(raw)}",
            "start the file with 'description:', 'providers:', 'prompts:' and 'tests:' keys",
        )
    data = _copy_without_refs(raw)
    if data is None:  # it has $refs: resolved (into new containers, so raw stays as read)
        data = _deref(raw, raw, ctx)
    warnings: list[str] = []

    config_env = _config_env(data.get("env"), ctx.at("env"))
    process_env = dict(os.environ if env is None else env)
    session = Session(
        config_path=path,
        base_dir=path.parent,
        rootdir=rootdir,
        env={**process_env, **config_env},
        warnings=warnings,
    )
    _check_top_level(data, ctx, session)
    session.nunjucks_filters = _nunjucks_filters(data.get("nunjucksFilters"), ctx, session)

    providers_key = _providers_key(data, ctx)
    providers = parse_providers(data[providers_key], ctx.at(providers_key), session)
    prompts = parse_prompts(data.get("prompts"), ctx.at("prompts"), session)

    evaluate_options = _evaluate_options(data.get("evaluateOptions"), ctx.at("evaluateOptions"))
    extensions = parse_extensions(data.get("extensions"), ctx.at("extensions"), session)

    default_raw = data.get("defaultTest")
    dctx = ctx.at("defaultTest")
    if isinstance(default_raw, str):
        dpath = session.require_file(default_raw, dctx, "defaultTest file")
        default_raw, dctx = session.load_data(dpath, dctx)
    test_items = load_test_items(data.get("tests"), ctx.at("tests"), session)
    scenarios_raw = data.get("scenarios")
    if extensions:
        prompts, default_raw, dctx, test_items, scenarios_raw = _before_all(
            extensions,
            data,
            providers_key,
            (prompts, default_raw, dctx, test_items, scenarios_raw),
            ctx,
            session,
            evaluate_options,
            run_once,
        )

    default: TestDef | None = None
    default_dict: dict[str, Any] = {}
    if default_raw is not None:
        if isinstance(default_raw, dict):
            default_dict = default_raw
        default = parse_test(
            default_raw,
            dctx,
            session,
            extra_assertion_types,
            allow_description=False,
            what="defaultTest",
        )

    tests = [parse_test(t, tctx, session, extra_assertion_types) for t, tctx in test_items]
    scenario_tests = load_scenarios(
        scenarios_raw, ctx.at("scenarios"), session, default, extra_assertion_types
    )
    if not tests and not scenario_tests and scenarios_raw is None:
        tests = [TestDef(ctx=ctx.at("tests") if "tests" in data else ctx)]

    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ctx.at("metadata").error(
            f"'metadata' must be a mapping, got {type_name(metadata)}", "write 'metadata: {k: v}'"
        )
    description = data.get("description")
    if isinstance(description, dict | list):
        raise ctx.at("description").error(
            f"'description' must be text, got {type_name(description)}",
            "write one line of text, e.g. 'description: Greeting evals' (quote it if it "
            "starts with [ or {)",
        )
    if description is not None and not isinstance(description, str):
        description = str(description)

    cases = build_cases(
        MatrixInput(
            session=session,
            tests=[*tests, *scenario_tests],
            default=default,
            providers=providers,
            prompts=prompts,
            repeat=int(evaluate_options.get("repeat", 1)),
            config_env=config_env,
            evaluate_options=evaluate_options,
            providers_ctx=ctx.at(providers_key),
        )
    )
    registers: dict[str, int] = {}
    for c in cases:
        if c.options.get("storeOutputAs"):
            name = str(c.options["storeOutputAs"])
            registers[name] = min(registers.get(name, c.test_index), c.test_index)
    if registers:
        cases = [dataclasses.replace(c, register_names=dict(registers)) for c in cases]
    if session.nunjucks_filters:
        cases = [
            dataclasses.replace(c, nunjucks_filters=dict(session.nunjucks_filters)) for c in cases
        ]
    if extensions:
        cases = [dataclasses.replace(c, extensions=extensions) for c in cases]
    return LoadedConfig(
        path=path,
        description=description,
        cases=cases,
        providers=providers,
        prompts=prompts,
        default_test=default_dict,
        evaluate_options=evaluate_options,
        env=config_env,
        metadata=dict(metadata),
        threshold=default.threshold if default else None,
        raw=raw,
        warnings=warnings,
        extensions=extensions,
    )


_Parts = tuple[list[PromptSpec], Any, Ctx, list[tuple[Any, Ctx]], Any]


def _before_all(
    extensions: tuple[Extension, ...],
    data: dict[str, Any],
    providers_key: str,
    parts: _Parts,
    ctx: Ctx,
    session: Session,
    evaluate_options: dict[str, Any],
    run_once: RunOnce | None,
) -> _Parts:
    """promptfoo's beforeAll hooks: they see the suite (tests read from their files, the
    defaultTest with an ``assert`` list) and may change its tests, defaultTest, scenarios and
    prompts. Whatever they return is validated like the config (errors name the hook)."""
    prompts, default_raw, dctx, test_items, scenarios_raw = parts
    sent_prompts = [_prompt_json(p) for p in prompts]
    sent_tests = to_json([t for t, _ in test_items])
    default_sent = dict(default_raw) if isinstance(default_raw, dict) else {}
    default_sent.setdefault("assert", [])  # promptfoo's ensureDefaultTestForExtensions
    providers = data[providers_key]
    suite = {
        "description": data.get("description"),
        "prompts": sent_prompts,
        "providers": [{"id": p} if isinstance(p, str) else p for p in providers]
        if isinstance(providers, list)
        else providers,
        "tests": sent_tests,
        "scenarios": scenarios_raw,
        "defaultTest": default_sent,
        "derivedMetrics": data.get("derivedMetrics"),
        "nunjucksFilters": dict(session.nunjucks_filters),
        "redteam": data.get("redteam"),
        "extensions": [e.ref for e in extensions],
    }
    timeout_ms = evaluate_options.get("timeoutMs") or 0
    stored = hand_suite(extensions, suite, session.config_path, timeout_ms / 1000 or None, run_once)
    if "error" in stored:
        raise ctx.at("extensions").error(
            str(stored["error"]),
            "fix the hook (it runs before the config's items are collected), or remove it",
        )
    after = stored["suite"]
    hooks = [e for e in extensions if e.runs_for("beforeAll")]
    if not hooks:
        return parts
    hctx = hook_ctx(", ".join(e.label for e in hooks), "beforeAll", Path(hooks[-1].path))
    sent_plain = to_json(suite)
    new_tests = after.get("tests") or []
    if not isinstance(new_tests, list):
        raise hctx.at("tests").error(
            f"suite.tests must be a list, got {type_name(new_tests)}", "return a list"
        )
    test_items = changed_items(
        sent_plain["tests"], new_tests, test_items, lambda i, t: (t, hctx.at("tests").at(i))
    )
    if after.get("defaultTest") != sent_plain["defaultTest"]:
        default_raw, dctx = after.get("defaultTest"), hctx.at("defaultTest")
    if after.get("scenarios") != sent_plain["scenarios"]:
        scenarios_raw = after.get("scenarios")
    new_prompts = after.get("prompts")
    if new_prompts != sent_plain["prompts"]:
        if not isinstance(new_prompts, list) or not new_prompts:
            raise hctx.at("prompts").error(
                "suite.prompts must be a non-empty list", "return the prompts you were given"
            )
        prompts = [
            p
            for group in changed_items(
                sent_plain["prompts"],
                new_prompts,
                [[p] for p in prompts],
                lambda i, p: parse_prompts([p], hctx.at("prompts").at(i), session),
            )
            for p in group
        ]
    return prompts, default_raw, dctx, test_items, scenarios_raw


def _prompt_json(prompt: PromptSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"raw": prompt.raw, "label": prompt.label}
    if prompt.config:
        out["config"] = dict(prompt.config)
    return out


def _check_top_level(data: dict[str, Any], ctx: Ctx, session: Session) -> None:
    for key in data:
        if key in SUPPORTED_KEYS or key in IGNORED_KEYS:
            continue
        if key in NOT_RUN_KEYS:
            if data[key] not in (None, [], {}):
                line = ctx.at(str(key)).line
                where = f"{ctx.src.display}:{line}" if line else ctx.src.display
                session.warn_once(
                    ctx, "top-level", str(key), f"{where}: {key}: {NOT_RUN_KEYS[key]}"
                )
            continue
        session.unknown_key(ctx, key, "top-level", SCHEMA_KEYS)


def _nunjucks_filters(value: Any, ctx: Ctx, session: Session) -> dict[str, str]:
    """``nunjucksFilters: {name: file://filter.js}`` -> {name: absolute path}."""
    if value is None:
        return {}
    fctx = ctx.at("nunjucksFilters")
    if not isinstance(value, dict):
        raise fctx.error(
            f"'nunjucksFilters' must map filter names to files, got {type_name(value)}",
            "write e.g. 'nunjucksFilters: {shout: ./filters/shout.js}'",
        )
    out: dict[str, str] = {}
    for name, ref in value.items():
        if not isinstance(ref, str) or not ref.strip():
            raise fctx.at(str(name)).error(
                f"nunjucksFilters.{name} must be a file path", "write e.g. './filters/x.js'"
            )
        out[str(name)] = str(session.require_file(ref, fctx.at(str(name)), "nunjucks filter"))
    return out


def _providers_key(data: dict[str, Any], ctx: Ctx) -> str:
    has_p, has_t = data.get("providers") is not None, data.get("targets") is not None
    if has_p and has_t:
        raise ctx.at("targets").error(
            "exactly one of 'targets' or 'providers' must be provided, not both",
            "move the entries of 'targets' into 'providers' and delete 'targets'",
        )
    if not has_p and not has_t:
        key = "providers" if "providers" in data else ("targets" if "targets" in data else "")
        raise (ctx.at(key) if key else ctx).error(
            "no providers: the config needs 'providers' (or 'targets')",
            "add e.g. 'providers: [openai:gpt-4o-mini]' (or 'providers: [echo]' to test "
            "without a model)",
        )
    return "providers" if has_p else "targets"


def _config_env(value: Any, ctx: Ctx) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error(
            f"'env' must be a mapping of variable names to values, got {type_name(value)}",
            "write e.g. 'env: {OPENAI_TEMPERATURE: 0}'",
        )
    out: dict[str, str] = {}
    for key, val in value.items():
        if isinstance(val, dict | list):
            raise ctx.at(str(key)).error(
                f"env value {key!r} must be a scalar, got {type_name(val)}", "quote the value"
            )
        out[str(key)] = _js_string(val)
    return out


def _js_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def _evaluate_options(value: Any, ctx: Ctx) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error(
            f"'evaluateOptions' must be a mapping, got {type_name(value)}",
            "write e.g. 'evaluateOptions: {maxConcurrency: 4}'",
        )
    for key, (minimum, integer) in _EVALUATE_NUMBERS.items():
        if key not in value:
            continue
        v = value[key]
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v >= minimum
        if ok and integer:
            ok = float(v).is_integer()
        if not ok:
            kind = "a whole number" if integer else "a number"
            raise ctx.at(key).error(
                f"'{key}' must be {kind} >= {minimum}, got {v!r}",
                f"write e.g. '{key}: {max(minimum, 1)}'",
            )
    return dict(value)


class _HasRef(Exception):
    pass


def _copy_without_refs(raw: Any) -> Any:
    """A copy of ``raw``'s containers (as `_deref` makes), or None when a mapping in it has a
    ``$ref`` key (then `_deref` resolves them). Most configs have none, and this copy costs
    a fraction of `_deref`'s walk, which tracks every value's key path for its errors."""

    def walk(node: Any) -> Any:
        if node.__class__ is dict:
            if "$ref" in node:
                raise _HasRef
            return {k: walk(v) for k, v in node.items()}
        if node.__class__ is list:
            return [walk(v) for v in node]
        if isinstance(node, dict | list):  # a subclass: as _deref would copy it
            raise _HasRef
        return node

    try:
        return walk(raw)
    except _HasRef:
        return None


def _deref(
    node: Any, root: Any, ctx: Ctx, stack: tuple[str, ...] = (), budget: list[int] | None = None
) -> Any:
    """Resolve local JSON-pointer ``$ref``s (``#/assertionTemplates/x``) like promptfoo.

    ``budget`` bounds the values the resolved config may hold (``$ref``s that refer to
    ``$ref``s multiply like nested YAML aliases)."""
    if budget is None:
        budget = [MAX_RESOLVED_VALUES]
    if stack:  # a value copied in by a $ref
        budget[0] -= 1
    if budget[0] < 0:
        raise ctx.error(
            f"its $refs copy in more than {MAX_RESOLVED_VALUES:,} values ($refs to templates "
            "that use $refs multiply)",
            "use fewer levels of $ref, or write the repeated parts out",
        )
    if isinstance(node, list):
        return [_deref(v, root, ctx.at(i), stack, budget) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if ref in stack:
            raise ctx.at("$ref").error(f"$ref {ref!r} refers to itself", "break the cycle")
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise ctx.at("$ref").error(
                    f"$ref {ref!r} points at nothing", "check the path after '#/' in the config"
                )
        resolved = _deref(copy.deepcopy(target), root, ctx, (*stack, ref), budget)
        extra = {k: v for k, v in node.items() if k != "$ref"}
        if extra and isinstance(resolved, dict):
            return {**resolved, **_deref(extra, root, ctx, stack, budget)}
        return resolved
    return {k: _deref(v, root, ctx.at(str(k)), stack, budget) for k, v in node.items()}
