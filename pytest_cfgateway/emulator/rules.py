"""Reply rules: prompt patterns -> deterministic replies.

A rules file is YAML or JSON holding a list (or ``{"rules": [...]}``) of mappings::

    - match: "Rubric"                 # regex searched in the full prompt text (required)
      reply: {"pass": true, "score": 1, "reason": "ok"}   # text, or any JSON value
      provider: openai                # optional: only for this gateway slug
      model: "gpt-*"                  # optional: exact name or shell-style glob
      finish_reason: stop             # optional: stop | length | tool_calls | any raw value
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]   # optional
      status: 503                     # optional: answer this provider error instead
      ignore_case: true               # optional

The first matching rule wins. In ``reply``, ``{{prompt}}``, ``{{last_user}}``, ``{{model}}``
and ``{{provider}}`` are replaced by the request's values.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

_KNOWN_KEYS = frozenset(
    {"match", "reply", "provider", "model", "finish_reason", "tool_calls", "status", "ignore_case"}
)


class RulesError(ValueError):
    """A rules file or list that cannot be used; the message names the rule and the fix."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One compiled reply rule."""

    pattern: re.Pattern[str]
    reply: str = ""
    provider: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    status: int | None = None

    def matches(self, prompt: str, provider: str, model: str) -> bool:
        """True when this rule applies to a request with this prompt text, slug and model."""
        if self.provider is not None and self.provider != provider:
            return False
        if self.model is not None and not (
            self.model == model or fnmatch.fnmatchcase(model, self.model)
        ):
            return False
        return self.pattern.search(prompt) is not None


def _normalise_tool_call(where: str, raw: Any) -> dict[str, Any]:
    """Accept ``{name, arguments}`` or OpenAI ``{type: function, function: {...}}``."""
    if not isinstance(raw, Mapping):
        raise RulesError(f"{where}: each tool call must be a mapping with 'name' and 'arguments'")
    inner = raw.get("function")
    fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else raw
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise RulesError(f"{where}: a tool call needs a non-empty string 'name'")
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise RulesError(f"{where}: tool call 'arguments' is not valid JSON ({exc})") from None
    if not isinstance(args, Mapping):
        raise RulesError(f"{where}: tool call 'arguments' must be a mapping or a JSON object")
    return {"name": name, "arguments": dict(args)}


def compile_rule(index: int, raw: Any) -> Rule:
    """Validate and compile one raw rule mapping; ``index`` is used in error messages."""
    where = f"rule #{index + 1}"
    if isinstance(raw, Rule):
        return raw
    if not isinstance(raw, Mapping):
        raise RulesError(f"{where}: expected a mapping like {{match: 'regex', reply: 'text'}}")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise RulesError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys are {', '.join(sorted(_KNOWN_KEYS))}"
        )
    match = raw.get("match")
    if not isinstance(match, str):
        raise RulesError(f"{where}: 'match' must be a regex string (use '' to match everything)")
    flags = re.IGNORECASE if raw.get("ignore_case") else 0
    try:
        pattern = re.compile(match, flags)
    except re.error as exc:
        raise RulesError(f"{where}: 'match' is not a valid regex ({exc})") from None
    reply = raw.get("reply", "")
    text = reply if isinstance(reply, str) else json.dumps(reply, separators=(", ", ": "))
    for key in ("provider", "model", "finish_reason"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise RulesError(f"{where}: '{key}' must be a string")
    calls = raw.get("tool_calls") or []
    if not isinstance(calls, list):
        raise RulesError(f"{where}: 'tool_calls' must be a list")
    status = raw.get("status")
    if status is not None and (
        not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599
    ):
        raise RulesError(f"{where}: 'status' must be an HTTP error status between 400 and 599")
    return Rule(
        pattern=pattern,
        reply=text,
        provider=raw.get("provider"),
        model=raw.get("model"),
        finish_reason=raw.get("finish_reason"),
        tool_calls=tuple(_normalise_tool_call(f"{where} tool_calls", c) for c in calls),
        status=status,
    )


def compile_rules(raw: Iterable[Any]) -> list[Rule]:
    """Compile a list of raw rule mappings (or ``Rule`` objects)."""
    return [compile_rule(i, r) for i, r in enumerate(raw)]


def load_rules(source: str | Path | Iterable[Any] | None) -> list[Rule]:
    """Rules from a YAML/JSON file path, a Python list, or None (no rules)."""
    if source is None:
        return []
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(f"cannot read rules file {path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise RulesError(f"rules file {path} is not valid YAML/JSON: {exc}") from None
        if isinstance(data, Mapping) and "rules" in data:
            data = data["rules"]
        if data is None:
            return []
        if not isinstance(data, list):
            raise RulesError(
                f"rules file {path}: expected a list of rules (or a mapping with a 'rules' list)"
            )
        try:
            return compile_rules(data)
        except RulesError as exc:
            raise RulesError(f"rules file {path}: {exc}") from None
    return compile_rules(source)


def first_match(rules: Iterable[Rule], prompt: str, provider: str, model: str) -> Rule | None:
    """The first rule that matches, or None."""
    for rule in rules:
        if rule.matches(prompt, provider, model):
            return rule
    return None
