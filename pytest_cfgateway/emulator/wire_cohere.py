"""Cohere chat (``v2/chat`` and the older ``v1/chat``) and embed (``v2/embed``, ``v1/embed``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .model import Answer, Prompt, content_text, embed, think
from .wire import (
    NOT_JSON,
    Ctx,
    ProviderCall,
    Reply,
    bad_json,
    cohere_error,
    error_reply,
    is_int,
    rule_error,
    sse,
    stream_pieces,
    stream_reply,
    words,
)

_FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "TOOL_CALL"}
_V1_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


def _invalid(message: str) -> Reply:
    return error_reply(cohere_error, 400, "invalid_request", f"invalid request: {message}")


def _usage(answer: Answer) -> dict[str, Any]:
    counts = {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens}
    return {"billed_units": dict(counts), "tokens": dict(counts)}


def _limit(body: dict[str, Any]) -> int | Reply | None:
    limit = body.get("max_tokens")
    if limit is not None and (not is_int(limit) or limit < 1):
        return _invalid("max_tokens must be a positive integer")
    return limit


def _answer(
    call: ProviderCall, ctx: Ctx, body: dict[str, Any], model: str, pairs: list[tuple[str, str]]
) -> Answer | Reply:
    """The reply rules' answer to ``pairs``, or the error Reply a bad limit or rule asks for."""
    limit = _limit(body)
    if isinstance(limit, Reply):
        return limit
    answer = think(ctx.rules, Prompt.of(pairs, limit), call.provider, model)
    if answer.error_status:
        return rule_error(cohere_error, answer.error_status)
    return answer


def _chat_v2(call: ProviderCall, ctx: Ctx, body: dict[str, Any]) -> Reply:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _invalid("model must be specified")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid("messages must be a non-empty list")
    pairs: list[tuple[str, str]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in (
            "system",
            "user",
            "assistant",
            "tool",
        ):
            return _invalid(f"messages[{i}].role must be one of system, user, assistant, tool")
        text = content_text(msg.get("content"))
        if text is None:
            return _invalid(f"messages[{i}].content must be a string or a list of text parts")
        pairs.append((msg["role"], text))
    answer = _answer(call, ctx, body, model, pairs)
    if isinstance(answer, Reply):
        return answer
    message: dict[str, Any] = {"role": "assistant"}
    if answer.text or not answer.tool_calls:
        message["content"] = [{"type": "text", "text": answer.text}]
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for c in answer.tool_calls
        ]
    out = {
        "id": str(uuid.uuid4()),
        "finish_reason": _FINISH.get(answer.finish_reason, answer.finish_reason),
        "message": message,
        "usage": _usage(answer),
    }
    if body.get("stream") is True:
        return _stream_v2(out, model, answer)
    return Reply(
        status=200,
        body=out,
        model=model,
        tokens_in=answer.prompt_tokens,
        tokens_out=answer.completion_tokens,
    )


def _stream_v2(out: dict[str, Any], model: str, answer: Answer) -> Reply:
    """Cohere v2's chat stream: message-start, content-start/delta.../end per text block,
    tool-call-start/delta/end per call, message-end (finish reason and usage)."""
    rid = out["id"]

    def event(kind: str, **fields: Any) -> str:
        return sse({"id": rid, "type": kind, **fields} if kind == "message-start" else
                   {"type": kind, **fields}, kind)  # fmt: skip

    start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
             "citations": []}  # fmt: skip
    events = [event("message-start", delta={"message": start})]
    message = out["message"]
    for index, block in enumerate(message.get("content") or []):
        opening = {"message": {"content": {"type": "text", "text": ""}}}
        events.append(event("content-start", index=index, delta=opening))
        for piece in stream_pieces(block["text"]):
            piece_delta = {"message": {"content": {"text": piece}}}
            events.append(event("content-delta", index=index, delta=piece_delta))
        events.append(event("content-end", index=index))
    for index, tc in enumerate(message.get("tool_calls") or []):
        head = {**tc, "function": {"name": tc["function"]["name"], "arguments": ""}}
        events.append(
            event("tool-call-start", index=index, delta={"message": {"tool_calls": head}})
        )
        args = tc["function"]["arguments"]
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            frag = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
            events.append(event("tool-call-delta", index=index, delta=frag))
        events.append(event("tool-call-end", index=index))
    end = {"finish_reason": out["finish_reason"], "usage": out["usage"]}
    events.append(event("message-end", delta=end))
    return stream_reply(events, model, answer.prompt_tokens, answer.completion_tokens)


