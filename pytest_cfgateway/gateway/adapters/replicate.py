"""Replicate predictions (``predictions`` with ``Prefer: wait``).

Request: ``{version: <model>, input: {...}}``; ``version`` accepts ``owner/name``,
``owner/name:version`` or a version id, as Replicate documents. ``input`` holds ``prompt``
(non-system messages flattened, see ``_common.flatten_messages``) and ``system_prompt``
(system messages), then the options: ``max_tokens`` is sent as both ``max_tokens`` and
``max_new_tokens`` (Meta Llama 3 models read the first, older and community models the second;
Replicate ignores inputs a model does not declare), ``stop`` -> ``stop_sequences`` (a
comma-separated string, as Replicate's language models take it); every other option goes into
``input`` unchanged, except ``webhook``/``webhook_events_filter``, which are prediction fields,
and promptfoo's ``prompt: {prefix, suffix}``, which wraps the prompt text (a model's chat
template written out, e.g. ``<s>[INST] `` ... `` [/INST]``).

Reply: a prediction object. ``output`` is a string or a list of tokens (joined with "");
``starting``/``processing`` means unfinished: ``poll_path`` returns ``predictions/{id}`` to GET;
``failed``/``canceled`` raise GatewayProviderError with Replicate's ``error``. Usage comes from
``metrics.input_token_count``/``output_token_count`` when present.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..errors import GatewayConfigError, GatewayProviderError
from ..types import ChatCall, ParsedReply, RawResponse, Usage
from ._common import as_int, flatten_messages, model_options, require_dict, split_system, stop_list
from .base import Adapter

_PENDING = ("starting", "processing")
_PREDICTION_FIELDS = ("webhook", "webhook_events_filter")


def _wrap(text: str, template: Any, slug: str) -> str:
    """The prompt with promptfoo's ``prompt: {prefix, suffix}`` provider option applied."""
    if template is None:
        return text
    if not isinstance(template, dict) or set(template) - {"prefix", "suffix"}:
        raise GatewayConfigError(
            f"{slug}: option 'prompt' must be {{prefix: ..., suffix: ...}}, got {template!r}",
            provider=slug,
        )
    parts = (template.get("prefix"), text, template.get("suffix"))
    if not all(p is None or isinstance(p, str) for p in parts):
        raise GatewayConfigError(
            f"{slug}: option 'prompt': prefix and suffix must be strings", provider=slug
        )
    return "".join(p or "" for p in parts)


class ReplicateAdapter(Adapter):
    """Replicate's predictions API for language models."""

    slug: ClassVar[str] = "replicate"
    key_env_vars: ClassVar[tuple[str, ...]] = ("REPLICATE_API_KEY", "REPLICATE_API_TOKEN")

    def stream_refusal(self, call: ChatCall) -> str | None:
        return (
            "Replicate streams from the prediction's own urls.stream address "
            "(streaming.api.replicate.com), which does not go through the gateway; set "
            "`stream: false`"
        )

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return "predictions", {}

    def extra_headers(self, call: ChatCall) -> dict[str, str]:
        return {"Prefer": "wait"}

    def body(self, call: ChatCall) -> Any:
        if not call.model:
            raise GatewayConfigError(
                "replicate needs a model, e.g. replicate:meta/meta-llama-3-8b-instruct",
                provider=self.slug,
            )
        opts = model_options(call, self.slug)
        system, rest = split_system(call.messages, self.slug)
        text = flatten_messages(rest, self.slug) if rest else ""
        inputs: dict[str, Any] = {"prompt": _wrap(text, opts.pop("prompt", None), self.slug)}
        if system:
            inputs["system_prompt"] = "\n\n".join(system)
        body: dict[str, Any] = {"version": call.model}
        for field in _PREDICTION_FIELDS:
            if field in opts:
                body[field] = opts.pop(field)
        max_tokens = opts.pop("max_tokens", None)
        max_completion = opts.pop("max_completion_tokens", None)
        max_tokens = max_completion if max_tokens is None else max_tokens
        if max_tokens is not None:
            inputs["max_tokens"] = max_tokens
            inputs["max_new_tokens"] = opts.pop("max_new_tokens", max_tokens)
        if "stop" in opts:
            stops = stop_list(opts.pop("stop"))
            if stops:
                inputs["stop_sequences"] = ",".join(stops)
        given = opts.pop("input", None)
        if isinstance(given, dict):
            inputs.update(given)
        for key, value in opts.items():
            inputs.setdefault(key, value)
        body["input"] = inputs
        return body

    def _prediction(self, response: RawResponse) -> dict[str, Any]:
        body = require_dict(response.body)
        if body is None or not isinstance(body.get("status"), str):
            raise self.bad_reply(response, "expected a prediction object with a status")
        return body

    def poll_path(self, response: RawResponse, call: ChatCall) -> str | None:
        body = self._prediction(response)
        if body["status"] in _PENDING:
            if not body.get("id"):
                raise self.bad_reply(response, "unfinished prediction without an id")
            return f"predictions/{body['id']}"
        return None

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = self._prediction(response)
        status = body["status"]
        if status in ("failed", "canceled"):
            raise GatewayProviderError(
                f"replicate: prediction {body.get('id', '?')} {status}: "
                f"{body.get('error') or 'no error detail'}",
                status=response.status,
                provider=self.slug,
                body=body,
            )
        if status != "succeeded":
            raise GatewayProviderError(
                f"replicate: prediction {body.get('id', '?')} is still {status}; it did not "
                "finish in time (raise requestTimeout or retry)",
                status=response.status,
                provider=self.slug,
                body=body,
            )
        output = body.get("output")
        if output is None:
            text = ""
        elif isinstance(output, str):
            text = output
        elif isinstance(output, list):
            text = "".join(x if isinstance(x, str) else json.dumps(x) for x in output)
        else:
            text = json.dumps(output, ensure_ascii=False)
        metrics = require_dict(body.get("metrics")) or {}
        prompt = as_int(metrics.get("input_token_count"))
        completion = as_int(metrics.get("output_token_count"))
        return ParsedReply(
            text=text,
            usage=Usage(prompt, completion, prompt + completion),
            model=str(body["model"]) if body.get("model") else None,
        )
