"""Small helpers shared by the built-in adapters (message text, options, tool calls)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import GatewayConfigError
from ..types import ChatCall, Message


def model_options(call: ChatCall, slug: str) -> dict[str, Any]:
    """A mutable copy of the call's model options without ``stream``/``stream_options``
    (``call.stream`` says whether to stream; each adapter writes its own stream fields)."""
    opts = dict(call.options)
    opts.pop("stream", None)
    opts.pop("stream_options", None)
    return opts


def require_dict(value: Any) -> dict[str, Any] | None:
    """``value`` if it is a JSON object, else None."""
    return value if isinstance(value, dict) else None


def as_int(value: Any) -> int:
    """A token count from a reply field; anything that is not a number counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return 0


def logprob_list(
    container: dict[str, Any] | None, list_key: str, value_key: str
) -> list[float] | None:
    """``container[list_key][*][value_key]`` as floats (non-numbers skipped); None when
    ``container`` is missing or ``list_key`` is not a list."""
    if container is None or not isinstance(container.get(list_key), list):
        return None
    return [
        float(entry[value_key])
        for entry in container[list_key]
        if isinstance(entry, dict) and isinstance(entry.get(value_key), int | float)
    ]


def content_parts(content: Any, slug: str = "") -> list[dict[str, Any]]:
    """OpenAI message content as a list of parts (a string becomes one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for part in content:
            if isinstance(part, str):
                parts.append({"type": "text", "text": part})
            elif isinstance(part, dict):
                parts.append(part)
            else:
                raise GatewayConfigError(
                    f"{slug or 'provider'}: message content parts must be strings or objects "
                    f"like {{type: text, text: ...}}, got {type(part).__name__}",
                    provider=slug or None,
                )
        return parts
    if isinstance(content, dict):
        return [content]
    return [{"type": "text", "text": str(content)}]


def part_kind(part: Mapping[str, Any]) -> str:
    """The OpenAI part type (``text``, ``image_url``, ``input_audio``, ...)."""
    kind = part.get("type")
    if isinstance(kind, str):
        return kind
    return "text" if "text" in part else "unknown"


def text_of(content: Any, slug: str) -> str:
    """Message content as plain text; non-text parts are a config error naming ``slug``."""
    out: list[str] = []
    for part in content_parts(content, slug):
        kind = part_kind(part)
        if kind != "text":
            raise GatewayConfigError(
                f"{slug}: message content part of type {kind!r} is not supported by this "
                "provider's API (text only); send text, or use a provider that accepts "
                f"{kind} input (e.g. openai, anthropic, google-ai-studio)",
                provider=slug,
            )
        out.append(str(part.get("text", "")))
    return "".join(out)


def image_url_of(part: Mapping[str, Any]) -> str:
    """The URL of an OpenAI ``image_url`` part (``{"image_url": {"url"}}`` or a bare string)."""
    ref = part.get("image_url")
    if isinstance(ref, dict):
        ref = ref.get("url")
    if not isinstance(ref, str) or not ref:
        raise GatewayConfigError("an image_url content part needs image_url.url")
    return ref


def split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<mime>;base64,<data>`` -> (mime, data); None for any other URL."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        raise GatewayConfigError(
            "image data URLs must be base64 encoded (data:image/png;base64,...)"
        )
    return head[: -len(";base64")] or "application/octet-stream", data


_ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


def flatten_messages(messages: list[Message], slug: str) -> str:
    """Chat messages as one prompt text, for text-completion APIs (Hugging Face, Replicate).

    A conversation that is a single user message becomes that message's text unchanged.
    Anything longer is rendered as ``Role: text`` paragraphs separated by a blank line and,
    unless the last message is the assistant's, ends with ``Assistant:`` so the model
    continues as the assistant.
    """
    if len(messages) == 1 and messages[0].get("role", "user") == "user":
        return text_of(messages[0].get("content"), slug)
    lines: list[str] = []
    for msg in messages:
        role = str(msg.get("role", "user"))
        lines.append(f"{_ROLE_LABELS.get(role, role.title())}: {text_of(msg.get('content'), slug)}")
    if messages and messages[-1].get("role") != "assistant":
        lines.append("Assistant:")
    return "\n\n".join(lines)


def split_system(messages: list[Message], slug: str) -> tuple[list[str], list[Message]]:
    """System message texts (in order) and the remaining messages."""
    system: list[str] = []
    rest: list[Message] = []
    for msg in messages:
        if msg.get("role") in ("system", "developer"):
            system.append(text_of(msg.get("content"), slug))
        else:
            rest.append(msg)
    return system, rest


def json_arguments(value: Any) -> str:
    """Tool-call arguments as the JSON string OpenAI uses."""
    if isinstance(value, str):
        return value
    return json.dumps({} if value is None else value, ensure_ascii=False)


def parse_arguments(value: Any, slug: str) -> Any:
    """OpenAI tool-call ``arguments`` (a JSON string) as an object for native APIs."""
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise GatewayConfigError(
            f"{slug}: tool call arguments must be a JSON object string, got {value[:80]!r}",
            provider=slug,
        ) from exc


def tool_call(call_id: Any, name: Any, arguments: Any, index: int) -> dict[str, Any]:
    """One OpenAI-normalised tool call."""
    return {
        "id": str(call_id) if call_id else f"call_{index}",
        "type": "function",
        "function": {"name": str(name or ""), "arguments": json_arguments(arguments)},
    }


def openai_function_tool(tool: Any) -> dict[str, Any] | None:
    """The ``function`` object of an OpenAI-format tool, or None for a native tool."""
    if isinstance(tool, dict) and tool.get("type") == "function":
        fn = tool.get("function")
        if isinstance(fn, dict):
            return fn
    return None


def stop_list(value: Any) -> list[str]:
    """OpenAI ``stop`` (a string or a list) as a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def assistant_tool_calls(msg: Message, slug: str) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of an assistant message's OpenAI ``tool_calls``, validated."""
    out: list[tuple[str, str, Any]] = []
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        raise GatewayConfigError(f"{slug}: assistant tool_calls must be a list", provider=slug)
    for tc in calls:
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            raise GatewayConfigError(
                f"{slug}: each assistant tool call needs the OpenAI shape "
                "{id, type: function, function: {name, arguments}}",
                provider=slug,
            )
        out.append((str(tc.get("id", "")), str(fn["name"]), fn.get("arguments")))
    return out


def tool_names_by_id(messages: list[Message]) -> dict[str, str]:
    """Map OpenAI tool-call ids to function names, from assistant ``tool_calls``."""
    names: dict[str, str] = {}
    for msg in messages:
        for tc in msg.get("tool_calls") or []:
            if isinstance(tc, dict):
                fn = tc.get("function") or {}
                if tc.get("id") and isinstance(fn, dict):
                    names[str(tc["id"])] = str(fn.get("name", ""))
    return names
