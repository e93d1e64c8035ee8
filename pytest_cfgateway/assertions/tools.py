"""Tool-call assertions: is-valid-openai-tools-call (and the legacy function-call forms),
tool-call-f1.

Tool calls are read from the completion (``Completion.tool_calls``, OpenAI-normalised) when
present, else from the output: an object with ``tool_calls``, a list of calls, or the same as
JSON text (also embedded in prose or ``` fences).

``is-valid-openai-tools-call`` checks every call against the provider config's ``tools``
(``[{type: function, function: {name, parameters}}]``): the function must exist and its
``arguments`` (a JSON string or an object) must validate against ``parameters`` with
jsonschema. ``is-valid-openai-function-call`` / ``is-valid-function-call`` do the same for a
legacy ``function_call`` against ``functions`` (or ``tools``).

``tool-call-f1``: F1 of the *set* of called tool names against the expected names (list or
comma-separated string); threshold default 1.0; score is F1 (also under ``not-``, as in promptfoo).
Names are found in OpenAI (``tool_calls``/``function``), Responses (``function_call``),
Anthropic (``tool_use``), Gemini (``functionCall``, ``toolCall.functionCalls``) and simple
``{name}`` shapes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators

from ._helpers import PASSED, describe_value, fmt_num, output_text, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult
from .structured import extract_json_values


def _parse_maybe_json(output: Any) -> Any:
    if isinstance(output, str):
        try:
            return json.loads(output)
        except ValueError:
            found = extract_json_values(output)
            return found[0] if len(found) == 1 else found or None
    return output


def _calls_from(call: AssertionCall) -> Any:
    completion = call.context.completion
    if completion is not None and completion.tool_calls:
        return completion.tool_calls
    data = _parse_maybe_json(call.output)
    if isinstance(data, dict) and "tool_calls" in data:
        return data["tool_calls"]
    return data


def _declared_functions(call: AssertionCall, keys: tuple[str, ...]) -> dict[str, Any]:
    config = call.context.provider_config or {}
    declared = None
    for key in keys:
        if config.get(key):
            declared = config[key]
            break
    if not isinstance(declared, list) or not declared:
        raise AssertionConfigError(
            f'"{type_name(call)}" needs the provider config to declare `{keys[0]}` (a list of '
            "{type: function, function: {name, parameters}}); none found for provider "
            f"{call.context.provider_id or '(unknown)'}. Fix: add `config.{keys[0]}` to the "
            "provider."
        )
    out: dict[str, Any] = {}
    for entry in declared:
        fn = entry.get("function", entry) if isinstance(entry, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise AssertionConfigError(
                f'"{type_name(call)}": provider `{keys[0]}` entry {describe_value(entry)} has no '
                "function name. Fix: `{type: function, function: {name: ..., parameters: ...}}`."
            )
        out[fn["name"]] = fn.get("parameters")
    return out


def _check_function_call(fn: Any, declared: dict[str, Any]) -> str | None:
    """None when ``fn`` ({name, arguments}) is a valid call of a declared function."""
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        return f"Tool call has no function name: {output_text(fn)}"
    name = fn["name"]
    if name not in declared:
        return f'Called "{name}", but there is no function with that name'
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            return f'Call to "{name}" has arguments that are not valid JSON: {exc}'
    schema = declared[name]
    if schema is None:
        return None
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise AssertionConfigError(
            f'The parameters schema of tool "{name}" is not a valid JSON schema: {exc.message}.'
        ) from None
    errors = sorted(cls(schema).iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors
        )
        return (
            f'Call to "{name}" with arguments {output_text(args)} does not match schema: {details}'
        )
    return None


_MCP_ERROR = re.compile(r"MCP Tool Error \(([^)]+)\): (.+)")
_MCP_RESULT = re.compile(r"MCP Tool Result \(([^)]+)\):")


def _valid_looking(calls: Any) -> bool:
    """promptfoo's shape gate: a non-empty list of ``{function: {name: str, arguments: str}}``."""
    return (
        isinstance(calls, list)
        and bool(calls)
        and all(
            isinstance(c, dict)
            and isinstance(c.get("function"), dict)
            and isinstance(c["function"].get("name"), str)
            and isinstance(c["function"].get("arguments"), str)
            for c in calls
        )
    )


