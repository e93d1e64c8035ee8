"""Cloudflare Workers AI through the gateway: the route is the model (``@cf/...``).

Request: ``{messages, ...options}``; Workers AI's own option names are the OpenAI ones
(max_tokens, temperature, top_p, top_k, seed, repetition_penalty, frequency_penalty,
presence_penalty, tools, response_format), so every option is copied to the top level of the
body unchanged (``max_completion_tokens`` is renamed to ``max_tokens``). Message content must be
text.

Reply: Cloudflare's envelope ``{result, success, errors, messages}``; ``result`` holds
``response`` (text, or an object in JSON mode), optional ``tool_calls`` (``{name, arguments}``)
and ``usage``. Newer models may put an OpenAI ``chat.completion`` inside ``result``; both shapes
are parsed. Workers AI reports no finish reason in its native shape: ``finish_reason`` is
``tool_calls`` when tools were called and None otherwise.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..errors import GatewayConfigError, GatewayProviderError
from ..streaming import StreamAssembler, WorkersAIAssembler
from ..types import ChatCall, ParsedReply, RawResponse, Usage
from ._common import as_int, model_options, require_dict, text_of, tool_call
from .base import Adapter
from .openai_chat import parse_openai_chat


class WorkersAIAdapter(Adapter):
    """Workers AI native model routes."""

    slug: ClassVar[str] = "workers-ai"
    key_env_vars: ClassVar[tuple[str, ...]] = ("CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN")
    supports_embeddings: ClassVar[bool] = True

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        if not call.model.startswith("@"):
            raise GatewayConfigError(
                "workers-ai models are Workers AI catalogue names starting with @, e.g. "
                f"workers-ai:@cf/meta/llama-3.1-8b-instruct; got {call.model!r}",
                provider=self.slug,
            )
        return call.model, {}

    def stream_refusal(self, call: ChatCall) -> str | None:
        return None

    def stream_assembler(self, call: ChatCall) -> StreamAssembler:
        return WorkersAIAssembler(self.slug)

    def body(self, call: ChatCall) -> Any:
        opts = model_options(call, self.slug)
        if "max_completion_tokens" in opts:
            opts.setdefault("max_tokens", opts.pop("max_completion_tokens"))
        messages = []
        for msg in call.messages:
            item = dict(msg)
            item["content"] = text_of(msg.get("content"), self.slug)
            messages.append(item)
        body: dict[str, Any] = {"messages": messages}
        if call.stream:
            body["stream"] = True
        for key, value in opts.items():
            body.setdefault(key, value)
        return body

    def _result(self, response: RawResponse) -> Any:
        body = require_dict(response.body)
        if body is None:
            raise self.bad_reply(response, "expected the {result, success} envelope")
        if body.get("success") is False:
            errors = body.get("errors") or []
            detail = "; ".join(
                f"{e.get('code', '')} {e.get('message', '')}".strip()
                if isinstance(e, dict)
                else str(e)
                for e in errors
            )
            raise GatewayProviderError(
                f"workers-ai: the model call failed: {detail or 'no error detail'}",
                status=response.status,
                provider=self.slug,
                body=response.body,
            )
        if "result" not in body:
            raise self.bad_reply(response, "no result")
        return body["result"]

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        result = require_dict(self._result(response))
        if result is None:
            raise self.bad_reply(response, "result is not an object")
        if "choices" in result:
            return parse_openai_chat(self, RawResponse(response.status, response.headers, result))
        reply = result.get("response")
        if reply is None:
            text = ""
        elif isinstance(reply, str):
            text = reply
        else:  # JSON mode returns the object itself
            text = json.dumps(reply, ensure_ascii=False)
        calls: list[dict[str, Any]] = []
        for i, tc in enumerate(result.get("tool_calls") or []):
            if not isinstance(tc, dict):
                raise self.bad_reply(response, "tool_calls entry is not an object")
            fn = require_dict(tc.get("function"))
            if fn is not None:  # OpenAI-shaped entry
                calls.append(tool_call(tc.get("id"), fn.get("name"), fn.get("arguments"), i))
            else:
                calls.append(tool_call(tc.get("id"), tc.get("name"), tc.get("arguments"), i))
        usage_obj = require_dict(result.get("usage")) or {}
        prompt, completion = (
            as_int(usage_obj.get("prompt_tokens")),
            as_int(usage_obj.get("completion_tokens")),
        )
        return ParsedReply(
            text=text,
            usage=Usage(
                prompt, completion, as_int(usage_obj.get("total_tokens")) or prompt + completion
            ),
            finish_reason="tool_calls" if calls else None,
            tool_calls=calls or None,
        )

    # --- embeddings (@cf/baai/bge-* and similar text-embedding models) -------------------

    def embed_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return self.route(call)

    def embed_body(self, call: ChatCall) -> Any:
        body: dict[str, Any] = {"text": list(call.inputs)}
        body.update(model_options(call, self.slug))
        return body

    def parse_embeddings(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        result = require_dict(self._result(response))
        rows = result.get("data") if result else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise self.bad_reply(response, "expected result.data as lists of floats")
        return ParsedReply(text="", embeddings=[[float(x) for x in r] for r in rows])
