"""JSON assertions (is-json, contains-json) and the aggregate of the structured families.

``HANDLERS`` here also carries the HTML/XML (`markup`) and SQL (`sql`) handlers, so a
registry that imports ``structured.HANDLERS`` gets every structured-output type.

As in promptfoo 0.123.1:

- ``is-json``: the whole output must ``JSON.parse`` (any JSON value: object, array, number,
  string, ``null``);
- ``contains-json``: only ``{...}`` objects are extracted from the text (promptfoo's
  ``extractJsonObjects``: brace matching from every ``{``, an unclosed object at the end is
  closed, each candidate is read as YAML flow/JSON with ``//`` comments allowed); a bare
  array in prose does not count. Passes when any extracted object validates;
- schemas (a mapping, a JSON/YAML string, or ``file://schema.{json,yaml}``) are compiled
  only when there is something to validate, like promptfoo, and checked the way ajv's
  strict mode does (`ajv.strict_schema_problem`): an unknown keyword, an unknown format or a
  non-draft-07 ``$schema`` is a config error naming it (promptfoo: a row error). Validation
  uses draft-07 semantics with format checking (`ajv.draft7_validator`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
import yaml

from ..config.yaml12 import Yaml12Loader
from . import markup, sql
from ._helpers import binary, describe_value, output_text, type_name
from .ajv import check_meta, draft7_validator, strict_schema_problem
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


_MAX_JSON_LENGTH = 100_000
_JS_SPACE = re.compile(
    r"[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
_LETTER = re.compile(r"[a-zA-Z]")


def _escaped(line: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and line[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _comment_line(line: str) -> str:
    """One line with a ``//`` comment outside quotes turned into ``#`` (URLs kept)."""
    if "//" not in line:
        return line
    state = "normal"
    out: list[str] = []
    i = 0
    while i < len(line):
        char = line[i]
        prev = line[i - 1] if i > 0 else ""
        nxt = line[i + 1] if i + 1 < len(line) else ""
        if state == "normal":
            if char == "'" and not _LETTER.match(prev):
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "/" and nxt == "/":
                start = 0
                for j in range(i - 1, -1, -1):
                    if _JS_SPACE.match(line[j]):
                        start = j + 1
                        break
                if "://" not in line[start : i + 2]:
                    slashes = 2
                    while i + slashes < len(line) and line[i + slashes] == "/":
                        slashes += 1
                    return "".join(out) + "#" * (slashes // 2) + line[i + slashes :]
        elif state == "single":
            # JS tests /[a-zA-Z]/ against `undefined` at the end of a line, which matches
            if char == "'" and not _escaped(line, i) and not (_LETTER.match(nxt) or not nxt):
                state = "normal"
        elif char == '"' and not _escaped(line, i):
            state = "normal"
        out.append(char)
        i += 1
    return "".join(out)


#: Most characters of non-JSON candidates read with the (slow, pure-Python) YAML parser per
#: output; past it only strict JSON is tried. Real outputs stay far below; it bounds the time
#: spent on pathological text (thousands of unclosed braces).
_YAML_BUDGET = 20_000


class _Reader:
    """Reads ``{...}`` candidates like promptfoo: JSON first, YAML within a budget."""

    def __init__(self) -> None:
        self.yaml_budget = _YAML_BUDGET

    def parse(self, text: str) -> Any:
        """The parsed candidate; raises ``ValueError``/``yaml.YAMLError`` when invalid.

        promptfoo turns ``//`` comments into ``#`` and reads the text as YAML (js-yaml). Here
        strict JSON is tried first: on valid JSON the comment pass changes nothing and YAML
        reads the same. Otherwise the comment pass and YAML follow. PyYAML and js-yaml agree
        on JSON and ordinary flow mappings; they differ on odd inputs such as an empty key
        (``{: 1}``). Candidates whose first entry is itself a ``{``/``[`` (a complex YAML
        key, never a JSON object) skip the YAML step.
        """
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            pass
        if text[1:].lstrip()[:1] in ("{", "[") or len(text) > self.yaml_budget:
            raise ValueError("not a JSON object")
        self.yaml_budget -= len(text)
        text = "\n".join(_comment_line(line) for line in text.split("\n"))
        try:
            return yaml.load(text, Loader=Yaml12Loader)
        except yaml.YAMLError:
            if "\t" not in text:
                raise
        # js-yaml takes tabs as separators in flow collections; PyYAML refuses them
        return yaml.load(text.replace("\t", " "), Loader=Yaml12Loader)


def _matching_braces(text: str) -> dict[int, int]:
    """For every ``{`` that closes, the index just past its matching ``}`` (quotes are not
    special, as in promptfoo's scan)."""
    match: dict[int, int] = {}
    stack: list[int] = []
    for index, char in enumerate(text):
        if char == "{":
            stack.append(index)
        elif char == "}" and stack:
            match[stack.pop()] = index + 1
    return match


def extract_json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects embedded in ``text``, as promptfoo's ``extractJsonObjects`` finds them.

    From every ``{`` (not inside an object already found), braces are counted (quotes are not
    special) up to the matching ``}``; that slice is parsed, and an object at the end of the
    text that never closes is closed with the missing ``}``. Only objects count: arrays,
    numbers and strings in prose are not JSON objects. Slices are capped at 100,000 chars.
    """
    found: list[dict[str, Any]] = []
    match = _matching_braces(text)
    reader = _Reader()
    start = 0
    while True:
        i = text.find("{", start)
        if i < 0:
            return found
        if i + 1 == len(text):  # promptfoo's scan never looks at a "{" that ends the text
            return found
        end = match.get(i)
        if end is not None and end - i <= _MAX_JSON_LENGTH:
            candidate = text[i:end]
        else:
            end = min(i + _MAX_JSON_LENGTH, len(text))
            piece = text[i:end]
            candidate = piece + "}" * max(0, piece.count("{") - piece.count("}"))
        try:
            parsed = reader.parse(candidate)
        except (yaml.YAMLError, ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            found.append(parsed)
            start = end
        else:
            start = i + 1


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
        return yaml.load(text, Loader=Yaml12Loader)
    except yaml.YAMLError as exc:
        raise AssertionConfigError(
            f'Invalid JSON schema for "{type_name(call)}": not valid JSON/YAML ({exc}). '
            "Fix: give the schema as a mapping, or a JSON/YAML string."
        ) from None


def _js_falsy(value: Any) -> bool:
    return (
        value is None
        or value is False
        or value == ""
        or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)
    )


def schema_validator(call: AssertionCall) -> jsonschema.protocols.Validator | None:
    """The validator for the assertion's schema value, None when no schema was given.

    Raises `AssertionConfigError` for a schema promptfoo's ajv would refuse to compile: not
    an object, invalid against the draft-07 meta-schema, or rejected by strict mode (the
    message names the keyword or format and where it is).
    """
    value = call.value
    if _js_falsy(value):  # promptfoo: `if (renderedValue)`
        return None
    schema = _load_schema_text(call, value) if isinstance(value, str) else value
    if not isinstance(schema, dict) and not (isinstance(value, str) and isinstance(schema, bool)):
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion must have a string or object value (a JSON '
            f"schema); got {describe_value(schema)}. Fix: `value: {{type: object, required: "
            "[name]}`."
        )
    try:
        check_meta(schema)
    except jsonschema.exceptions.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise AssertionConfigError(
            f'Invalid JSON schema for "{type_name(call)}" at {path}: {exc.message}. '
            "Fix the schema (promptfoo validates with ajv, JSON Schema draft-07)."
        ) from None
    problem = strict_schema_problem(schema)
    if problem is not None:
        raise AssertionConfigError(
            f'Invalid JSON schema for "{type_name(call)}" at {problem.pointer}: '
            f"{problem.message}. promptfoo compiles schemas with ajv in strict mode (JSON "
            "Schema draft-07 keywords, ajv-formats formats), which rejects this schema too. "
            f"Fix: {problem.fix}."
        )
    validator: jsonschema.protocols.Validator = draft7_validator(schema)
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
    """``is-json``: the whole output parses as JSON (any value), optionally valid against a
    schema. The schema is compiled only when the output parses, as in promptfoo."""
    if isinstance(call.output, (dict, list)):
        parsed: Any = call.output
    else:
        parsed = parse_json(output_text(call.output))
    if parsed is _NO_JSON:
        return binary(call, False, "Expected output to be valid JSON")
    validator = schema_validator(call)
    if validator is None:
        return binary(call, True, "Expected output to not be valid JSON")
    errors = schema_errors(validator, parsed)
    return binary(
        call,
        errors is None,
        f"JSON does not conform to the provided schema. Errors: {errors}",
        "Output is JSON that conforms to the provided schema",
    )


def handle_contains_json(call: AssertionCall) -> GradingResult:
    """``contains-json``: a JSON object embedded in the output; with a schema, any object
    validating passes (``not-`` passes when none does). Arrays in prose do not count."""
    candidates = extract_json_objects(output_text(call.output))
    if not candidates:
        return binary(call, False, "Expected output to contain valid JSON")
    validator = schema_validator(call)
    if validator is None:
        return binary(call, True, "Expected output to not contain valid JSON")
    last_errors: str | None = None
    any_valid = False
    for candidate in candidates:
        errors = schema_errors(validator, candidate)
        if errors is None:
            any_valid = True
            break
        last_errors = errors  # promptfoo reports the last object's errors
    return binary(
        call,
        any_valid,
        f"JSON does not conform to the provided schema. Errors: {last_errors}",
        "Output contains JSON conforming to the provided schema",
    )


HANDLERS: dict[str, BuiltinHandler] = {
    "is-json": handle_is_json,
    "contains-json": handle_contains_json,
    **markup.HANDLERS,
    **sql.HANDLERS,
}
