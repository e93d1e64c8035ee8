"""``assert`` entries -> AssertionSpec, validated at load time (types, values, regexes, files)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any

from .assertion_types import (
    ASSERT_SET_KEYS,
    ASSERTION_KEYS,
    KNOWN_UNSUPPORTED_TYPES,
    LIST_TYPES,
    REQUIRES_THRESHOLD,
    REQUIRES_VALUE,
    SPECIAL_TYPES,
    SUPPORTED_TYPES,
    all_known_types,
    base_type,
)
from .cases import AssertionSpec
from .compact import split_csv_list
from .errors import ConfigError, Ctx, did_you_mean
from .files import Session, is_glob, split_function, strip_file_prefix
from .providers import type_name


def js_regex_to_python(pattern: str) -> str:
    """Translate the JavaScript regex syntax Python spells differently (named groups, ``[^]``)."""
    out = re.sub(r"\(\?<(?![=!])([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    out = re.sub(r"\\k<([A-Za-z_]\w*)>", r"(?P=\1)", out)
    return out.replace("[^]", r"[\s\S]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_assertions(
    value: Any, ctx: Ctx, session: Session, extra_types: Collection[str]
) -> tuple[AssertionSpec, ...]:
    """A test's ``assert`` list."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.error(
            f"'assert' must be a list of assertions, got {type_name(value)}",
            "write '- type: contains' / '  value: ...' items under 'assert:'",
        )
    return tuple(
        parse_assertion(item, ctx.at(i), session, extra_types) for i, item in enumerate(value)
    )


def parse_assertion(
    item: Any, ctx: Ctx, session: Session, extra_types: Collection[str]
) -> AssertionSpec:
    """One assertion object (or assert-set) -> AssertionSpec, or a located ConfigError."""
    if isinstance(item, AssertionSpec):  # from a CSV row: already parsed, still validate
        item = _spec_to_dict(item)
    if not isinstance(item, dict):
        raise ctx.error(
            f"an assertion must be a mapping with a 'type', got {type_name(item)}",
            "write e.g. '- type: contains' and '  value: Paris' (compact strings like "
            "'contains:Paris' only work in CSV __expected columns)",
        )
    if "$ref" in item:
        raise ctx.at("$ref").error(
            f"unresolved $ref {item['$ref']!r}",
            "point it at an entry of the config, e.g. '#/assertionTemplates/name'",
        )
    type_ = item.get("type")
    if type_ is None:
        raise ctx.error("assertion has no 'type'", "add e.g. 'type: contains'")
    if not isinstance(type_, str) or not type_.strip():
        raise ctx.at("type").error(
            f"assertion 'type' must be a string, got {type_name(type_)}",
            "write e.g. 'type: equals'",
        )
    type_ = type_.strip()
    base, inverse = base_type(type_)
    tctx = ctx.at("type")
    plugin = type_ in extra_types or base in extra_types
    if inverse and base in SPECIAL_TYPES:
        raise tctx.error(f"{base!r} cannot be negated with 'not-'", f"use 'type: {base}'")
    if base == "assert-set":
        return _parse_assert_set(item, ctx, session, extra_types)
    unsupported = not plugin and base not in SUPPORTED_TYPES
    if unsupported:  # as in promptfoo, the items using it error; the config still runs
        line = tctx.line
        where = f"{tctx.src.display}:{line}" if line else tctx.src.display
        if base in KNOWN_UNSUPPORTED_TYPES or base.startswith("promptfoo:redteam:"):
            why = "is a promptfoo type that pytest-cfgateway does not run"
        else:
            choices = [*all_known_types(), *SUPPORTED_TYPES, *extra_types]
            why = f"is unknown.{did_you_mean(base, choices)}".rstrip(".")
        session.warn_once(
            tctx,
            "assertion type",
            type_,
            f"{where}: {tctx.key_path}: assertion type {type_!r} {why}; the items using it "
            "will error (register an implementation with the "
            "pytest_cfgateway_register_assertions hook)",
        )
    _check_keys(item, ASSERTION_KEYS, "assertion", ctx, session)
    value = item.get("value")
    threshold = _number(item, "threshold", ctx)
    weight = _weight(item, ctx)
    metric = _optional_str(item, "metric", ctx)
    if not plugin and not unsupported:
        _check_value(base, value, item, threshold, metric, ctx, session)
    provider = item.get("provider")
    if provider is not None and not isinstance(provider, str | dict):
        raise ctx.at("provider").error(
            "assertion 'provider' must be a provider id or an object",
            "write e.g. 'provider: openai:gpt-4o-mini'",
        )
    config = _config(item, "assertion", ctx)
    rubric = item.get("rubricPrompt")
    if rubric is not None and not isinstance(rubric, str | list | dict):
        raise ctx.at("rubricPrompt").error(
            "'rubricPrompt' must be a string or a list of chat messages", ""
        )
    if "normalizeUnicode" in item:
        config = {**config, "normalizeUnicode": item["normalizeUnicode"]}
    return AssertionSpec(
        type=type_,
        value=value,
        threshold=threshold,
        weight=1.0 if weight is None else float(weight),
        metric=metric,
        provider=provider,
        rubric_prompt=rubric,
        transform=_optional_str(item, "transform", ctx),
        context_transform=_optional_str(item, "contextTransform", ctx),
        config=dict(config),
        key_path=ctx.key_path,
    )


