"""JSON assertions (is-json, contains-json) and the aggregate of the structured families.

``HANDLERS`` here also carries the HTML/XML (`markup`) and SQL (`sql`) handlers, so a
registry that imports ``structured.HANDLERS`` gets every structured-output type.

Schema values follow promptfoo: a mapping, a JSON/YAML string, or ``file://schema.{json,yaml}``
(resolved against the config directory when the engine has not loaded it already). Schemas are
validated with ``jsonschema`` (draft from ``$schema``, default 2020-12) with format checking
on, like ajv + ajv-formats. Known difference: ajv's *strict mode* (unknown keywords are errors)
is not reproduced; ``jsonschema`` ignores unknown keywords.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
import yaml

from . import markup, sql
from ._helpers import PASSED, describe_value, output_text, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult

_NO_JSON = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> Any:
    """``JSON.parse``: strict JSON (no NaN/Infinity); returns ``_NO_JSON`` when invalid."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return _NO_JSON


def extract_json_values(text: str) -> list[Any]:
    """Every JSON object/array embedded in ``text`` (prose, ``` fences...), outermost first.

    Scans for ``{``/``[`` and decodes greedily from there; a decoded value's span is skipped
    so nested objects are not reported twice.
    """
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    found: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        brace = text.find("{", i)
        bracket = text.find("[", i)
        starts = [p for p in (brace, bracket) if p >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            i = start + 1
            continue
        found.append(value)
        i = end
    return found


def _load_schema_text(call: AssertionCall, text: str) -> Any:
    if text.startswith("file://"):
        path = Path(text[len("file://") :])
        if not path.is_absolute():
            path = call.context.base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AssertionConfigError(
                f'"{type_name(call)}" schema file {str(path)!r} cannot be read ({exc.strerror}). '
                "Fix: point `value: file://...` at an existing JSON or YAML schema file."
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AssertionConfigError(
            f'Invalid JSON schema for "{type_name(call)}": not valid JSON/YAML ({exc}). '
            "Fix: give the schema as a mapping, or a JSON/YAML string."
        ) from None


def schema_validator(call: AssertionCall) -> jsonschema.protocols.Validator | None:
    """The validator for the assertion's schema value, None when no schema was given."""
    value = call.value
    if value is None or value == "":
        return None
    schema = _load_schema_text(call, value) if isinstance(value, str) else value
    if not isinstance(schema, (dict, bool)):
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion must have a string, boolean, or object value (a JSON '
            f"schema); got {describe_value(schema)}. Fix: `value: {{type: object, required: "
            "[name]}`."
        )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]  # booleans are valid schemas
    except jsonschema.exceptions.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise AssertionConfigError(
            f'Invalid JSON schema for "{type_name(call)}" at {path}: {exc.message}. '
            "Fix the schema (see https://json-schema.org)."
        ) from None
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def _ajv_message(error: jsonschema.exceptions.ValidationError) -> str:
    """One validation error in ajv's ``errorsText`` style: ``data/latitude must be number``."""
    where = "data" + "".join(f"/{p}" for p in error.absolute_path)
    kind = error.validator
    expected = error.validator_value
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{where} must be {','.join(str(t) for t in types)}"
    if kind == "required" and isinstance(error.instance, dict) and isinstance(expected, list):
        missing = [k for k in expected if k not in error.instance]
        return f"{where} must have required property '{missing[0] if missing else '?'}'"
    if kind == "enum":
        return f"{where} must be equal to one of the allowed values"
    if kind == "const":
        return f"{where} must be equal to constant"
    if kind == "additionalProperties":
        return f"{where} must NOT have additional properties"
    if kind == "format":
        return f'{where} must match format "{expected}"'
    limits = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if kind in limits:
        return f"{where} must be {limits[str(kind)]} {expected}"
    if kind in ("minLength", "maxLength", "minItems", "maxItems"):
        word = "fewer" if str(kind).startswith("max") else "more"
        unit = "characters" if "Length" in str(kind) else "items"
        return f"{where} must NOT have {word} than {expected} {unit}"
    if kind == "pattern":
        return f'{where} must match pattern "{expected}"'
    return f"{where} {error.message}"


def schema_errors(validator: jsonschema.protocols.Validator, instance: Any) -> str | None:
    """ajv-style joined errors, or None when ``instance`` is valid."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    return ", ".join(_ajv_message(e) for e in errors)


def handle_is_json(call: AssertionCall) -> GradingResult:
    """``is-json``: the whole output parses as JSON, optionally valid against a schema."""
    validator = schema_validator(call)
    if isinstance(call.output, (dict, list)):
        parsed: Any = call.output
    else:
        parsed = parse_json(output_text(call.output))
    if parsed is _NO_JSON:
        passed = call.inverse
        return GradingResult(
            passed=passed,
            score=1.0 if passed else 0.0,
            reason=PASSED if passed else "Expected output to be valid JSON",
        )
    if validator is None:
        passed = not call.inverse
        return GradingResult(
            passed=passed,
            score=1.0 if passed else 0.0,
            reason=PASSED if passed else "Expected output to not be valid JSON",
        )
    errors = schema_errors(validator, parsed)
    passed = (errors is None) != call.inverse
    if passed:
        return GradingResult(passed=True, score=1.0, reason=PASSED)
    reason = (
        "Output is JSON that conforms to the provided schema"
        if call.inverse
        else f"JSON does not conform to the provided schema. Errors: {errors}"
    )
    return GradingResult(passed=False, score=0.0, reason=reason)


def handle_contains_json(call: AssertionCall) -> GradingResult:
    """``contains-json``: JSON embedded in the output; with a schema, any candidate validating
    passes (``not-`` passes when none does)."""
    validator = schema_validator(call)
    if isinstance(call.output, (dict, list)):
        candidates: list[Any] = [call.output]
    else:
        candidates = extract_json_values(output_text(call.output))
    if not candidates:
        passed = call.inverse
        return GradingResult(
            passed=passed,
            score=1.0 if passed else 0.0,
            reason=PASSED if passed else "Expected output to contain valid JSON",
        )
    if validator is None:
        passed = not call.inverse
        return GradingResult(
            passed=passed,
            score=1.0 if passed else 0.0,
            reason=PASSED if passed else "Expected output to not contain valid JSON",
        )
    first_errors: str | None = None
    any_valid = False
    for candidate in candidates:
        errors = schema_errors(validator, candidate)
        if errors is None:
            any_valid = True
            break
        if first_errors is None:
            first_errors = errors
    passed = any_valid != call.inverse
    if passed:
        return GradingResult(passed=True, score=1.0, reason=PASSED)
    reason = (
        "Output contains JSON conforming to the provided schema"
        if call.inverse
        else f"JSON does not conform to the provided schema. Errors: {first_errors}"
    )
    return GradingResult(passed=False, score=0.0, reason=reason)


HANDLERS: dict[str, BuiltinHandler] = {
    "is-json": handle_is_json,
    "contains-json": handle_contains_json,
    **markup.HANDLERS,
    **sql.HANDLERS,
}
