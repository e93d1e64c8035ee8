"""The emulator's deterministic "model": echo by default, rules when one matches.

Token counts are whitespace word counts (never zero), embeddings are unit vectors built from a
hashed bag of words (so texts sharing words are closer), log-probabilities are derived from a
hash of each word. Same input, same output, on every machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .rules import Rule, first_match
from .wire import words

_ROLE_ALIASES = {"model": "assistant", "chatbot": "assistant", "developer": "system"}
_WORD = re.compile(r"[a-z0-9]+")


def content_text(content: Any) -> str | None:
    """The text of a message ``content`` (string or list of text parts); None if malformed."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
                elif part.get("type") in (None, "text"):
                    return None
            else:
                return None
        return "\n".join(texts)
    if content is None:
        return ""
    return None


@dataclasses.dataclass
class Prompt:
    """A request's conversation as ``(role, text)`` pairs, roles normalised to
    system/user/assistant/tool, plus the requested output-token limit."""

    messages: list[tuple[str, str]]
    max_tokens: int | None = None

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]], max_tokens: Any = None) -> Prompt:
        msgs = [(_ROLE_ALIASES.get(r.lower(), r.lower()), t) for r, t in pairs]
        limit = (
            max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None
        )
        return cls(msgs, limit)

    @property
    def text(self) -> str:
        """The full prompt text (every message, in order), which rules search."""
        return "\n".join(t for _, t in self.messages)

    @property
    def last_user(self) -> str:
        """The last user message (the echo reply); the last message if none is a user's."""
        for role, text in reversed(self.messages):
            if role == "user":
                return text
        return self.messages[-1][1] if self.messages else ""


@dataclasses.dataclass
class Answer:
    """What the model says. ``finish_reason`` is canonical (stop/length/tool_calls) unless a
    rule gave a raw provider value; ``tool_calls`` are ``{name, arguments: dict}``."""

    text: str
    finish_reason: str
    tool_calls: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    error_status: int | None = None


def _render(template: str, prompt: Prompt, provider: str, model: str) -> str:
    if "{{" not in template:
        return template
    values = {
        "prompt": prompt.text,
        "last_user": prompt.last_user,
        "model": model,
        "provider": provider,
    }
    return re.sub(
        r"\{\{\s*(prompt|last_user|model|provider)\s*\}\}", lambda m: values[m.group(1)], template
    )


def think(rules: Sequence[Rule], prompt: Prompt, provider: str, model: str) -> Answer:
    """The deterministic answer to ``prompt`` sent to ``provider``/``model``."""
    rule = first_match(rules, prompt.text, provider, model) if rules else None
    text = prompt.last_user if rule is None else _render(rule.reply, prompt, provider, model)
    calls = [dict(c) for c in rule.tool_calls] if rule else []
    finish = (rule.finish_reason if rule else None) or ("tool_calls" if calls else "stop")
    if prompt.max_tokens is not None and prompt.max_tokens > 0 and not calls:
        parts = text.split()
        if len(parts) > prompt.max_tokens:
            text = " ".join(parts[: prompt.max_tokens])
            finish = "length"
    return Answer(
        text=text,
        finish_reason=finish,
        tool_calls=calls,
        prompt_tokens=words(prompt.text),
        completion_tokens=words(text),
        error_status=rule.status if rule else None,
    )


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def embed(text: str, dimensions: int = 16) -> list[float]:
    """A deterministic unit vector for ``text``: hashed bag of lower-case words."""
    vec = [0.0] * dimensions
    tokens = _WORD.findall(text.lower()) or [text]
    for token in tokens:
        h = _hash(token)
        for shift in (0, 21):
            idx = (h >> shift) % dimensions
            vec[idx] += 1.0 if (h >> (shift + 17)) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:
        vec[_hash(text) % dimensions] = 1.0
        norm = 1.0
    return [round(v / norm, 8) for v in vec]


def logprobs(text: str) -> list[tuple[str, float]]:
    """Deterministic ``(token, logprob)`` pairs for the words of ``text``."""
    out: list[tuple[str, float]] = []
    for i, word in enumerate(text.split()):
        token = word if i == 0 else " " + word
        out.append((token, -round((_hash(word) % 1000) / 2000.0, 4)))
    return out
