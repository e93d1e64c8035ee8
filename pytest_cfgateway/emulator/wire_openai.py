"""OpenAI chat completions and embeddings, and the providers that speak them (groq,
perplexity-ai, deepseek, cerebras, openrouter, mistral, grok, azure-openai, workers-ai ``v1``,
and the gateway's ``compat`` endpoint)."""

from __future__ import annotations

import base64
import json
import re
import struct
import time
import uuid
from typing import Any

from .model import Answer, Prompt, content_text, embed, logprobs, think
from .wire import (
    NOT_JSON,
    Ctx,
    ErrorStyle,
    ProviderCall,
    Reply,
    bad_json,
    error_reply,
    is_int,
    is_number,
    openai_error,
    rule_error,
    sse,
    stream_pieces,
    stream_reply,
    words,
)

_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
#: Parameters the real OpenAI API accepts on chat/completions (unknown ones are a 400 there).
OPENAI_CHAT_PARAMS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "response_format",
        "seed",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "reasoning_effort",
        "metadata",
        "store",
        "service_tier",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    }
)
_REASONING = re.compile(r"^(o\d|gpt-5)")
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}


def is_reasoning_model(model: str) -> bool:
    """OpenAI o-series and gpt-5* models (``max_completion_tokens``, default temperature)."""
    return bool(_REASONING.match(model.rsplit("/", 1)[-1]))


def _invalid(style: ErrorStyle, message: str, status: int = 400) -> Reply:
    return error_reply(style, status, "invalid_request", message)


