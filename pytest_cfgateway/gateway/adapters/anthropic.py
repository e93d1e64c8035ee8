"""Anthropic Messages API (``v1/messages``).

Request mapping from the OpenAI-style call:

- system messages -> top-level ``system`` (joined with a blank line);
- ``tool`` messages -> ``tool_result`` blocks in a user turn; assistant ``tool_calls`` ->
  ``tool_use`` blocks; image parts -> ``image`` blocks (base64 data URLs or plain URLs);
- ``max_tokens`` (or ``max_completion_tokens``) -> ``max_tokens``, default 1024 as promptfoo;
  ``stop`` -> ``stop_sequences``; OpenAI-format ``tools``/``tool_choice`` are converted,
  Anthropic-format ones pass unchanged;
- OpenAI-only options Anthropic rejects (``seed``, ``n``, ``logprobs``, ``response_format``,
  penalties, ...) are a config error; every other option is copied to the top level of the
  body, where Anthropic's own options live (``top_k``, ``thinking``, ``service_tier``, ...).

Usage: ``prompt_tokens`` counts every input token (``input_tokens`` plus cache writes and
reads); ``cached_tokens`` is the cache part of it, as OpenAI reports cached tokens.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import GatewayConfigError
from ..streaming import AnthropicAssembler, StreamAssembler
from ..types import ChatCall, Message, ParsedReply, RawResponse, Usage
from ._common import (
    as_int,
    assistant_tool_calls,
    content_parts,
    image_url_of,
    model_options,
    openai_function_tool,
    parse_arguments,
    part_kind,
    require_dict,
    split_data_url,
    split_system,
    stop_list,
    text_of,
    tool_call,
)
from .base import Adapter

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_UNSUPPORTED = (
    "seed",
    "n",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
)


class AnthropicAdapter(Adapter):
    """Anthropic's native Messages API."""

    slug: ClassVar[str] = "anthropic"
    key_env_vars: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return "v1/messages", {}

    def auth_headers(self, key: str, call: ChatCall) -> dict[str, str]:
        return {"x-api-key": key}

    def extra_headers(self, call: ChatCall) -> dict[str, str]:
        return {"anthropic-version": ANTHROPIC_VERSION}

    def stream_refusal(self, call: ChatCall) -> str | None:
        return None

    def stream_assembler(self, call: ChatCall) -> StreamAssembler:
        return AnthropicAssembler(self.slug)

    # --- request ------------------------------------------------------------------------

    def _blocks(self, content: Any) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for part in content_parts(content, self.slug):
            kind = part_kind(part)
            if kind == "text":
                blocks.append({"type": "text", "text": str(part.get("text", ""))})
            elif kind == "image_url":
                url = image_url_of(part)
                data = split_data_url(url)
                if data is None:
                    blocks.append({"type": "image", "source": {"type": "url", "url": url}})
                else:
                    blocks.append(
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": data[0], "data": data[1]},
                        }
                    )
            elif kind in ("image", "document", "tool_use", "tool_result", "thinking"):
                blocks.append(dict(part))  # already an Anthropic block
            else:
                raise GatewayConfigError(
                    f"anthropic: message content part of type {kind!r} is not supported; "
                    "use text or image_url parts",
                    provider=self.slug,
                )
        return blocks

    def _messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for msg in messages:
            role = msg.get("role", "user")
            if role == "tool":
                result = {
                    "type": "tool_result",
                    "tool_use_id": str(msg.get("tool_call_id", "")),
                    "content": text_of(msg.get("content"), self.slug),
                }
                last = out[-1] if out else None
                if (
                    last is not None
                    and last["role"] == "user"
                    and isinstance(last["content"], list)
                    and all(b.get("type") == "tool_result" for b in last["content"])
                ):
                    last["content"].append(result)  # all results of one turn in one message
                else:
                    out.append({"role": "user", "content": [result]})
            elif role == "assistant" and msg.get("tool_calls"):
                blocks = self._blocks(msg.get("content"))
                for call_id, name, arguments in assistant_tool_calls(msg, self.slug):
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": call_id,
                            "name": name,
                            "input": parse_arguments(arguments, self.slug),
                        }
                    )
                out.append({"role": "assistant", "content": blocks})
            elif role in ("user", "assistant"):
                content = msg.get("content")
                if isinstance(content, str):
                    out.append({"role": role, "content": content})
                else:
                    out.append({"role": role, "content": self._blocks(content)})
            else:
                raise GatewayConfigError(
                    f"anthropic: unsupported message role {role!r} (use system, user, "
                    "assistant or tool)",
                    provider=self.slug,
                )
        return out

    def _tools(self, tools: Any) -> list[Any]:
        if not isinstance(tools, list):
            raise GatewayConfigError("anthropic: `tools` must be a list", provider=self.slug)
        out: list[Any] = []
        for tool in tools:
            fn = openai_function_tool(tool)
            if fn is None:
                out.append(tool)  # Anthropic-format tool (name/input_schema) or server tool
                continue
            converted: dict[str, Any] = {
                "name": fn.get("name"),
                "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
            }
            if fn.get("description"):
                converted["description"] = fn["description"]
            out.append(converted)
        return out

    def _tool_choice(self, choice: Any) -> Any:
        if choice == "auto":
            return {"type": "auto"}
        if choice == "required":
            return {"type": "any"}
        if choice == "none":
            return {"type": "none"}
        if isinstance(choice, dict):
            fn = choice.get("function")
            if choice.get("type") == "function" and isinstance(fn, dict):
                return {"type": "tool", "name": fn.get("name")}
            return choice  # Anthropic-format {type: auto|any|tool|none}
        raise GatewayConfigError(
            f"anthropic: unsupported tool_choice {choice!r}; use auto, required, none or "
            "{type: function, function: {name}}",
            provider=self.slug,
        )

    def body(self, call: ChatCall) -> Any:
        opts = model_options(call, self.slug)
        bad = [k for k in _UNSUPPORTED if k in opts]
        if bad:
            raise GatewayConfigError(
                f"anthropic: option(s) {', '.join(bad)} are not part of the Anthropic Messages "
                "API; remove them from this provider's config",
                provider=self.slug,
            )
        system, rest = split_system(call.messages, self.slug)
        max_tokens = opts.pop("max_tokens", None)
        max_completion = opts.pop("max_completion_tokens", None)
        body: dict[str, Any] = {
            "model": call.model,
            "max_tokens": max_tokens or max_completion or DEFAULT_MAX_TOKENS,
            "messages": self._messages(rest),
        }
        if system:
            body["system"] = "\n\n".join(system)
        if "stop" in opts:
            stops = stop_list(opts.pop("stop"))
            if stops:
                body["stop_sequences"] = stops
        if "tools" in opts:
            body["tools"] = self._tools(opts.pop("tools"))
        if "tool_choice" in opts:
            body["tool_choice"] = self._tool_choice(opts.pop("tool_choice"))
        if call.stream:
            body["stream"] = True
        for key, value in opts.items():
            body.setdefault(key, value)
        return body

    # --- reply --------------------------------------------------------------------------

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = require_dict(response.body)
        if body is None or not isinstance(body.get("content"), list):
            raise self.bad_reply(response, "expected a message with a content list")
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in body["content"]:
            if not isinstance(block, dict):
                raise self.bad_reply(response, "content block is not an object")
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use":
                calls.append(
                    tool_call(block.get("id"), block.get("name"), block.get("input"), len(calls))
                )
            # thinking / redacted_thinking / server tool blocks are not part of the output
        usage_obj = require_dict(body.get("usage")) or {}
        cache = as_int(usage_obj.get("cache_read_input_tokens")) + as_int(
            usage_obj.get("cache_creation_input_tokens")
        )
        prompt = as_int(usage_obj.get("input_tokens")) + cache
        completion = as_int(usage_obj.get("output_tokens"))
        stop = body.get("stop_reason")
        return ParsedReply(
            text="".join(texts),
            usage=Usage(prompt, completion, prompt + completion, cache),
            finish_reason=_STOP_REASONS.get(stop, stop) if isinstance(stop, str) else None,
            tool_calls=calls or None,
            model=str(body["model"]) if body.get("model") else None,
        )