def _chat_v1(call: ProviderCall, ctx: Ctx, body: dict[str, Any]) -> Reply:
    message = body.get("message")
    if not isinstance(message, str):
        return _invalid("message must be a string")
    model = body.get("model", "command-r")
    if not isinstance(model, str):
        return _invalid("model must be a string")
    pairs: list[tuple[str, str]] = []
    if isinstance(body.get("preamble"), str):
        pairs.append(("system", body["preamble"]))
    history = body.get("chat_history", [])
    if not isinstance(history, list):
        return _invalid("chat_history must be a list")
    for i, turn in enumerate(history):
        if not isinstance(turn, dict) or turn.get("role") not in _V1_ROLES:
            return _invalid(f"chat_history[{i}].role must be one of USER, CHATBOT, SYSTEM, TOOL")
        pairs.append((_V1_ROLES[turn["role"]], str(turn.get("message", ""))))
    pairs.append(("user", message))
    answer = _answer(call, ctx, body, model, pairs)
    if isinstance(answer, Reply):
        return answer
    out: dict[str, Any] = {
        "response_id": str(uuid.uuid4()),
        "text": answer.text,
        "generation_id": str(uuid.uuid4()),
        "chat_history": [
            *history,
            {"role": "USER", "message": message},
            {"role": "CHATBOT", "message": answer.text},
        ],
        "finish_reason": _FINISH.get(answer.finish_reason, answer.finish_reason),
        "meta": {"api_version": {"version": "1"}, **_usage(answer)},
    }
    if answer.tool_calls:
        out["tool_calls"] = [
            {"name": c["name"], "parameters": c["arguments"]} for c in answer.tool_calls
        ]
    return Reply(
        status=200,
        body=out,
        model=model,
        tokens_in=answer.prompt_tokens,
        tokens_out=answer.completion_tokens,
    )


def _embed(ctx: Ctx, body: dict[str, Any], v2: bool) -> Reply:
    model = body.get("model", "embed-english-v3.0")
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return _invalid("texts must be a non-empty list of strings")
    if v2 and not isinstance(body.get("model"), str):
        return _invalid("model must be specified")
    vectors = [embed(t, ctx.embedding_dimensions) for t in texts]
    tokens = sum(words(t) for t in texts)
    meta = {
        "api_version": {"version": "2" if v2 else "1"},
        "billed_units": {"input_tokens": tokens},
    }
    out: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "embeddings": {"float": vectors} if v2 else vectors,
        "texts": texts,
        "meta": meta,
    }
    return Reply(status=200, body=out, model=str(model), tokens_in=tokens)


def handle_cohere(call: ProviderCall, ctx: Ctx) -> Reply:
    """Dispatch ``v2/chat``, ``v1/chat``, ``v2/embed``, ``v1/embed``."""
    routes = {"v2/chat", "v1/chat", "v2/embed", "v1/embed"}
    if call.path not in routes:
        return error_reply(cohere_error, 404, "not_found", f"404 page not found: /{call.path}")
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(cohere_error, "invalid request: the body is not a valid JSON object")
    if call.path == "v2/chat":
        return _chat_v2(call, ctx, body)
    if call.path == "v1/chat":
        return _chat_v1(call, ctx, body)
    return _embed(ctx, body, call.path == "v2/embed")