def parse_chat(
    body: Any,
    style: ErrorStyle,
    *,
    require_model: bool = True,
    strict_params: bool = False,
) -> Prompt | Reply:
    """Validate an OpenAI chat body; the ``Prompt`` or the provider's 400 ``Reply``."""
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(
            style,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        )
    model = body.get("model")
    if require_model and (not isinstance(model, str) or not model):
        return _invalid(style, "you must provide a model parameter")
    if strict_params:
        unknown = sorted(set(body) - OPENAI_CHAT_PARAMS)
        if unknown:
            return _invalid(style, f"Unrecognized request argument supplied: {unknown[0]}")
    messages = body.get("messages")
    if messages is None:
        return _invalid(style, "Missing required parameter: 'messages'.")
    if not isinstance(messages, list) or not messages:
        return _invalid(style, "Invalid 'messages': expected a non-empty array of messages.")
    pairs: list[tuple[str, str]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            return _invalid(style, f"Invalid type for 'messages[{i}]': expected an object.")
        role = msg.get("role")
        if role not in _ROLES:
            return _invalid(
                style,
                f"Invalid value: {role!r}. Supported values are: 'system', 'assistant', "
                f"'user', 'function', 'tool', and 'developer'. (param messages[{i}].role)",
            )
        if "content" not in msg and not (role == "assistant" and msg.get("tool_calls")):
            return _invalid(style, f"Missing required parameter: 'messages[{i}].content'.")
        text = content_text(msg.get("content"))
        if text is None:
            return _invalid(
                style,
                f"Invalid 'messages[{i}].content': expected a string or an array of content "
                "parts like {'type': 'text', 'text': '...'}.",
            )
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            return _invalid(style, f"Missing required parameter: 'messages[{i}].tool_call_id'.")
        pairs.append((str(role), text))
    for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = body.get(name)
        if value is not None and (not is_number(value) or not lo <= value <= hi):
            return _invalid(
                style, f"Invalid '{name}': expected a number between {lo} and {hi}, got {value!r}."
            )
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None and (not is_int(limit) or limit < 1):
        return _invalid(style, f"Invalid 'max_tokens': expected an integer >= 1, got {limit!r}.")
    n = body.get("n", 1)
    if not is_int(n) or n < 1:
        return _invalid(style, f"Invalid 'n': expected an integer >= 1, got {n!r}.")
    if strict_params and isinstance(model, str) and is_reasoning_model(model):
        if "max_tokens" in body:
            return _invalid(
                style,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
            )
        temp = body.get("temperature")
        if temp is not None and temp != 1:
            return _invalid(
                style,
                f"Unsupported value: 'temperature' does not support {temp} with this model. "
                "Only the default (1) value is supported.",
            )
    return Prompt.of(pairs, limit)


def openai_tool_calls(answer: Answer) -> list[dict[str, Any]]:
    """The answer's tool calls in OpenAI's ``tool_calls`` shape."""
    return [
        {
            "id": f"call_{i}_{uuid.uuid5(uuid.NAMESPACE_OID, c['name']).hex[:12]}",
            "type": "function",
            "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
        }
        for i, c in enumerate(answer.tool_calls)
    ]


#: OpenAI-compatible providers whose streams always end with a usage chunk (no
#: ``stream_options`` needed).
ALWAYS_STREAM_USAGE = frozenset({"mistral", "perplexity-ai"})


def chat_reply(
    body: dict[str, Any], answer: Answer, model: str, *, always_usage: bool = False
) -> Reply:
    """An OpenAI ``chat.completion`` reply (or an SSE stream when ``stream`` is true)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text if (answer.text or not answer.tool_calls) else None,
        "refusal": None,
    }
    if answer.tool_calls:
        message["tool_calls"] = openai_tool_calls(answer)
    lp: dict[str, Any] | None = None
    if body.get("logprobs"):
        lp = {
            "content": [
                {"token": t, "logprob": v, "bytes": list(t.encode()), "top_logprobs": []}
                for t, v in logprobs(answer.text)
            ],
            "refusal": None,
        }
    finish = _FINISH.get(answer.finish_reason, answer.finish_reason)
    n = body.get("n", 1) if is_int(body.get("n", 1)) else 1
    usage = {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens * n,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens * n,
    }
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.get("stream"):
        return _stream(cid, created, model, answer, finish, usage, body, always_usage)
    return Reply(
        status=200,
        body={
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": i, "message": message, "logprobs": lp, "finish_reason": finish}
                for i in range(n)
            ],
            "usage": usage,
            "system_fingerprint": "fp_cfgateway_emulator",
        },
        model=model,
        tokens_in=usage["prompt_tokens"],
        tokens_out=usage["completion_tokens"],
    )


def _stream(
    cid: str,
    created: int,
    model: str,
    answer: Answer,
    finish: str,
    usage: dict[str, int],
    body: dict[str, Any],
    always_usage: bool = False,
) -> Reply:
    """OpenAI SSE: a role chunk, one chunk per word, tool calls as an id/name fragment then
    argument fragments, a finish chunk, a usage chunk (``stream_options.include_usage``;
    ``always_usage`` for providers such as Mistral that always send it), ``[DONE]``."""

    def chunk(delta: dict[str, Any], reason: str | None) -> str:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }
        return sse(data)

    parts = [chunk({"role": "assistant", "content": ""}, None)]
    for piece in stream_pieces(answer.text):
        parts.append(chunk({"content": piece}, None))
    for i, call in enumerate(openai_tool_calls(answer)):
        fn = call["function"]
        head = {"index": i, "id": call["id"], "type": "function"}
        parts.append(chunk({"tool_calls": [{**head, "function": {"name": fn["name"]}}]}, None))
        args = fn["arguments"]
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            parts.append(
                chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}, None)
            )
    parts.append(chunk({}, finish))
    opts = body.get("stream_options")
    if always_usage or (isinstance(opts, dict) and opts.get("include_usage")):
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        parts.append(sse(data))
    parts.append(sse("[DONE]"))
    return stream_reply(parts, model, usage["prompt_tokens"], usage["completion_tokens"])


def handle_chat(
    call: ProviderCall,
    ctx: Ctx,
    style: ErrorStyle = openai_error,
    *,
    model: str | None = None,
    strict_params: bool = False,
    rules_model: str | None = None,
    rules_provider: str | None = None,
) -> Reply:
    """Validate and answer one OpenAI-format chat request.

    ``model`` overrides the body's model (Azure: the deployment). ``rules_provider`` /
    ``rules_model`` are what reply rules are matched against (compat: the prefixed provider).
    """
    prompt = parse_chat(call.body, style, require_model=model is None, strict_params=strict_params)
    if isinstance(prompt, Reply):
        return prompt
    name = model if model is not None else str(call.body["model"])
    answer = think(ctx.rules, prompt, rules_provider or call.provider, rules_model or name)
    if answer.error_status:
        return rule_error(style, answer.error_status)
    return chat_reply(call.body, answer, name, always_usage=call.provider in ALWAYS_STREAM_USAGE)


def handle_embeddings(
    call: ProviderCall, ctx: Ctx, style: ErrorStyle = openai_error, *, model: str | None = None
) -> Reply:
    """OpenAI ``embeddings``: deterministic unit vectors, ``dimensions`` honoured."""
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(style)
    name = model if model is not None else body.get("model")
    if not isinstance(name, str) or not name:
        return _invalid(style, "you must provide a model parameter")
    raw = body.get("input")
    inputs: list[str]
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        inputs = list(raw)
    elif isinstance(raw, list) and raw and all(is_int(x) for x in raw):
        inputs = [" ".join(map(str, raw))]
    else:
        return _invalid(
            style, "'$.input' is invalid: expected a string or a non-empty array of strings."
        )
    if any(not s for s in inputs):
        return _invalid(style, "'$.input' is invalid: input strings must not be empty.")
    dims = body.get("dimensions", ctx.embedding_dimensions)
    if not is_int(dims) or not 1 <= dims <= 4096:
        return _invalid(style, f"Invalid 'dimensions': expected an integer 1..4096, got {dims!r}.")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        return _invalid(style, f"Invalid 'encoding_format': {fmt!r}; use 'float' or 'base64'.")
    data: list[dict[str, Any]] = []
    for i, text in enumerate(inputs):
        vec = embed(text, dims)
        value: Any = vec
        if fmt == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(words(t) for t in inputs)
    return Reply(
        status=200,
        body={
            "object": "list",
            "data": data,
            "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        model=name,
        tokens_in=tokens,
    )