def handle_is_valid_openai_tools_call(call: AssertionCall) -> GradingResult:
    """``is-valid-openai-tools-call`` as in promptfoo 0.123.1.

    - Output mentioning an MCP tool result passes; an MCP tool error fails.
    - Otherwise the tool calls are the provider's (``Completion.tool_calls``), or the output
      itself: a list of calls or an object with ``tool_calls``. Text is not parsed, so tool
      calls written as JSON text fail, as in promptfoo.
    - Each call needs ``function.name`` and ``function.arguments`` as strings, and must match
      a declared tool's ``parameters`` schema.
    - promptfoo ignores ``not-`` for this type: ``not-is-valid-openai-tools-call`` gives the
      same verdict as the plain type.
    """
    text = output_text(call.output)
    if "MCP Tool Result" in text or "MCP Tool Error" in text:
        if "MCP Tool Error" in text:
            m = _MCP_ERROR.search(text)
            who, what = (m.group(1), m.group(2)) if m else ("unknown", "unknown error")
            return GradingResult(False, 0.0, f"MCP tool call failed for {who}: {what}")
        m = _MCP_RESULT.search(text)
        who = m.group(1) if m else "unknown"
        return GradingResult(True, 1.0, f"MCP tool call succeeded for {who}")
    completion = call.context.completion
    if completion is not None and completion.tool_calls:
        calls: Any = completion.tool_calls
    else:
        calls = call.output
        if isinstance(calls, dict) and "tool_calls" in calls:
            calls = calls["tool_calls"]
    if not _valid_looking(calls):
        return GradingResult(
            False,
            0.0,
            f"OpenAI did not return a valid-looking tools response: {output_text(calls)}",
        )
    declared = _declared_functions(call, ("tools", "functions"))
    problems = [p for c in calls if (p := _check_function_call(c["function"], declared))]
    if problems:
        return GradingResult(False, 0.0, "; ".join(problems))
    return GradingResult(True, 1.0, PASSED)


def handle_is_valid_openai_function_call(call: AssertionCall) -> GradingResult:
    """``is-valid-openai-function-call`` / ``is-valid-function-call`` as in promptfoo 0.123.1.

    - The output must be a call object ``{name, arguments}`` (or ``{function_call: {...}}``)
      whose ``arguments`` is a string: JSON *text* output and object arguments fail as not
      valid-looking (a provider's first tool call is used when the output is not an object).
    - ``arguments`` must parse as JSON (an empty string does not) and match the declared
      function's ``parameters`` (``functions``, else ``tools``).
    - promptfoo ignores ``not-`` for this type: the ``not-`` form gives the plain verdict.
    """
    data = call.output
    completion = call.context.completion
    if (not isinstance(data, dict)) and completion is not None and completion.tool_calls:
        data = completion.tool_calls[0].get("function")
    if isinstance(data, dict) and isinstance(data.get("function_call"), dict):
        data = data["function_call"]
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("name"), str)
        or not isinstance(data.get("arguments"), str)
    ):
        return GradingResult(
            False,
            0.0,
            f"OpenAI did not return a valid-looking function call: {output_text(data)}",
        )
    try:
        json.loads(data["arguments"])
    except ValueError as exc:
        return GradingResult(
            False, 0.0, f'Call to "{data["name"]}" has arguments that are not valid JSON: {exc}'
        )
    declared = _declared_functions(call, ("functions", "tools"))
    problem = _check_function_call(data, declared)
    if problem:
        return GradingResult(False, 0.0, problem)
    return GradingResult(True, 1.0, PASSED)


# --- tool-call-f1 ------------------------------------------------------------------------


