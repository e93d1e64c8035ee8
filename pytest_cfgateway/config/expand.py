"""defaultTest and scenario merges, var expansion, the eval matrix and item names.

Matrix order and count follow promptfoo's evaluator: test -> repeat -> var combination ->
provider (test ``providers`` filter) -> prompt (provider and test ``prompts`` filters).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection
from typing import Any

from .cases import EvalCase, PromptSpec, ProviderSpec
from .errors import Ctx
from .files import Session, glob_paths, is_glob, split_function, strip_file_prefix
from .providers import type_name
from .testcases import TestDef, load_tests, parse_test

# ------------------------------------------------------------------ filters (promptfoo)


def prompt_ref_matches(ref: str, prompt: PromptSpec) -> bool:
    """promptfoo's ``doesPromptRefMatch``: exact label, ``group:*`` wildcard, ``group`` prefix."""
    label = prompt.label
    if label == ref:
        return True
    if ref.endswith("*") and label.startswith(ref[:-1]):
        return True
    return label.startswith(f"{ref}:")


def prompt_allowed(prompt: PromptSpec, allowed: Collection[str] | None) -> bool:
    """None = every prompt; otherwise any ref matches."""
    if allowed is None:
        return True
    return any(prompt_ref_matches(ref, prompt) for ref in allowed)


def provider_ref_matches(ref: str, provider: ProviderSpec) -> bool:
    """promptfoo's ``doesProviderRefMatch`` over label and id."""
    names = [provider.id] + ([provider.label] if provider.label else [])
    if ref in names:
        return True
    if ref.endswith("*") and any(n.startswith(ref[:-1]) for n in names):
        return True
    return any(n.startswith(f"{ref}:") for n in names)


def provider_allowed(provider: ProviderSpec, allowed: Collection[str] | None) -> bool:
    """None = every provider; otherwise any ref matches."""
    if allowed is None:
        return True
    return any(provider_ref_matches(ref, provider) for ref in allowed)


# ------------------------------------------------------------------ scenarios


