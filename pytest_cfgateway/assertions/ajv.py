"""JSON-schema checking the way promptfoo does it: ajv 8 (draft-07) in strict mode.

promptfoo compiles ``is-json``/``contains-json`` schemas with ``new Ajv({strictSchema:
true})`` plus ajv-formats. Compiling a schema ajv does not accept throws, and the row becomes
an *error*. `strict_schema_problem` reproduces the rules that matter for hand-written
schemas:

- every keyword must be one ajv's draft-07 class knows (`AJV_KEYWORDS`): the draft-07
  vocabulary, annotations, ``$defs``/``definitions``, ``$comment``, ``nullable``, the
  ajv-formats ``formatMinimum``... family. 2019-09/2020-12-only keywords (``prefixItems``,
  ``unevaluatedProperties``, ``dependentRequired``, ``$anchor``...) are unknown to it;
- ``$schema`` may only name draft-07;
- ``format`` must be an ajv-formats format (`AJV_FORMATS`);
- ``if`` needs ``then``/``else`` (and they need ``if``); ``additionalItems`` needs an array
  ``items``; ``nullable`` needs ``type``; a ``properties`` name may not also match a
  ``patternProperties`` pattern; ``id`` is refused (``$id`` is the keyword).

Like ajv, only subschemas that get compiled are checked: applicator values, and
``definitions``/``$defs`` entries only when a local ``$ref`` reaches them.

`draft7_validator` builds the validator: draft-07 keyword semantics (array ``items`` are
tuples), ``$ref`` siblings still apply (ajv 8 evaluates them; plain draft-07 ignores them),
and ``nullable: true`` admits ``null``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from operator import methodcaller
from typing import Any

import jsonschema.validators

#: Keywords ajv's default (draft-07) class accepts with ajv-formats added.
AJV_KEYWORDS = frozenset(
    {
        "$async", "$comment", "$defs", "$id", "$ref", "$schema", "$vocabulary",
        "additionalItems", "additionalProperties", "allOf", "anyOf", "const", "contains",
        "contentEncoding", "contentMediaType", "contentSchema", "default", "definitions",
        "dependencies", "deprecated", "description", "else", "enum", "examples",
        "exclusiveMaximum", "exclusiveMinimum", "format", "formatExclusiveMaximum",
        "formatExclusiveMinimum", "formatMaximum", "formatMinimum", "id", "if", "items",
        "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength",
        "minProperties", "minimum", "multipleOf", "not", "nullable", "oneOf", "pattern",
        "patternProperties", "properties", "propertyNames", "readOnly", "required", "then",
        "title", "type", "uniqueItems", "writeOnly",
    }
)  # fmt: skip

#: Keywords that carry no validation (a schema made only of these is "always valid").
_NO_RULE = frozenset(
    {
        "$async", "$defs", "$id", "$schema", "$vocabulary", "contentEncoding",
        "contentMediaType", "contentSchema", "default", "definitions", "deprecated",
        "description", "examples", "readOnly", "title", "writeOnly",
    }
)  # fmt: skip

#: Formats ajv-formats registers (full mode).
AJV_FORMATS = frozenset(
    {
        "binary", "byte", "date", "date-time", "double", "duration", "email", "float",
        "hostname", "int32", "int64", "ipv4", "ipv6", "iso-date-time", "iso-time",
        "json-pointer", "json-pointer-uri-fragment", "password", "regex",
        "relative-json-pointer", "time", "uri", "uri-reference", "uri-template", "url", "uuid",
    }
)  # fmt: skip

DRAFT7_URIS = ("http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema")

_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_ONE = ("additionalProperties", "contains", "propertyNames", "not", "then", "else")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _always_valid(schema: Any) -> bool:
    if schema is True:
        return True
    return isinstance(schema, dict) and all(key in _NO_RULE for key in schema)


def _pointer(path: tuple[str, ...]) -> str:
    return "#" + "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in path)


def _resolve_local(root: Any, ref: str) -> Any:
    """The subschema a local ``#/a/b`` reference points at (None when it does not resolve)."""
    node = root
    for raw in ref[2:].split("/") if ref.startswith("#/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node if ref == "#" or ref.startswith("#/") else None


def _children(
    schema: dict[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[Any, tuple[str, ...]]]:
    for key in _SCHEMA_MAPS:
        value = schema.get(key)
        if isinstance(value, dict):
            for name, sub in value.items():
                yield sub, (*path, key, str(name))
    for key in _SCHEMA_ONE:
        if key in schema:
            yield schema[key], (*path, key)
    for key in _SCHEMA_LISTS:
        value = schema.get(key)
        if isinstance(value, list):
            for i, sub in enumerate(value):
                yield sub, (*path, key, str(i))
    items = schema.get("items")
    if isinstance(items, list):
        for i, sub in enumerate(items):
            yield sub, (*path, "items", str(i))
    elif items is not None:
        yield items, (*path, "items")
    if isinstance(items, list) and "additionalItems" in schema:
        yield schema["additionalItems"], (*path, "additionalItems")
    deps = schema.get("dependencies")
    if isinstance(deps, dict):
        for name, sub in deps.items():
            if not isinstance(sub, list):
                yield sub, (*path, "dependencies", str(name))
    if "if" in schema and any(
        key in schema and not _always_valid(schema[key]) for key in ("then", "else")
    ):
        yield schema["if"], (*path, "if")


_KEYWORD_FIX = (
    'remove or rename "{key}" (notes belong in "description" or "$comment"; 2019-09/2020-12 '
    'keywords have draft-07 forms: "prefixItems" -> an "items" array, '
    '"unevaluatedProperties" -> "additionalProperties", "dependentRequired"/'
    '"dependentSchemas" -> "dependencies", "$defs" works as is)'
)


@dataclasses.dataclass(frozen=True)
class SchemaProblem:
    """Why ajv (strict mode, as promptfoo runs it) refuses a schema."""

    message: str  # ajv's own wording, e.g. 'strict mode: unknown keyword: "x"'
    pointer: str  # where in the schema, e.g. "#/properties/a"
    fix: str


def _own_problem(schema: dict[str, Any], path: tuple[str, ...]) -> tuple[str, str] | None:
    for key in schema:
        if key == "id":
            return 'keyword "id" is not supported', 'use "$id" for a schema ID'
        if key not in AJV_KEYWORDS:
            return f'strict mode: unknown keyword: "{key}"', _KEYWORD_FIX.format(key=key)
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt not in AJV_FORMATS:
        return (
            f'unknown format "{fmt}" ignored in schema at path "{_pointer(path)}"',
            f'use an ajv-formats format ({", ".join(sorted(AJV_FORMATS))}) or drop "format"',
        )
    if "if" in schema and "then" not in schema and "else" not in schema:
        return (
            'strict mode: "if" without "then" and "else" is ignored',
            'add "then" and/or "else", or remove "if"',
        )
    for key in ("then", "else"):
        if key in schema and "if" not in schema:
            return f'strict mode: "{key}" without "if" is ignored', f'add "if" or remove "{key}"'
    if "additionalItems" in schema and not isinstance(schema.get("items"), list):
        return (
            'strict mode: "additionalItems" is ignored when "items" is not an array of schemas',
            'make "items" an array of schemas (a tuple) or remove "additionalItems"',
        )
    if schema.get("nullable") is True and "type" not in schema:
        return '"nullable" cannot be used without "type"', 'add a "type" next to "nullable"'
    props, patterns = schema.get("properties"), schema.get("patternProperties")
    if isinstance(props, dict) and isinstance(patterns, dict):
        for name, sub in props.items():
            if _always_valid(sub):
                continue
            for pattern in patterns:
                try:
                    matches = re.search(pattern, str(name)) is not None
                except re.error:
                    continue
                if matches:
                    return (
                        f"strict mode: property {name} matches pattern {pattern} "
                        "(use allowMatchingProperties)",
                        "rename the property or narrow the pattern so they do not overlap",
                    )
    return None


def strict_schema_problem(schema: Any) -> SchemaProblem | None:
    """What ajv's strict mode rejects in ``schema``; None when ajv (as promptfoo configures
    it) compiles it. Call after meta-schema validation (`check_meta`)."""
    if isinstance(schema, dict):
        declared = schema.get("$schema")
        if isinstance(declared, str) and declared not in DRAFT7_URIS:
            return SchemaProblem(
                f'no schema with key or ref "{declared}"',
                "#",
                f'remove "$schema" or set it to "{DRAFT7_URIS[0]}" (promptfoo\'s ajv only '
                "knows draft-07)",
            )
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[str, ...]]] = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        problem = _own_problem(node, path)
        if problem is not None:
            return SchemaProblem(problem[0], _pointer(path), problem[1])
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            target = _resolve_local(schema, ref)
            if target is not None:
                parts = ref[2:].split("/") if ref.startswith("#/") else []
                unescaped = tuple(p.replace("~1", "/").replace("~0", "~") for p in parts)
                stack.append((target, unescaped))
        stack.extend(reversed(list(_children(node, path))))
    return None


_DRAFT7_TYPE = jsonschema.Draft7Validator.VALIDATORS["type"]


def _type_or_null(validator: Any, types: Any, instance: Any, schema: Any) -> Any:
    if instance is None and isinstance(schema, dict) and schema.get("nullable") is True:
        return iter(())
    return _DRAFT7_TYPE(validator, types, instance, schema)


_Draft7Ajv = jsonschema.validators.create(
    meta_schema=jsonschema.Draft7Validator.META_SCHEMA,
    validators={**jsonschema.Draft7Validator.VALIDATORS, "type": _type_or_null},
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER,
    format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    applicable_validators=methodcaller("items"),  # $ref siblings apply, as in ajv 8
)


def draft7_validator(schema: Any) -> Any:
    """A validator for ``schema`` with ajv's draft-07 semantics and format checking."""
    return _Draft7Ajv(schema, format_checker=_Draft7Ajv.FORMAT_CHECKER)


def check_meta(schema: Any) -> None:
    """Raise ``jsonschema.exceptions.SchemaError`` when ``schema`` breaks the draft-07
    meta-schema (ajv's "schema is invalid" errors)."""
    _Draft7Ajv.check_schema(schema)
