"""Hugging Face Inference API text generation: the route is the model path.

Request: ``{inputs, parameters}``. ``inputs`` is the prompt text (chat messages flattened, see
``_common.flatten_messages``). Options go into ``parameters`` with max_tokens /
max_completion_tokens -> ``max_new_tokens`` and stop -> ``stop`` (a list); temperature,
top_p, top_k, seed, repetition_penalty, do_sample, ... keep their names.
``return_full_text`` defaults to false so the reply holds only the generated text. HF's
top-level ``options`` object (``use_cache``, ``wait_for_model``) stays top-level.

Reply: ``[{generated_text}]`` (a bare object is accepted too). Hugging Face reports no token
counts, so usage is zero unless ``details: true`` was requested (then the generated token
count and finish reason are read from ``details``).

Text classification (call kind ``classify``, the ``classifier`` assertion): the same model
path, body ``{inputs, parameters: {}}`` exactly as promptfoo 0.123.1 sends it (provider
options are not sent: promptfoo sends none). Reply ``[[{label, score}, ...]]`` (or the bare
list): each label's score; ``{error}`` is a provider error, any other shape a bad reply.

Token classification (``classify`` with the option ``task: token-classification``, what
promptfoo's ``huggingface:token-classification`` provider does): body ``{inputs,
parameters: {aggregation_strategy}, options: {use_cache, wait_for_model}}`` with promptfoo's
defaults (``simple``, true, false); reply ``[{entity_group, score, ...}]``, each entity
group's highest score.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import GatewayConfigError, GatewayProviderError
from ..types import ChatCall, ParsedReply, RawResponse, Usage
from ._common import as_int, flatten_messages, model_options, require_dict, stop_list
from .base import Adapter

#: The ``task`` option of a ``classify`` call that asks a token-classification model.
TOKEN_TASK = "token-classification"
_RENAMES = {"max_tokens": "max_new_tokens", "max_completion_tokens": "max_new_tokens"}
_FINISH = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


class HuggingFaceAdapter(Adapter):
    """Hugging Face serverless text-generation models."""

    slug: ClassVar[str] = "huggingface"
    # HF_TOKEN and HF_API_TOKEN are the names promptfoo reads
    key_env_vars: ClassVar[tuple[str, ...]] = ("HUGGINGFACE_API_KEY", "HF_TOKEN", "HF_API_TOKEN")

    def stream_refusal(self, call: ChatCall) -> str | None:
        return (
            "the gateway's huggingface route is the (legacy) Inference API text-generation "
            "endpoint, whose token stream is not read here; set `stream: false`, or use an "
            "OpenAI-compatible route such as compat:{provider}/{model}"
        )

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        model = call.model.strip("/")
        if not model:
            raise GatewayConfigError(
                "huggingface needs a model path, e.g. "
                "huggingface:mistralai/Mistral-7B-Instruct-v0.3",
                provider=self.slug,
            )
        return model, {}

    def body(self, call: ChatCall) -> Any:
        opts = model_options(call, self.slug)
        top: dict[str, Any] = {}
        if "options" in opts:
            top["options"] = opts.pop("options")
        params: dict[str, Any] = {"return_full_text": False}
        given = opts.pop("parameters", None)
        if isinstance(given, dict):
            params.update(given)
        if "stop" in opts:
            params["stop"] = stop_list(opts.pop("stop"))
        for key, value in opts.items():
            params[_RENAMES.get(key, key)] = value
        return {"inputs": flatten_messages(call.messages, self.slug), "parameters": params, **top}

    # --- text classification -----------------------------------------------------------

    def classify_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return self.route(call)

    def classify_body(self, call: ChatCall) -> Any:
        text = call.inputs[0] if call.inputs else ""
        opts = call.options
        if opts.get("task") == TOKEN_TASK:
            return {
                "inputs": text,
                "parameters": {
                    "aggregation_strategy": opts.get("aggregation_strategy") or "simple"
                },
                "options": {
                    "use_cache": opts.get("use_cache", True),
                    "wait_for_model": opts.get("wait_for_model") or False,
                },
            }
        return {"inputs": text, "parameters": {}}

    def parse_classification(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = response.body
        if isinstance(body, dict) and "error" in body:
            raise GatewayProviderError(
                f"huggingface: API call error: {body['error']}",
                status=response.status,
                provider=self.slug,
                body=body,
            )
        if call.options.get("task") == TOKEN_TASK:
            return ParsedReply(text="", scores=_entity_scores(response, self))
        items = body
        if isinstance(body, list) and len(body) == 1 and isinstance(body[0], list):
            items = body[0]  # one input: promptfoo reads its row
        if not isinstance(items, list) or not items or not all(_is_label(i) for i in items):
            raise self.bad_reply(response, "expected [[{label, score}, ...]]")
        scores = {item["label"]: float(item["score"]) for item in items}
        return ParsedReply(text="", scores=scores)

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = response.body
        item = body[0] if isinstance(body, list) and body else body
        item = require_dict(item)
        if item is None:
            raise self.bad_reply(response, "expected [{generated_text}]")
        if "error" in item and "generated_text" not in item:
            raise GatewayProviderError(
                f"huggingface: {item['error']}",
                status=response.status,
                provider=self.slug,
                body=body,
            )
        text = item.get("generated_text")
        if not isinstance(text, str):
            raise self.bad_reply(response, "generated_text is not a string")
        details = require_dict(item.get("details")) or {}
        generated = as_int(details.get("generated_tokens"))
        reason = details.get("finish_reason")
        return ParsedReply(
            text=text,
            usage=Usage(0, generated, generated),
            finish_reason=_FINISH.get(reason, reason) if isinstance(reason, str) else None,
        )


def _is_label(item: Any) -> bool:
    """One ``{label, score}`` entry of a classification reply (a finite number score)."""
    if not isinstance(item, dict) or not isinstance(item.get("label"), str):
        return False
    return _is_number(item.get("score"))


def _entity_scores(response: RawResponse, adapter: Adapter) -> dict[str, float]:
    """promptfoo's reading of a token-classification reply: each ``entity_group``'s highest
    score (an empty list: no scores)."""
    body = response.body
    if not isinstance(body, list) or not all(
        isinstance(item, dict) and _is_number(item.get("score")) for item in body
    ):
        raise adapter.bad_reply(response, "expected [{entity_group, score, ...}]")
    scores: dict[str, float] = {}
    for item in body:
        group = item.get("entity_group")
        label = "undefined" if group is None else str(group)
        score = float(item["score"])
        if not scores.get(label) or scores[label] < score:  # promptfoo: a 0 is replaced
            scores[label] = score
    return scores


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float("inf")
    )