def load_scenarios(
    value: Any,
    ctx: Ctx,
    session: Session,
    default: TestDef | None,
    extra_types: Collection[str],
) -> list[TestDef]:
    """``scenarios`` -> one merged TestDef per (config entry x test)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error(
            f"'scenarios' must be a list, got {type_name(value)}",
            "write '- config: [...]' / '  tests: [...]' items",
        )
    out: list[TestDef] = []
    for i, entry in enumerate(value):
        sctx = ctx.at(i)
        if isinstance(entry, str):
            path = session.require_file(entry, sctx, "scenario file")
            data, fctx = session.load_data(path, sctx)
            items = data if isinstance(data, list) else [data]
            for j, item in enumerate(items):
                out.extend(
                    _scenario(
                        item,
                        fctx.at(j) if isinstance(data, list) else fctx,
                        session,
                        default,
                        extra_types,
                    )
                )
        else:
            out.extend(_scenario(entry, sctx, session, default, extra_types))
    return out


def _scenario(
    entry: Any,
    ctx: Ctx,
    session: Session,
    default: TestDef | None,
    extra_types: Collection[str],
) -> list[TestDef]:
    if not isinstance(entry, dict):
        raise ctx.error(
            f"a scenario must be a mapping, got {type_name(entry)}",
            "write 'config: [...]' and 'tests: [...]'",
        )
    for key in entry:
        if key not in ("description", "config", "tests"):
            raise ctx.at(str(key)).error(
                f"unknown scenario key {key!r}", "scenarios take: description, config, tests"
            )
    configs = entry.get("config")
    if not isinstance(configs, list) or not configs:
        raise ctx.at("config").error(
            "a scenario needs a non-empty 'config' list", "add 'config: [{vars: {...}}]'"
        )
    datas = [
        parse_test(c, ctx.at("config").at(j), session, extra_types, what="scenario config entry")
        for j, c in enumerate(configs)
    ]
    tests = load_tests(entry.get("tests"), ctx.at("tests"), session, extra_types)
    if not tests:
        tests = [TestDef(ctx=ctx.at("config"))]
    return [_merge_scenario(default, data, test) for data in datas for test in tests]


def _merge_scenario(default: TestDef | None, data: TestDef, test: TestDef) -> TestDef:
    d = default or TestDef(ctx=test.ctx)
    return TestDef(
        ctx=test.ctx,
        description=_first(test.description, data.description, d.description),
        vars={**(d.vars or {}), **(data.vars or {}), **(test.vars or {})},
        asserts=[*(data.asserts or []), *(test.asserts or [])],
        options={**d.options, **data.options, **test.options},
        threshold=_first(test.threshold, data.threshold, d.threshold),
        metadata={**d.metadata, **data.metadata, **test.metadata},
        provider=_first(test.provider, data.provider, d.provider),
        providers=_first(test.providers, data.providers, d.providers),
        prompts=_first(test.prompts, data.prompts, d.prompts),
        provider_output=test.provider_output
        if test.has_provider_output
        else (data.provider_output if data.has_provider_output else d.provider_output),
        has_provider_output=test.has_provider_output
        or data.has_provider_output
        or d.has_provider_output,
    )


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


# ------------------------------------------------------------------ defaultTest merge


def apply_default(test: TestDef, default: TestDef | None) -> TestDef:
    """promptfoo's ``prepareTestCaseForEval`` (plus the defaultTest vars merge)."""
    if default is None:
        return dataclasses.replace(
            test, vars=dict(test.vars or {}), asserts=list(test.asserts or [])
        )
    options = {**default.options, **test.options}
    default_asserts = (
        [] if options.get("disableDefaultAsserts") is True else (default.asserts or [])
    )
    return dataclasses.replace(
        test,
        vars={**(default.vars or {}), **(test.vars or {})},
        asserts=[*default_asserts, *(test.asserts or [])],
        options=options,
        threshold=_first(test.threshold, default.threshold),
        metadata={**default.metadata, **test.metadata},
        provider=_first(test.provider, default.provider),
        providers=_first(test.providers, default.providers),
        prompts=_first(test.prompts, default.prompts),
    )


# ------------------------------------------------------------------ var expansion


def var_combinations(
    vars: dict[str, Any], ctx_for: Any, session: Session, expand: bool = True
) -> list[dict[str, Any]]:
    """promptfoo's ``generateVarCombinations``: string arrays and ``file://`` globs expand,
    first key slowest. ``ctx_for(name)`` gives the Ctx of a var for error messages."""
    for name, value in vars.items():
        if isinstance(value, str) and value.startswith("file://"):
            _check_var_file(name, value, ctx_for(name), session, must_exist=not expand)
    if not expand:
        return [dict(vars)]
    combos: list[dict[str, Any]] = [{}]
    for name, value in vars.items():
        values: list[Any]
        if isinstance(value, str) and value.startswith("file://"):
            ref = strip_file_prefix(value)
            raw, fn = split_function(ref)
            paths = glob_paths(session.base_dir, raw) if is_glob(raw) else [session.resolve(raw)]
            paths = [p for p in paths if p.is_file()]
            if not paths:
                raise ctx_for(name).error(
                    f"no files found for variable {name!r} at path {raw!r} (in "
                    f"{session.display(session.base_dir)})",
                    "fix the path or glob; it is resolved against the config's directory",
                )
            values = [f"file://{session.rel(p)}" + (f":{fn}" if fn else "") for p in paths]
        elif isinstance(value, list) and value and isinstance(value[0], str):
            values = list(value)
        else:
            values = [value]
        combos = [{**combo, name: v} for combo in combos for v in values]
    return combos


def _check_var_file(name: str, ref: str, ctx: Ctx, session: Session, must_exist: bool) -> None:
    raw, _fn = split_function(strip_file_prefix(ref))
    # JavaScript loaders run at render time (TypeScript ones error there, per item)
    if must_exist and not is_glob(raw):
        session.require_file("file://" + raw, ctx, f"file for var {name!r}")


