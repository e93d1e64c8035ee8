"""Hugging Face Inference API text classification, answered deterministically.

Hugging Face serves every task on the same model path and picks the pipeline by the model.
The emulator cannot know a model's task, so it reads the body: a request whose
``parameters`` is an object holding no text-generation parameter (``{}``, as promptfoo's
``huggingface:text-classification`` provider and the gateway's ``classify`` call send it,
or only the classification parameters ``top_k`` / ``function_to_apply``) is a
text-classification request; without ``parameters``, or with any text-generation parameter
(``return_full_text``, which both promptfoo and pytest-cfgateway always send for text
generation), it is text generation (`wire_hf`).

The rule: each ``class:<label>`` marker in ``inputs`` (label: letters, digits, ``_ . -``;
case kept) scores that label 0.9; every other label scores 0.1 split evenly. Without a
marker the text is ``neutral`` (0.9) and ``other`` (0.1). The reply is one row for the one
input, highest score first: ``[[{"label", "score"}, ...]]``; ``top_k`` keeps that many.

Token classification (``parameters`` holding ``aggregation_strategy``, as promptfoo's
``huggingface:token-classification`` provider sends it): each ``class:<label>`` marker is an
entity of group ``<label>`` scored 0.9, ``[{"entity_group", "score", "word", "start",
"end"}, ...]``; a text without a marker has no entities (``[]``).

A reply rule (``--rules``) that matches the input answers instead: its ``status`` as a
Hugging Face error, or its ``reply`` (JSON, as written) as the body, so tests can give any
reply shape.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .model import Prompt, think
from .wire import (
    Ctx,
    ProviderCall,
    Reply,
    error_reply,
    huggingface_error,
    is_int,
    rule_error,
    words,
)

#: The parameters of Hugging Face's text-classification task.
CLASSIFY_PARAMETERS = frozenset({"top_k", "function_to_apply"})
#: The parameters of Hugging Face's token-classification task.
TOKEN_PARAMETERS = frozenset({"aggregation_strategy", "ignore_labels", "stride"})
MARKED_SCORE = 0.9
_MARKER_RE = re.compile(r"class:([A-Za-z0-9_.-]+)")


def is_classification(params: Any) -> bool:
    """Is a request with these ``parameters`` a text- or token-classification request?"""
    return isinstance(params, dict) and (
        set(params) <= CLASSIFY_PARAMETERS or (bool(params) and set(params) <= TOKEN_PARAMETERS)
    )


def entities(text: str) -> list[dict[str, Any]]:
    """The token-classification entities of ``text`` (see the module docstring)."""
    return [
        {
            "entity_group": m.group(1),
            "score": MARKED_SCORE,
            "word": m.group(0),
            "start": m.start(),
            "end": m.end(),
        }
        for m in _MARKER_RE.finditer(text)
    ]


def classify(text: str) -> list[dict[str, Any]]:
    """The labels and scores of ``text``, highest first (see the module docstring)."""
    marked = list(dict.fromkeys(_MARKER_RE.findall(text)))
    if not marked:
        return [{"label": "neutral", "score": MARKED_SCORE}, {"label": "other", "score": 0.1}]
    rows = [{"label": label, "score": MARKED_SCORE} for label in marked]
    if "other" not in marked:
        rows.append({"label": "other", "score": 0.1})
    return rows


def handle_classification(call: ProviderCall, ctx: Ctx, inputs: str, params: Any) -> Reply:
    """Answer one text-classification request for the model ``call.path``."""
    model = call.path
    top_k = params.get("top_k")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        return error_reply(
            huggingface_error,
            400,
            "invalid_request",
            "Error in `parameters.top_k`: must be a positive integer",
        )
    answer = think(ctx.rules, Prompt.of([("user", inputs)], None), call.provider, model)
    if answer.error_status:
        return rule_error(huggingface_error, answer.error_status)
    if answer.text != inputs:  # a reply rule matched: its reply is the body
        try:
            body: Any = json.loads(answer.text)
        except ValueError:
            body = answer.text
        return Reply(status=200, body=body, model=model, tokens_in=words(inputs))
    if params and set(params) <= TOKEN_PARAMETERS:
        return Reply(status=200, body=entities(inputs), model=model, tokens_in=words(inputs))
    rows = classify(inputs)
    if top_k is not None:
        rows = rows[:top_k]
    return Reply(status=200, body=[rows], model=model, tokens_in=words(inputs))