def _parse_assert_set(
    item: dict[str, Any], ctx: Ctx, session: Session, extra_types: Collection[str]
) -> AssertionSpec:
    _check_keys(item, ASSERT_SET_KEYS, "assert-set", ctx, session)
    children = item.get("assert")
    if not isinstance(children, list) or not children:
        raise ctx.at("assert").error(
            "assert-set needs a non-empty 'assert' list",
            "put the grouped assertions under 'assert:'",
        )
    config = _config(item, "assert-set", ctx)
    weight = _weight(item, ctx)
    return AssertionSpec(
        type="assert-set",
        threshold=_number(item, "threshold", ctx),
        weight=1.0 if weight is None else float(weight),
        metric=_optional_str(item, "metric", ctx),
        config=dict(config),
        children=parse_assertions(children, ctx.at("assert"), session, extra_types),
        key_path=ctx.key_path,
    )


def _check_keys(
    item: dict[str, Any], allowed: tuple[str, ...], what: str, ctx: Ctx, session: Session
) -> None:
    """Warn (once per file and key) about keys of ``item`` not in ``allowed``."""
    for key in item:
        if key not in allowed:
            session.unknown_key(ctx, key, what, allowed)


def _config(item: dict[str, Any], what: str, ctx: Ctx) -> dict[str, Any]:
    """The item's ``config`` mapping ({} when absent)."""
    config = item.get("config") or {}
    if not isinstance(config, dict):
        raise ctx.at("config").error(f"{what} 'config' must be a mapping", "write 'config: {}'")
    return config


def _number(item: dict[str, Any], key: str, ctx: Ctx) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if not _is_number(value) or value != value:
        raise ctx.at(key).error(
            f"'{key}' must be a number, got {type_name(value)}",
            f"write e.g. '{key}: 0.8' (no quotes)",
        )
    return float(value)


def _weight(item: dict[str, Any], ctx: Ctx) -> float | None:
    weight = _number(item, "weight", ctx)
    if weight is not None and (weight < 0 or weight == float("inf")):
        raise ctx.at("weight").error(
            f"'weight' must be a finite number >= 0, got {item['weight']!r}",
            "write e.g. 'weight: 2' (0 makes the assertion count only as a metric)",
        )
    return weight


def _optional_str(item: dict[str, Any], key: str, ctx: Ctx) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ctx.at(key).error(f"'{key}' must be a string, got {type_name(value)}", "quote it")
    return value


def _check_value(
    base: str,
    value: Any,
    item: dict[str, Any],
    threshold: float | None,
    metric: str | None,
    ctx: Ctx,
    session: Session,
) -> None:
    vctx = ctx.at("value") if "value" in item else ctx
    if base in REQUIRES_VALUE and (
        value is None or (value == "" and base in ("contains", "icontains", "starts-with", "regex"))
    ):
        raise vctx.error(
            f"assertion {item['type']!r} needs a 'value'",
            f"add 'value: <expected>' to this assertion (e.g. type: {item['type']}, value: ...)",
        )
    if base in REQUIRES_THRESHOLD and threshold is None and metric is None:
        unit = "USD" if base == "cost" else "milliseconds"
        example = {"latency": 3000, "ttft": 500}.get(base, 0.01)
        raise ctx.error(
            f"assertion {item['type']!r} needs a 'threshold' ({unit})",
            f"add e.g. 'threshold: {example}'",
        )
    if isinstance(value, float) and value != value:
        raise vctx.error("assertion value is NaN", "use a string or a finite number")
    if isinstance(value, str) and value.startswith("file://") and "{{" not in value:
        raw, _fn = split_function(strip_file_prefix(value))
        path = session.resolve("file://" + raw)
        if not is_glob(raw) and not path.is_file():  # promptfoo errors the rows using it
            line = vctx.line or ctx.line
            where = f"{vctx.src.display}:{line}" if line else vctx.src.display
            session.warn_once(
                vctx,
                "assertion file",
                raw,
                f"{where}: {vctx.key_path}: assertion file {value!r} not found (looked for "
                f"{session.display(path)}); the items using it will error. Fix: check the path; "
                "relative paths are resolved against the config's directory",
            )
        return
    if base == "regex" and isinstance(value, str) and "{{" not in value and "{%" not in value:
        try:
            re.compile(js_regex_to_python(value))
        except re.error as exc:
            raise vctx.error(
                f"invalid regex {value!r}: {exc}",
                "write a JavaScript regex source without /slashes/ or flags; in YAML, "
                "single-quote it or double the backslashes ('\\d+' or \"\\\\d+\")",
            ) from None
    if base in LIST_TYPES and isinstance(value, str):
        try:
            split_csv_list(value)
        except ConfigError as exc:
            raise vctx.error(exc.message, exc.fix) from None
    if (
        base == "word-count"
        and value is not None
        and not (_is_number(value) or isinstance(value, dict) or _numeric_text(value))
    ):
        raise vctx.error(
            "word-count value must be a number (or numeric text such as '3') or {min, max}",
            "write e.g. 'value: {min: 5, max: 50}'",
        )


def _numeric_text(value: Any) -> bool:
    """True for text JavaScript's ``Number()`` reads as a finite number ('3', ' 3.0 ')."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _spec_to_dict(spec: AssertionSpec) -> dict[str, Any]:
    d: dict[str, Any] = {"type": spec.type}
    if spec.value is not None:
        d["value"] = spec.value
    if spec.threshold is not None:
        d["threshold"] = spec.threshold
    if spec.metric is not None:
        d["metric"] = spec.metric
    if spec.weight != 1.0:
        d["weight"] = spec.weight
    return d