def combo_id(vars: dict[str, Any], length: int = 6) -> str:
    """Short stable id of one var combination (sha1 of canonical JSON)."""
    canonical = json.dumps(
        vars, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha1(canonical.encode()).hexdigest()[:length]


# ------------------------------------------------------------------ names


def safe_id_part(text: str) -> str:
    """Make a label safe inside a pytest id: no ``[``, ``]``, ``::``, ``/``, newlines."""
    out = " ".join(str(text).split())
    out = out.replace("[", "(").replace("]", ")").replace("/", "_").replace("\\", "_")
    while "::" in out:
        out = out.replace("::", ":")
    return out


def short_label(label: str, limit: int = 40) -> str:
    """Long labels (prompt texts) shortened, with a hash so distinct labels stay distinct."""
    text = " ".join(label.split())
    if len(text) <= limit:
        return text
    digest = hashlib.sha1(label.encode()).hexdigest()[:6]
    return f"{text[: limit - 8].rstrip()}~{digest}"


#: Longest shown var value in an id (longer ones are cut and end with ``~``).
VAR_VALUE_LIMIT = 24


def var_value_id(value: Any) -> str:
    """A var value as shown in an id: ``file://`` refs by file name, other values as text
    (JSON for structures), whitespace as ``_``, cut to `VAR_VALUE_LIMIT` characters."""
    if isinstance(value, str) and value.startswith("file://"):
        raw, fn = split_function(strip_file_prefix(value))
        text = raw.replace("\\", "/").rsplit("/", 1)[-1] + (f":{fn}" if fn else "")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    text = "_".join(safe_id_part(text).replace("-", "_").split())
    if len(text) > VAR_VALUE_LIMIT:
        text = text[: VAR_VALUE_LIMIT - 1].rstrip("_") + "~"
    return text or '""'


def var_ids(combos: list[dict[str, Any]]) -> list[str]:
    """Readable ids of a test's var combinations, like pytest param ids: the vars that differ
    between combinations as ``name=value`` joined by ``-`` (``language=French``); a short
    hash is added only where two combinations would otherwise get the same id."""
    if len(combos) <= 1:
        return [""] * len(combos)
    keys: list[str] = []
    for combo in combos:
        for key in combo:
            if key not in keys and any(
                c.get(key, _ABSENT) != combo.get(key, _ABSENT) for c in combos
            ):
                keys.append(key)
    ids = [
        "-".join(f"{safe_id_part(k)}={var_value_id(c[k])}" for k in keys if k in c) or "vars"
        for c in combos
    ]
    counts: dict[str, int] = {}
    for text in ids:
        counts[text] = counts.get(text, 0) + 1
    return [
        f"{text.rstrip('~')}~{combo_id(c)}" if counts[text] > 1 else text
        for text, c in zip(ids, combos, strict=True)
    ]


_ABSENT = object()


def prompt_id(prompt: PromptSpec, index: int) -> str:
    """The prompt's part of an id: `PromptSpec.name` (label, id or file name), else
    ``p<index+1>``; never the prompt's text."""
    return safe_id_part(prompt.name) if prompt.name else f"p{index + 1}"


# ------------------------------------------------------------------ the matrix


@dataclasses.dataclass
class MatrixInput:
    """Everything the matrix needs, already validated."""

    session: Session
    tests: list[TestDef]
    default: TestDef | None
    providers: list[ProviderSpec]
    prompts: list[PromptSpec]
    repeat: int
    config_env: dict[str, str]
    evaluate_options: dict[str, Any]
    providers_ctx: Ctx  # where ``providers`` (or ``targets``) sits, for filter errors


def build_cases(inp: MatrixInput) -> list[EvalCase]:
    """Every (test x repeat x combination x provider x prompt) as an EvalCase, uniquely named."""
    session = inp.session
    cases: list[EvalCase] = []
    used: set[str] = set()
    several_prompts = len(inp.prompts) > 1
    for i, provider in enumerate(inp.providers):
        if provider.prompts and not any(prompt_allowed(p, provider.prompts) for p in inp.prompts):
            raise _provider_filter_error(provider, i, inp)
    for n, raw_test in enumerate(inp.tests):
        test = apply_default(raw_test, inp.default)
        _check_filters(test, inp)
        vars = test.vars or {}

        def ctx_for(name: str, _t: TestDef = raw_test) -> Ctx:
            if _t.vars is not None and name in _t.vars:
                return _t.ctx.at("vars").at(name)
            if inp.default is not None:
                return inp.default.ctx.at("vars").at(name)
            return _t.ctx.at("vars")

        expand = test.options.get("disableVarExpansion") is not True
        combos = var_combinations(vars, ctx_for, session, expand)
        combo_ids = var_ids(combos)
        base = safe_id_part(test.description) if test.description else f"test-{n + 1}"
        ctx = raw_test.ctx
        source_path = ctx.src.path if ctx.src.path != session.config_path else None
        for r in range(inp.repeat):
            for c, combo in enumerate(combos):
                cid = combo_ids[c]
                for provider in inp.providers:
                    if not provider_allowed(provider, test.providers):
                        continue
                    for p, prompt in enumerate(inp.prompts):
                        if not prompt_allowed(prompt, provider.prompts or None):
                            continue
                        if not prompt_allowed(prompt, test.prompts):
                            continue
                        parts = [safe_id_part(provider.label)]
                        if several_prompts:
                            parts.append(prompt_id(prompt, p))
                        if len(combos) > 1:
                            parts.append(cid)
                        if inp.repeat > 1:
                            parts.append(f"r{r}")
                        name = _unique(f"{base}[{'-'.join(parts)}", used)
                        called = test.provider or provider
                        if prompt.config:
                            called = dataclasses.replace(
                                called, config={**called.config, **prompt.config}
                            )
                        cases.append(
                            EvalCase(
                                config_path=session.config_path,
                                base_dir=session.base_dir,
                                name=name,
                                description=test.description or f"test-{n + 1}",
                                vars=dict(combo),
                                prompt=prompt,
                                provider=called,
                                asserts=tuple(test.asserts or ()),
                                threshold=test.threshold,
                                metadata=dict(test.metadata),
                                options=dict(test.options),
                                test_index=n,
                                combo_index=c,
                                repeat_index=r,
                                row_key=f"{n}:{combo_id(combo, 12)}:{r}",
                                provider_output=test.provider_output,
                                config_env=dict(inp.config_env),
                                evaluate_options=dict(inp.evaluate_options),
                                key_path=ctx.key_path,
                                line=ctx.line,
                                source_path=source_path,
                            )
                        )
    return cases


def _unique(stem: str, used: set[str]) -> str:
    name = stem + "]"
    k = 2
    while name in used:
        name = f"{stem}-{k}]"
        k += 1
    used.add(name)
    return name


def _check_filters(test: TestDef, inp: MatrixInput) -> None:
    if test.providers is not None and not any(
        provider_allowed(p, test.providers) for p in inp.providers
    ):
        labels = ", ".join(sorted({p.label for p in inp.providers}))
        raise test.ctx.at("providers").error(
            f"'providers' filter {test.providers} matches none of the config's providers",
            f"use a provider label or id ({labels}), or a wildcard such as 'openai:*'",
        )
    if test.prompts is not None and not any(prompt_allowed(p, test.prompts) for p in inp.prompts):
        labels = ", ".join(repr(short_label(p.label)) for p in inp.prompts)
        raise test.ctx.at("prompts").error(
            f"'prompts' filter {test.prompts} matches none of the config's prompts",
            f"use a prompt label ({labels}); give prompts labels with '- id: ...' / 'label: ...'",
        )


def _provider_filter_error(provider: ProviderSpec, index: int, inp: MatrixInput) -> Exception:
    labels = ", ".join(repr(short_label(p.label)) for p in inp.prompts)
    ctx = (
        inp.providers_ctx.at(index).at("prompts") if len(inp.providers) > 1 else (inp.providers_ctx)
    )
    return ctx.error(
        f"provider {provider.label!r} has a 'prompts' filter {list(provider.prompts)} that matches "
        "no prompt",
        f"use prompt labels ({labels})",
    )
