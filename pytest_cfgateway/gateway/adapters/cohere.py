"""Cohere chat: v2 ``v2/chat`` (default) and the older v1 ``v1/chat`` (``apiVersion: v1``).

v2 messages are OpenAI-like (system/user/assistant/tool, ``tool_calls``, ``tool_call_id``) and
pass through; content parts may be text or image_url. v1 takes the last user message as
``message``, earlier turns as ``chat_history`` (roles USER/CHATBOT/SYSTEM) and leading system
messages as ``preamble``; it is text only.

Option renames (both versions): top_p -> ``p``, top_k -> ``k``, stop -> ``stop_sequences``,
max_completion_tokens -> ``max_tokens``; ``response_format`` json_schema -> Cohere's
``{type: json_object, json_schema|schema}``; v2 ``tool_choice`` required/none ->
``REQUIRED``/``NONE`` (auto is Cohere's default and is omitted). Every other option is copied to
the top level of the body, where Cohere's own options live (``safety_mode``, ``documents``,
``thinking``, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import GatewayConfigError
from ..streaming import CohereV2Assembler, StreamAssembler
from ..types import ChatCall, Message, ParsedReply, RawResponse, Usage
from ._common import (
    as_int,
    content_parts,
    model_options,
    openai_function_tool,
    part_kind,
    require_dict,
    stop_list,
    text_of,
    tool_call,
)
from .base import Adapter

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}

_RENAMES = {
    "top_p": "p",
    "top_k": "k",
    "max_completion_tokens": "max_tokens",
}

_V1_ROLES = {"user": "USER", "assistant": "CHATBOT", "system": "SYSTEM", "developer": "SYSTEM"}


class CohereAdapter(Adapter):
    """Cohere's native chat API (v2, or v1 with ``apiVersion: v1``)."""

    slug: ClassVar[str] = "cohere"
    key_env_vars: ClassVar[tuple[str, ...]] = ("COHERE_API_KEY",)
    supports_embeddings: ClassVar[bool] = True

    def _v1(self, call: ChatCall) -> bool:
        version = str(call.config.get("apiVersion") or "v2").lower()
        if version not in ("v1", "v2"):
            raise GatewayConfigError(
                f"cohere: apiVersion must be v2 (default) or v1, got {version!r}",
                provider=self.slug,
            )
        return version == "v1"

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return ("v1/chat" if self._v1(call) else "v2/chat"), {}

    def stream_refusal(self, call: ChatCall) -> str | None:
        if self._v1(call):
            return (
                "Cohere's v1 chat streams newline-delimited JSON, which is not read here; "
                "use apiVersion v2 (the default) to stream"
            )
        return None

    def stream_assembler(self, call: ChatCall) -> StreamAssembler:
        return CohereV2Assembler(self.slug)

    # --- request ------------------------------------------------------------------------

    def _options(self, call: ChatCall, v1: bool) -> dict[str, Any]:
        opts = model_options(call, self.slug)
        out: dict[str, Any] = {}
        if "stop" in opts:
            stops = stop_list(opts.pop("stop"))
            if stops:
                out["stop_sequences"] = stops
        if "response_format" in opts:
            out["response_format"] = self._response_format(opts.pop("response_format"), v1)
        if "tools" in opts:
            out["tools"] = self._tools(opts.pop("tools"), v1)
        if "tool_choice" in opts:
            choice = self._tool_choice(opts.pop("tool_choice"))
            if choice is not None:
                out["tool_choice"] = choice
        for key, value in opts.items():
            out.setdefault(_RENAMES.get(key, key), value)
        return out

    def _response_format(self, fmt: Any, v1: bool) -> Any:
        if not isinstance(fmt, dict):
            raise GatewayConfigError(
                "cohere: response_format must be a mapping", provider=self.slug
            )
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            return {"type": "json_object", ("schema" if v1 else "json_schema"): schema}
        return fmt  # {type: text} / {type: json_object[, json_schema]} are Cohere's own shape

    def _tools(self, tools: Any, v1: bool) -> Any:
        if not isinstance(tools, list):
            raise GatewayConfigError("cohere: `tools` must be a list", provider=self.slug)
        if v1 and any(openai_function_tool(t) is not None for t in tools):
            raise GatewayConfigError(
                "cohere v1 takes tools as {name, description, parameter_definitions}; use "
                "apiVersion v2 (the default) for OpenAI-format tools",
                provider=self.slug,
            )
        return tools  # v2 tools have the OpenAI {type: function, function: {...}} shape

    def _tool_choice(self, choice: Any) -> str | None:
        if isinstance(choice, str):
            upper = choice.upper()
            if upper == "AUTO":
                return None
            if upper in ("REQUIRED", "NONE"):
                return upper
        raise GatewayConfigError(
            f"cohere: unsupported tool_choice {choice!r}; Cohere accepts required or none "
            "(auto is the default)",
            provider=self.slug,
        )

    def _v2_messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for msg in messages:
            item = dict(msg)
            if item.get("role") == "developer":
                item["role"] = "system"
            content = item.get("content")
            if isinstance(content, list):
                for part in content_parts(content, self.slug):
                    if part_kind(part) not in ("text", "image_url", "document"):
                        raise GatewayConfigError(
                            f"cohere: message content part of type {part_kind(part)!r} is not "
                            "supported; use text or image_url parts",
                            provider=self.slug,
                        )
            out.append(item)
        return out

    def _v1_body(self, call: ChatCall) -> dict[str, Any]:
        messages = list(call.messages)
        preamble: list[str] = []
        while messages and messages[0].get("role") in ("system", "developer"):
            preamble.append(text_of(messages.pop(0).get("content"), self.slug))
        if not messages or messages[-1].get("role") != "user":
            raise GatewayConfigError(
                "cohere v1 chat needs the conversation to end with a user message",
                provider=self.slug,
            )
        history: list[dict[str, str]] = []
        for msg in messages[:-1]:
            role = _V1_ROLES.get(str(msg.get("role")))
            if role is None:
                raise GatewayConfigError(
                    f"cohere v1 chat: unsupported message role {msg.get('role')!r}; use "
                    "apiVersion v2 for tool messages",
                    provider=self.slug,
                )
            history.append({"role": role, "message": text_of(msg.get("content"), self.slug)})
        body: dict[str, Any] = {
            "model": call.model,
            "message": text_of(messages[-1].get("content"), self.slug),
        }
        if history:
            body["chat_history"] = history
        if preamble:
            body["preamble"] = "\n\n".join(preamble)
        return body

    def body(self, call: ChatCall) -> Any:
        v1 = self._v1(call)
        if v1:
            body = self._v1_body(call)
        else:
            body = {"model": call.model, "messages": self._v2_messages(call.messages)}
            if call.stream:
                body["stream"] = True
        for key, value in self._options(call, v1).items():
            body.setdefault(key, value)
        return body

    # --- reply --------------------------------------------------------------------------

    @staticmethod
    def _usage(meta: dict[str, Any], cached: Any = None) -> Usage:
        counts = require_dict(meta.get("tokens")) or require_dict(meta.get("billed_units")) or {}
        prompt, completion = as_int(counts.get("input_tokens")), as_int(counts.get("output_tokens"))
        return Usage(prompt, completion, prompt + completion, as_int(cached))

    @staticmethod
    def _finish(reason: Any) -> str | None:
        if not isinstance(reason, str):
            return None
        return _FINISH.get(reason.upper(), reason.lower())

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = require_dict(response.body)
        if body is None:
            raise self.bad_reply(response, "expected a chat response object")
        if self._v1(call):
            return self._parse_v1(response, body)
        message = require_dict(body.get("message"))
        if message is None:
            raise self.bad_reply(response, "no message in the v2 chat response")
        texts: list[str] = []
        for part in message.get("content") or []:
            if isinstance(part, dict) and part.get("type", "text") == "text":
                texts.append(str(part.get("text", "")))
        calls: list[dict[str, Any]] = []
        for i, tc in enumerate(message.get("tool_calls") or []):
            if not isinstance(tc, dict):
                raise self.bad_reply(response, "tool_calls entry is not an object")
            fn = require_dict(tc.get("function")) or {}
            calls.append(tool_call(tc.get("id"), fn.get("name"), fn.get("arguments"), i))
        usage_obj = require_dict(body.get("usage")) or {}
        logprobs: list[float] | None = None
        if isinstance(body.get("logprobs"), list):
            logprobs = [
                float(v)
                for item in body["logprobs"]
                if isinstance(item, dict)
                for v in item.get("logprobs") or []
                if isinstance(v, int | float)
            ]
        return ParsedReply(
            text="".join(texts),
            usage=self._usage(usage_obj, usage_obj.get("cached_tokens")),
            finish_reason=self._finish(body.get("finish_reason")),
            tool_calls=calls or None,
            logprobs=logprobs,
        )

    def _parse_v1(self, response: RawResponse, body: dict[str, Any]) -> ParsedReply:
        if not isinstance(body.get("text"), str):
            raise self.bad_reply(response, "no text in the v1 chat response")
        calls = [
            tool_call(None, tc.get("name"), tc.get("parameters"), i)
            for i, tc in enumerate(body.get("tool_calls") or [])
            if isinstance(tc, dict)
        ]
        return ParsedReply(
            text=body["text"],
            usage=self._usage(require_dict(body.get("meta")) or {}),
            finish_reason=self._finish(body.get("finish_reason")),
            tool_calls=calls or None,
        )

    # --- embeddings ---------------------------------------------------------------------

    def embed_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return ("v1/embed" if self._v1(call) else "v2/embed"), {}

    def embed_body(self, call: ChatCall) -> Any:
        """``input_type`` defaults to ``search_document``; v2 asks for float embeddings."""
        body: dict[str, Any] = {
            "model": call.model,
            "texts": list(call.inputs),
            "input_type": "search_document",
        }
        if not self._v1(call):
            body["embedding_types"] = ["float"]
        body.update(model_options(call, self.slug))
        return body

    def parse_embeddings(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = require_dict(response.body)
        rows = body.get("embeddings") if body else None
        if isinstance(rows, dict):  # v2: {embeddings: {float: [[...]]}}
            rows = rows.get("float")
        if body is None or not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise self.bad_reply(response, "expected embeddings as lists of floats")
        usage = self._usage(require_dict(body.get("meta")) or {})
        return ParsedReply(
            text="",
            usage=Usage(usage.prompt_tokens, 0, usage.prompt_tokens),
            embeddings=[[float(x) for x in r] for r in rows],
        )
