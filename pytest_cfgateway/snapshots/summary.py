"""Best-effort text and usage of a reply, for the readable parts of a cassette.

The stored ``body`` is what replays; ``output_text`` and ``usage`` exist so a human can read
and diff a snapshot, and so live runs can report drift. The recorder takes a ``describe``
callable to do this exactly (e.g. with the provider's adapter); this module is the default,
which knows the reply shapes of the built-in wire families.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..gateway.types import PreparedRequest, RawResponse


@dataclasses.dataclass(frozen=True)
class Summary:
    """What the cassette stores beside the raw body."""

    text: str | None = None
    usage: dict[str, int] | None = None
    cost: float | None = None


def describe_response(req: PreparedRequest, raw: RawResponse) -> Summary:
    """Text and token usage of a 2xx reply in any built-in wire format (None when unknown)."""
    if not 200 <= raw.status < 300:
        return Summary()
    return Summary(text=_text(raw.body), usage=_usage(raw.body))


def _join(parts: list[Any]) -> str | None:
    texts = [
        str(p["text"]) for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)
    ]
    return "".join(texts) if texts else None


def _text(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if isinstance(body, list):  # Hugging Face: [{"generated_text": ...}]
        first = body[0] if body else None
        if isinstance(first, Mapping) and isinstance(first.get("generated_text"), str):
            return str(first["generated_text"])
        return None
    if not isinstance(body, Mapping):
        return None
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        choice = choices[0]
        message = choice.get("message")
        if isinstance(message, Mapping):
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return _join(content)
            return None
        return choice.get("text") if isinstance(choice.get("text"), str) else None
    content = body.get("content")  # Anthropic
    if isinstance(content, list):
        return _join(content)
    candidates = body.get("candidates")  # Gemini
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        cand_content = candidates[0].get("content")
        if isinstance(cand_content, Mapping) and isinstance(cand_content.get("parts"), list):
            return _join(cand_content["parts"])
        return None
    message = body.get("message")  # Cohere v2
    if isinstance(message, Mapping) and isinstance(message.get("content"), list):
        return _join(message["content"])
    result = body.get("result")  # Workers AI
    if isinstance(result, Mapping) and isinstance(result.get("response"), str):
        return str(result["response"])
    output = body.get("output")  # Replicate
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(o, str) for o in output):
        return "".join(output)
    if isinstance(body.get("text"), str):  # Cohere v1
        return str(body["text"])
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(body: Any) -> dict[str, int] | None:
    if not isinstance(body, Mapping):
        return None
    usage = body.get("usage")
    if isinstance(usage, Mapping) and isinstance(usage.get("tokens"), Mapping):
        usage = usage["tokens"]  # Cohere v2
    meta = body.get("usageMetadata")
    result = body.get("result")
    if usage is None and isinstance(result, Mapping):
        usage = result.get("usage")
    if isinstance(meta, Mapping):
        prompt = _int(meta.get("promptTokenCount"))
        completion = _int(meta.get("candidatesTokenCount"))
        total = _int(meta.get("totalTokenCount"))
    elif isinstance(usage, Mapping):
        prompt = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion = _int(usage.get("completion_tokens", usage.get("output_tokens")))
        total = _int(usage.get("total_tokens"))
    else:
        return None
    if prompt is None and completion is None and total is None:
        return None
    p, c = prompt or 0, completion or 0
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": total or p + c}
