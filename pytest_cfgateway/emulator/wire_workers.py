"""Workers AI: ``{model}`` (Cloudflare envelope) plus the OpenAI-compatible ``v1/...`` routes."""

from __future__ import annotations

from typing import Any

from .model import Prompt, content_text, embed, think
from .wire import (
    NOT_JSON,
    Ctx,
    ProviderCall,
    Reply,
    bad_json,
    error_reply,
    is_int,
    openai_error,
    rule_error,
    sse,
    stream_pieces,
    stream_reply,
    words,
    workers_error,
)
from .wire_openai import handle_chat, handle_embeddings


def _invalid(message: str) -> Reply:
    return error_reply(workers_error, 400, "invalid_request", f"AiError: Bad input: {message}")


def _ok(result: dict[str, Any], model: str, tokens_in: int, tokens_out: int = 0) -> Reply:
    return Reply(
        status=200,
        body={"result": result, "success": True, "errors": [], "messages": []},
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )


def _prompt(body: dict[str, Any]) -> Prompt | Reply:
    limit = body.get("max_tokens")
    if limit is not None and (not is_int(limit) or limit < 1):
        return _invalid("Type mismatch of '/max_tokens', expected a positive integer")
    if isinstance(body.get("prompt"), str):
        return Prompt.of([("user", body["prompt"])], limit)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid(
            "Error: oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt'; "
            "required properties at '/' are 'messages'"
        )
    pairs: list[tuple[str, str]] = []
    for i, msg in enumerate(messages):
        text = content_text(msg.get("content")) if isinstance(msg, dict) else None
        if text is None or not isinstance(msg.get("role"), str):
            return _invalid(f"Type mismatch of '/messages/{i}', expected {{role, content}}")
        pairs.append((msg["role"], text))
    return Prompt.of(pairs, limit)


def _run(call: ProviderCall, ctx: Ctx) -> Reply:
    model = call.path
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(workers_error, "AiError: Bad input: the body is not a JSON object")
    if "/bge-" in model or "embedding" in model:
        text = body.get("text")
        texts = [text] if isinstance(text, str) else text
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return _invalid("required properties at '/' are 'text'")
        vectors = [embed(t, ctx.embedding_dimensions) for t in texts]
        result = {
            "shape": [len(vectors), ctx.embedding_dimensions],
            "data": vectors,
            "pooling": "mean",
        }
        return _ok(result, model, sum(words(t) for t in texts))
    prompt = _prompt(body)
    if isinstance(prompt, Reply):
        return prompt
    answer = think(ctx.rules, prompt, call.provider, model)
    if answer.error_status:
        return rule_error(workers_error, answer.error_status)
    result = {
        "response": answer.text,
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
    }
    if answer.tool_calls:
        result["tool_calls"] = [
            {"name": c["name"], "arguments": c["arguments"]} for c in answer.tool_calls
        ]
    if body.get("stream") is True:
        return _stream(result, model, answer.prompt_tokens, answer.completion_tokens)
    return _ok(result, model, answer.prompt_tokens, answer.completion_tokens)


def _stream(result: dict[str, Any], model: str, tokens_in: int, tokens_out: int) -> Reply:
    """Workers AI's native stream: ``data: {"response": "tok", "p": ...}`` per word, a last
    chunk with an empty response plus ``usage`` (and ``tool_calls``), ``data: [DONE]``; the
    events are separated by CRLF, as captures of the real service show."""
    events = [
        sse({"response": piece, "p": "abc"}).replace("\n", "\r\n")
        for piece in stream_pieces(result["response"])
    ]
    last: dict[str, Any] = {"response": "", "usage": result["usage"]}
    if "tool_calls" in result:
        last["tool_calls"] = result["tool_calls"]
    events.append(sse(last).replace("\n", "\r\n"))
    events.append(sse("[DONE]").replace("\n", "\r\n"))
    return stream_reply(events, model, tokens_in, tokens_out)


def handle_workers(call: ProviderCall, ctx: Ctx) -> Reply:
    """Dispatch ``@cf/...``/``@hf/...`` models and ``v1/chat/completions``/``v1/embeddings``."""
    if call.path == "v1/chat/completions":
        return handle_chat(call, ctx, openai_error)
    if call.path == "v1/embeddings":
        return handle_embeddings(call, ctx, openai_error)
    if call.path.startswith(("@cf/", "@hf/")) and call.path.count("/") >= 2:
        return _run(call, ctx)
    return error_reply(
        workers_error,
        400,
        "not_found",
        f"No such model {call.path} or task (Workers AI models look like "
        "@cf/meta/llama-3.1-8b-instruct)",
    )
