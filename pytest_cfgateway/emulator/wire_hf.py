"""Hugging Face Inference API text generation: ``{model path}`` with ``{inputs, parameters}``."""

from __future__ import annotations

from typing import Any

from .model import Prompt, think
from .wire import (
    NOT_JSON,
    Ctx,
    ProviderCall,
    Reply,
    bad_json,
    error_reply,
    huggingface_error,
    is_int,
    rule_error,
)
from .wire_hf_classify import handle_classification, is_classification

HF_PARAMETERS = frozenset(
    {
        "adapter_id",
        "best_of",
        "decoder_input_details",
        "details",
        "do_sample",
        "frequency_penalty",
        "grammar",
        "max_new_tokens",
        "max_time",
        "num_return_sequences",
        "repetition_penalty",
        "return_full_text",
        "seed",
        "stop",
        "stop_sequences",
        "temperature",
        "top_k",
        "top_n_tokens",
        "top_p",
        "truncate",
        "typical_p",
        "watermark",
    }
)


def _invalid(message: str) -> Reply:
    return error_reply(huggingface_error, 400, "invalid_request", message)


def handle_huggingface(call: ProviderCall, ctx: Ctx) -> Reply:
    """Answer ``[{"generated_text": ...}]``; ``return_full_text`` defaults to true, as the
    Inference API's text-generation pipeline does (the prompt is prefixed to the reply)."""
    model = call.path
    if not model or model.startswith("/"):
        return error_reply(huggingface_error, 404, "not_found", "Model not found")
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(huggingface_error, "Error in `inputs`: the body is not a JSON object")
    inputs = body.get("inputs")
    if not isinstance(inputs, str):
        return _invalid("Error in `inputs`: field required (a string prompt)")
    if is_classification(body.get("parameters")):
        return handle_classification(call, ctx, inputs, body["parameters"])
    params: Any = body.get("parameters") or {}
    if not isinstance(params, dict):
        return _invalid("Error in `parameters`: expected an object")
    unknown = sorted(set(params) - HF_PARAMETERS)
    if unknown:
        hint = " (use max_new_tokens)" if unknown[0] in ("max_tokens", "max_length") else ""
        return _invalid(f"Error in `parameters`: unknown field `{unknown[0]}`{hint}")
    limit = params.get("max_new_tokens")
    if limit is not None and (not is_int(limit) or limit < 1):
        return _invalid("Error in `parameters.max_new_tokens`: must be a positive integer")
    answer = think(ctx.rules, Prompt.of([("user", inputs)], limit), call.provider, model)
    if answer.error_status:
        return rule_error(huggingface_error, answer.error_status)
    full = params.get("return_full_text", True)
    text = f"{inputs}{answer.text}" if full else answer.text
    return Reply(
        status=200,
        body=[{"generated_text": text}],
        model=model,
        tokens_in=answer.prompt_tokens,
        tokens_out=answer.completion_tokens,
    )
