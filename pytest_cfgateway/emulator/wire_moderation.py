"""OpenAI ``moderations`` (``POST /openai/moderations``), answered deterministically.

A text is flagged for a category when it contains the marker ``flag:<category>``
(case-insensitive), e.g. ``flag:violence`` or ``flag:self-harm/intent``; a flagged category
scores 0.9 and every other category a small score derived from a hash of the text (always
below 0.01). Nothing else is ever flagged, so ordinary test outputs pass moderation.

Inputs as OpenAI takes them: a string, a list of strings (one result each), or, for the
``omni-moderation`` models, a list of content parts (``{"type": "text", "text"}`` and
``{"type": "image_url", ...}``) judged together as one result.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from .wire import NOT_JSON, Ctx, ProviderCall, Reply, bad_json, error_reply, openai_error, words

#: omni-moderation categories, in OpenAI's order.
CATEGORIES: tuple[str, ...] = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
#: The models this route knows (an unknown one is a 400, as on OpenAI).
MODELS: frozenset[str] = frozenset(
    {
        "omni-moderation-latest",
        "omni-moderation-2024-09-26",
        "text-moderation-latest",
        "text-moderation-stable",
        "text-moderation-007",
    }
)
FLAGGED_SCORE = 0.9
_MARKER_RE = re.compile(r"flag:([a-z/-]+)")


def flagged_categories(text: str) -> list[str]:
    """The categories whose ``flag:<category>`` marker occurs in ``text``, in OpenAI's order."""
    named = set(_MARKER_RE.findall(text.lower()))
    return [c for c in CATEGORIES if c in named]


def _low_score(text: str, category: str) -> float:
    digest = hashlib.sha256(f"{category}\0{text}".encode()).digest()
    return round(int.from_bytes(digest[:4], "big") / 2**32 / 100, 6)


def moderate(text: str, image: bool = False) -> dict[str, Any]:
    """One OpenAI moderation ``result`` for ``text``."""
    hits = set(flagged_categories(text))
    kinds = ["text", "image"] if image else ["text"]
    return {
        "flagged": bool(hits),
        "categories": {c: c in hits for c in CATEGORIES},
        "category_scores": {
            c: FLAGGED_SCORE if c in hits else _low_score(text, c) for c in CATEGORIES
        },
        "category_applied_input_types": {c: list(kinds) for c in CATEGORIES},
    }


def _invalid(message: str) -> Reply:
    return error_reply(openai_error, 400, "invalid_request", message)


def handle_moderations(call: ProviderCall, ctx: Ctx) -> Reply:
    """Validate and answer one ``moderations`` request."""
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(openai_error)
    model = body.get("model", "omni-moderation-latest")
    if not isinstance(model, str) or model not in MODELS:
        return _invalid(f"Invalid value for 'model': {model!r} is not a moderation model.")
    raw = body.get("input")
    texts: list[tuple[str, bool]]
    if isinstance(raw, str):
        texts = [(raw, False)]
    elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        texts = [(x, False) for x in raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, dict) for x in raw):
        if not model.startswith("omni-"):
            return _invalid(f"Model {model} does not support multi-modal inputs.")
        parts: list[str] = []
        image = False
        for i, part in enumerate(raw):
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif kind == "image_url" and isinstance(part.get("image_url"), dict):
                image = True
            else:
                return _invalid(
                    f"Invalid value for 'input[{i}]': expected a text or image_url part."
                )
        texts = [("\n".join(parts), image)]
    else:
        return _invalid("'$.input' is invalid: expected a string, strings, or content parts.")
    tokens = sum(words(t) for t, _ in texts)
    return Reply(
        status=200,
        body={
            "id": f"modr-{uuid.uuid4().hex[:24]}",
            "model": model,
            "results": [moderate(t, image) for t, image in texts],
        },
        model=model,
        tokens_in=tokens,
    )
