"""Google AI Studio (Gemini): ``{v1beta|v1}/models/{model}:generateContent``,
``:streamGenerateContent`` (``?alt=sse``) and embeddings."""

from __future__ import annotations

import re
import uuid
from typing import Any

from .model import Answer, Prompt, embed, think
from .wire import (
    NOT_JSON,
    Ctx,
    ProviderCall,
    Reply,
    bad_json,
    error_reply,
    google_error,
    is_int,
    rule_error,
    sse,
    stream_pieces,
    stream_reply,
    words,
)

ROUTE = re.compile(r"^(v1|v1beta)/models/([^:/][^:]*):([A-Za-z]+)$")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


_TOP = frozenset(
    {
        "contents",
        "systemInstruction",
        "generationConfig",
        "safetySettings",
        "tools",
        "toolConfig",
        "cachedContent",
        "labels",
    }
)
_GEN = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "presencePenalty",
        "frequencyPenalty",
        "seed",
        "responseLogprobs",
        "logprobs",
        "thinkingConfig",
        "responseModalities",
        "mediaResolution",
        "speechConfig",
        "enableEnhancedCivicAnswers",
    }
)
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}


def _invalid(message: str) -> Reply:
    return error_reply(google_error, 400, "invalid_request", message)


def _unknown(name: str, where: str = "") -> Reply:
    at = f" at '{where}'" if where else ""
    return _invalid(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')


def _parts_text(where: str, content: Any) -> str | Reply:
    if not isinstance(content, dict):
        return _invalid(f"* {where}: must be an object with 'parts'")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        return _invalid(f"* {where}.parts: contents.parts must not be empty.")
    texts: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            return _invalid(f"* {where}.parts: each part must be an object like {{'text': ...}}")
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


def parse_generate(body: Any) -> Prompt | Reply:
    """Validate a ``generateContent`` body (proto-JSON: camelCase or snake_case names)."""
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(google_error, "Invalid JSON payload received.")
    for key in body:
        if _camel(key) not in _TOP:
            return _unknown(key)
    norm = {_camel(k): v for k, v in body.items()}
    gen = norm.get("generationConfig") or {}
    if not isinstance(gen, dict):
        return _invalid("Invalid value at 'generation_config': expected an object")
    for key in gen:
        if _camel(key) not in _GEN:
            return _unknown(key, "generation_config")
    gen = {_camel(k): v for k, v in gen.items()}
    limit = gen.get("maxOutputTokens")
    if limit is not None and not is_int(limit):
        return _invalid("Invalid value at 'generation_config.max_output_tokens': expected an int")
    contents = norm.get("contents")
    if not isinstance(contents, list) or not contents:
        return _invalid("* GenerateContentRequest.contents: contents is not specified")
    pairs: list[tuple[str, str]] = []
    system = norm.get("systemInstruction")
    if system is not None:
        text = _parts_text("GenerateContentRequest.system_instruction", system)
        if isinstance(text, Reply):
            return text
        pairs.append(("system", text))
    for i, content in enumerate(contents):
        role = content.get("role", "user") if isinstance(content, dict) else None
        if role not in ("user", "model", "function"):
            return _invalid("Please use a valid role: user, model.")
        text = _parts_text(f"GenerateContentRequest.contents[{i}]", content)
        if isinstance(text, Reply):
            return text
        pairs.append((str(role), text))
    return Prompt.of(pairs, limit)


def _generate(
    call: ProviderCall, ctx: Ctx, model: str, stream: bool = False, sse_mode: bool = False
) -> Reply:
    prompt = parse_generate(call.body)
    if isinstance(prompt, Reply):
        return prompt
    answer = think(ctx.rules, prompt, call.provider, model)
    if answer.error_status:
        return rule_error(google_error, answer.error_status)
    parts: list[dict[str, Any]] = []
    if answer.text or not answer.tool_calls:
        parts.append({"text": answer.text})
    parts.extend(
        {"functionCall": {"name": c["name"], "args": c["arguments"]}} for c in answer.tool_calls
    )
    finish = _FINISH.get(answer.finish_reason, answer.finish_reason)
    usage = {
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": answer.completion_tokens,
        "totalTokenCount": answer.prompt_tokens + answer.completion_tokens,
    }
    rid = uuid.uuid4().hex[:22]
    if stream:
        return _stream(answer, parts, finish, usage, model, rid, sse_mode)
    return Reply(
        status=200,
        body={
            "candidates": [
                {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": rid,
        },
        model=model,
        tokens_in=answer.prompt_tokens,
        tokens_out=answer.completion_tokens,
    )


def _stream(
    answer: Answer,
    parts: list[dict[str, Any]],
    finish: str,
    usage: dict[str, int],
    model: str,
    rid: str,
    sse_mode: bool,
) -> Reply:
    """``streamGenerateContent``: one GenerateContentResponse per word (function calls in the
    last one), the last chunk carrying ``finishReason``; usage on every chunk (prompt count
    first, the totals at the end), as Gemini does. ``alt=sse`` gives SSE ``data:`` events;
    without it the chunks come as one JSON array."""
    texts = stream_pieces(answer.text) if answer.text or not answer.tool_calls else []
    calls = [p for p in parts if "functionCall" in p]
    chunks: list[dict[str, Any]] = []
    pieces: list[list[dict[str, Any]]] = [[{"text": t}] for t in texts]
    if calls or not pieces:
        pieces.append(calls or [{"text": ""}])
    for i, chunk_parts in enumerate(pieces):
        last = i == len(pieces) - 1
        cand: dict[str, Any] = {"content": {"parts": chunk_parts, "role": "model"}, "index": 0}
        if last:
            cand["finishReason"] = finish
        chunks.append(
            {
                "candidates": [cand],
                "usageMetadata": usage if last else {"promptTokenCount": usage["promptTokenCount"]},
                "modelVersion": model,
                "responseId": rid,
            }
        )
    if not sse_mode:
        return Reply(200, chunks, model, answer.prompt_tokens, answer.completion_tokens,
                     cacheable=False)  # fmt: skip
    return stream_reply([sse(c) for c in chunks], model, answer.prompt_tokens,
                        answer.completion_tokens)  # fmt: skip


def _embed_one(ctx: Ctx, req: Any, where: str) -> list[float] | Reply:
    if not isinstance(req, dict):
        return _invalid(f"* {where}: must be an object with 'content'")
    text = _parts_text(f"{where}.content", req.get("content"))
    if isinstance(text, Reply):
        return text
    dims = req.get(
        "outputDimensionality", req.get("output_dimensionality", ctx.embedding_dimensions)
    )
    if not is_int(dims) or dims < 1:
        return _invalid(f"* {where}.output_dimensionality: must be a positive integer")
    return embed(text, dims)


def _embeddings(call: ProviderCall, ctx: Ctx, model: str, batch: bool) -> Reply:
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(google_error, "Invalid JSON payload received.")
    reqs = body.get("requests") if batch else [body]
    if not isinstance(reqs, list) or not reqs:
        return _invalid("* BatchEmbedContentsRequest.requests: requests is not specified")
    vectors: list[list[float]] = []
    for i, req in enumerate(reqs):
        vec = _embed_one(ctx, req, f"requests[{i}]" if batch else "EmbedContentRequest")
        if isinstance(vec, Reply):
            return vec
        vectors.append(vec)
    out: Any = (
        {"embeddings": [{"values": v} for v in vectors]}
        if batch
        else {"embedding": {"values": vectors[0]}}
    )
    tokens = sum(words(str(r.get("content"))) for r in reqs)
    return Reply(status=200, body=out, model=model, tokens_in=tokens)


def handle_gemini(call: ProviderCall, ctx: Ctx) -> Reply:
    """Dispatch a Gemini route; unknown routes get Google's 404."""
    m = ROUTE.match(call.path)
    if not m:
        return error_reply(
            google_error,
            404,
            "not_found",
            f"The requested URL /{call.path} was not found on this server.",
        )
    model, method = m.group(2), m.group(3)
    if method == "generateContent":
        return _generate(call, ctx, model)
    if method == "streamGenerateContent":
        return _generate(call, ctx, model, stream=True, sse_mode=call.query.get("alt") == "sse")
    if method in ("embedContent", "batchEmbedContents"):
        return _embeddings(call, ctx, model, method == "batchEmbedContents")
    return error_reply(
        google_error,
        404,
        "not_found",
        f"models/{model} method {method!r} is not supported by the emulator "
        "(use generateContent, embedContent or batchEmbedContents)",
    )