def tool_names(data: Any) -> set[str]:
    """Names of the tools called in ``data`` (any of the shapes in the module doc)."""
    names: set[str] = set()
    if data is None:
        return names
    if isinstance(data, str):
        parsed = _parse_maybe_json(data)
        return set() if parsed is None or isinstance(parsed, str) else tool_names(parsed)
    if isinstance(data, dict):
        if isinstance(data.get("tool_calls"), list):
            for tc in data["tool_calls"]:
                if isinstance(tc, dict):
                    fn = tc.get("function")
                    if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                        names.add(fn["name"])
                    if isinstance(tc.get("name"), str):
                        names.add(tc["name"])
            return names
        if data.get("type") in ("tool_use", "function_call") and isinstance(data.get("name"), str):
            return {data["name"]}
        fc = data.get("functionCall")
        if isinstance(fc, dict):
            return {fc["name"]} if isinstance(fc.get("name"), str) else set()
        live = data.get("toolCall")
        if isinstance(live, dict) and isinstance(live.get("functionCalls"), list):
            return {
                f["name"]
                for f in live["functionCalls"]
                if isinstance(f, dict) and isinstance(f.get("name"), str)
            }
        return names
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("tool_calls"), list):
                names |= tool_names(item)
            elif item.get("type") == "tool_use" and isinstance(item.get("name"), str):
                names.add(item["name"])
            elif isinstance(item.get("functionCall"), dict):
                if isinstance(item["functionCall"].get("name"), str):
                    names.add(item["functionCall"]["name"])
            elif isinstance(item.get("function"), dict):
                if isinstance(item["function"].get("name"), str):
                    names.add(item["function"]["name"])
            elif isinstance(item.get("name"), str):
                names.add(item["name"])
    return names


def _expected_tools(call: AssertionCall) -> set[str]:
    value = call.value
    if isinstance(value, list):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    else:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion requires a value: array of tool names or '
            f"comma-separated string; got {describe_value(value)}. Fix: `value: [get_weather]`."
        )
    expected = {v for v in items if v}
    if not expected:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion requires at least one expected tool name.'
        )
    return expected


def handle_tool_call_f1(call: AssertionCall) -> GradingResult:
    """``tool-call-f1``: set F1 of called vs expected tool names >= threshold (default 1.0)."""
    expected = _expected_tools(call)
    actual = tool_names(call.output)
    completion = call.context.completion
    if not actual and completion is not None and completion.tool_calls:
        actual = tool_names({"tool_calls": completion.tool_calls})
    hits = len(expected & actual)
    precision = hits / len(actual) if actual else 0.0
    recall = hits / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    threshold = call.threshold if call.threshold is not None else 1.0
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise AssertionConfigError(
            f'"{type_name(call)}" threshold must be a number between 0 and 1; got '
            f"{describe_value(threshold)}."
        )
    meets = f1 >= threshold
    passed = meets != call.inverse
    exp_list = ", ".join(sorted(expected))
    act_list = ", ".join(sorted(actual)) or "(none)"
    if passed:
        reason = (
            f"Tool Call F1: {f1:.3f} (precision={precision:.3f}, recall={recall:.3f}). "
            f"Expected: [{exp_list}], Called: [{act_list}]"
        )
    else:
        reason = (
            f"Tool Call F1 score {f1:.3f} is {'above' if call.inverse else 'below'} threshold "
            f"{fmt_num(threshold)}. Expected: [{exp_list}], Called: [{act_list}]. "
            f"Precision={precision:.3f}, Recall={recall:.3f}"
        )
    return GradingResult(passed=passed, score=f1, reason=reason)


HANDLERS: dict[str, BuiltinHandler] = {
    "is-valid-openai-tools-call": handle_is_valid_openai_tools_call,
    "is-valid-openai-function-call": handle_is_valid_openai_function_call,
    "is-valid-function-call": handle_is_valid_openai_function_call,
    "tool-call-f1": handle_tool_call_f1,
}
