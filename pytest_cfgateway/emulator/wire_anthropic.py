"""Anthropic Messages API (``v1/messages``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .model import Prompt, content_text, think
from .wire import (
    NOT_JSON,
    Ctx,
    ProviderCall,
    Reply,
    anthropic_error,
    bad_json,
    error_reply,
    is_int,
    is_number,
    rule_error,
    sse,
    stream_pieces,
    stream_reply,
)

ANTHROPIC_PARAMS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
        "context_management",
    }
)
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _invalid(message: str) -> Reply:
    return error_reply(anthropic_error, 400, "invalid_request", message)


def _block_text(where: str, content: Any) -> str | Reply:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return _invalid(f"{where}: Input should be a valid list or string")
    texts: list[str] = []
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return _invalid(f"{where}.{j}: Input should be an object with a 'type' field")
        kind = block["type"]
        if kind == "text":
            if not isinstance(block.get("text"), str):
                return _invalid(f"{where}.{j}.text: Field required")
            texts.append(block["text"])
        elif kind == "tool_result":
            inner = content_text(block.get("content", ""))
            texts.append(inner or "")
    return "\n".join(texts)


def parse_messages(call: ProviderCall) -> Prompt | Reply:
    """Validate an Anthropic Messages request; the ``Prompt`` or Anthropic's 400."""
    if not call.headers.get("anthropic-version"):
        return _invalid("anthropic-version: header is required")
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(anthropic_error, "There was an issue with your request body: invalid JSON")
    extra = sorted(set(body) - ANTHROPIC_PARAMS)
    if extra:
        return _invalid(f"{extra[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _invalid("model: Field required")
    if "max_tokens" not in body:
        return _invalid("max_tokens: Field required")
    if not is_int(body["max_tokens"]) or body["max_tokens"] < 1:
        return _invalid("max_tokens: Input should be a valid integer greater than or equal to 1")
    temp = body.get("temperature")
    if temp is not None and (not is_number(temp) or not 0 <= temp <= 1):
        return _invalid("temperature: Input should be less than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid("messages: Field required (a non-empty list of messages)")
    pairs: list[tuple[str, str]] = []
    system = body.get("system")
    if system is not None:
        text = _block_text("system", system)
        if isinstance(text, Reply):
            return text
        pairs.append(("system", text))
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            return _invalid(f"messages.{i}: Input should be a valid dictionary")
        role = msg.get("role")
        if role == "system":
            return _invalid(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            return _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in msg:
            return _invalid(f"messages.{i}.content: Field required")
        text = _block_text(f"messages.{i}.content", msg["content"])
        if isinstance(text, Reply):
            return text
        pairs.append((role, text))
    return Prompt.of(pairs, body["max_tokens"])


def handle_messages(call: ProviderCall, ctx: Ctx) -> Reply:
    """Answer ``v1/messages`` with an Anthropic ``message``."""
    if call.path != "v1/messages":
        return error_reply(anthropic_error, 404, "not_found", "Not Found")
    prompt = parse_messages(call)
    if isinstance(prompt, Reply):
        return prompt
    model = str(call.body["model"])
    answer = think(ctx.rules, prompt, call.provider, model)
    if answer.error_status:
        return rule_error(anthropic_error, answer.error_status)
    content: list[dict[str, Any]] = []
    if answer.text or not answer.tool_calls:
        content.append({"type": "text", "text": answer.text})
    for c in answer.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": c["name"],
                "input": c["arguments"],
            }
        )
    message = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP.get(answer.finish_reason, answer.finish_reason),
        "stop_sequence": None,
        "usage": {
            "input_tokens": answer.prompt_tokens,
            "output_tokens": answer.completion_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    if call.body.get("stream") is True:
        return _stream(message, model, answer.prompt_tokens, answer.completion_tokens)
    return Reply(
        status=200,
        body=message,
        model=model,
        tokens_in=answer.prompt_tokens,
        tokens_out=answer.completion_tokens,
    )


def _stream(message: dict[str, Any], model: str, tokens_in: int, tokens_out: int) -> Reply:
    """Anthropic's event stream: message_start (input usage), ping, per block
    content_block_start / text_delta or input_json_delta pieces / content_block_stop,
    message_delta (stop reason, output usage), message_stop."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events = [sse({"type": "message_start", "message": start}, "message_start")]
    events.append(sse({"type": "ping"}, "ping"))
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in stream_pieces(block["text"])]
        else:
            opening = {**block, "input": {}}
            args = json.dumps(block["input"])
            half = len(args) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in (args[:half], args[half:])
            ]
        events.append(
            sse(
                {"type": "content_block_start", "index": index, "content_block": opening},
                "content_block_start",
            )
        )
        for delta in deltas:
            events.append(
                sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            )
        events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    events.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
            "message_delta",
        )
    )
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return stream_reply(events, model, tokens_in, tokens_out)
