"""Server-sent events in, one assembled reply out.

`SSEParser` is an incremental parser of the ``text/event-stream`` format (WHATWG HTML,
"server-sent events"): lines end with CRLF, LF or CR; ``event:``/``data:``/``id:`` fields;
``:`` comments; a blank line dispatches the event; several ``data:`` lines join with ``\\n``.

An assembler turns one provider's stream of events back into that provider's *non-streamed*
reply (OpenAI ``chat.completion``, Anthropic ``message``, Gemini ``GenerateContentResponse``,
Cohere v2 chat response, Workers AI ``{result, success}`` envelope). The adapter then parses
it exactly like a non-streamed answer, and the snapshot stores it the same readable way.

Each assembler says, per event, whether the event carried output (text or a tool-call
fragment: that instant is the time to first token) and, at the end, whether the provider's
end marker arrived (``[DONE]``, ``message_stop``, a finish reason, ``message-end``). A stream
that ends without it was cut: `StreamIncompleteError`, never a silently kept partial answer.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
from typing import Any

from .errors import GatewayProviderError


@dataclasses.dataclass(frozen=True)
class SSEEvent:
    """One dispatched server-sent event (``event`` defaults to ``message``)."""

    data: str
    event: str = "message"
    id: str | None = None


class SSEParser:
    """Incremental ``text/event-stream`` parser: `feed` bytes, get the complete events."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._bom_checked = False
        #: True when bytes after the last dispatched event are pending (an unfinished event).
        self.pending = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._decoder.decode(chunk)
        if not self._bom_checked and text:
            text = text.removeprefix("\ufeff")
            self._bom_checked = True
        self._buffer += text
        return self._drain(final=False)

    def close(self) -> list[SSEEvent]:
        """End of stream: a trailing line without its newline is still a line, but an event
        without its blank line is not dispatched (the spec discards it); ``pending`` says so."""
        self._buffer += self._decoder.decode(b"", final=True)
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        buf = self._buffer
        start = 0
        n = len(buf)
        while start < n:
            cr = buf.find("\r", start)
            lf = buf.find("\n", start)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            if buf[end] == "\r":
                if end + 1 >= n and not final:
                    break  # a CR at the end of the buffer may be the first half of CRLF
                step = 2 if end + 1 < n and buf[end + 1] == "\n" else 1
            else:
                step = 1
            self._line(buf[start:end], out)
            start = end + step
        rest = buf[start:]
        if final and rest:
            self._line(rest, out)
            rest = ""
        self._buffer = rest
        self.pending = bool(self._data or self._event or rest.strip())
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if line == "":
            if self._data:
                out.append(SSEEvent("\n".join(self._data), self._event or "message", self._id))
            self._data = []
            self._event = ""
            return
        if line.startswith(":"):
            return  # comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored, as the spec says


class StreamError(GatewayProviderError):
    """The provider reported an error inside the stream, or sent something unreadable."""


class StreamIncompleteError(GatewayProviderError):
    """The stream ended (or the connection was cut) before the provider's end marker."""


def _json(provider: str, event: SSEEvent) -> Any:
    try:
        return json.loads(event.data)
    except json.JSONDecodeError:
        raise StreamError(
            f"{provider}: a streamed event is not JSON (event {event.event!r}, data starts: "
            f"{event.data[:120]!r})",
            provider=provider,
        ) from None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class StreamAssembler:
    """Base class: ``feed`` events, then ``result()`` once ``complete``."""

    #: What the end marker is called, for the "stream was cut" message.
    end_marker = "the end of the stream"

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.complete = False
        self.events = 0

    def feed(self, event: SSEEvent) -> bool:
        """Take one event; True when it carried output (text or a tool-call fragment)."""
        self.events += 1
        return self._feed(event)

    def _feed(self, event: SSEEvent) -> bool:
        raise NotImplementedError

    def result(self) -> Any:
        """The assembled reply in the provider's non-streamed shape."""
        raise NotImplementedError

    def error(self, message: str, body: Any = None) -> StreamError:
        return StreamError(
            f"{self.provider}: the provider reported an error mid-stream: {message}",
            provider=self.provider,
            body=body,
        )

    def incomplete(self, why: str) -> StreamIncompleteError:
        return StreamIncompleteError(
            f"{self.provider}: the stream was cut before {self.end_marker} ({why}; "
            f"{self.events} event(s) received). The partial answer was discarded; retry the "
            "call or check the gateway/provider.",
            provider=self.provider,
        )


# --- OpenAI chat.completion.chunk -----------------------------------------------------------


class OpenAIChatAssembler(StreamAssembler):
    """``data: {chat.completion.chunk}`` ... ``data: [DONE]`` -> ``chat.completion``.

    Usage comes from the chunk that carries ``usage`` (``stream_options.include_usage``;
    Mistral and Perplexity always send it; Groq puts it in ``x_groq.usage``). Tool calls are
    assembled from their ``index``ed fragments (id, name, then argument pieces).
    """

    end_marker = "data: [DONE]"

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.head: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None

    def _choice(self, index: int) -> dict[str, Any]:
        return self.choices.setdefault(
            index,
            {"role": "assistant", "content": [], "refusal": [], "tools": {}, "finish": None,
             "logprobs": []},
        )  # fmt: skip

    def _feed(self, event: SSEEvent) -> bool:
        if event.data.strip() == "[DONE]":
            self.complete = True
            return False
        chunk = _json(self.provider, event)
        if not isinstance(chunk, dict):
            raise self.error(f"unexpected chunk {event.data[:120]!r}")
        if "error" in chunk and "choices" not in chunk:
            err = _dict(chunk.get("error"))
            raise self.error(str(err.get("message") or chunk.get("error")), chunk)
        for key in ("id", "created", "model", "system_fingerprint"):
            if chunk.get(key) is not None:
                self.head[key] = chunk[key]
        usage = chunk.get("usage") or _dict(chunk.get("x_groq")).get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        output = False
        for ch in chunk.get("choices") or []:
            if not isinstance(ch, dict):
                continue
            index = ch.get("index", 0) if isinstance(ch.get("index"), int) else 0
            acc = self._choice(index)
            delta = _dict(ch.get("delta"))
            if isinstance(delta.get("role"), str):
                acc["role"] = delta["role"]
            if isinstance(delta.get("content"), str) and delta["content"]:
                acc["content"].append(delta["content"])
                output = True
            if isinstance(delta.get("refusal"), str) and delta["refusal"]:
                acc["refusal"].append(delta["refusal"])
                output = True
            for tc in delta.get("tool_calls") or []:
                if not isinstance(tc, dict):
                    continue
                pos = tc.get("index") if isinstance(tc.get("index"), int) else len(acc["tools"])
                slot = acc["tools"].setdefault(pos, {"id": None, "name": "", "arguments": []})
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = _dict(tc.get("function"))
                if isinstance(fn.get("name"), str):
                    slot["name"] += fn["name"]
                if isinstance(fn.get("arguments"), str):
                    slot["arguments"].append(fn["arguments"])
                output = True
            lp = _dict(ch.get("logprobs")).get("content")
            if isinstance(lp, list):
                acc["logprobs"].extend(lp)
            if ch.get("finish_reason") is not None:
                acc["finish"] = ch["finish_reason"]
        return output

    def result(self) -> Any:
        choices = []
        for index in sorted(self.choices):
            acc = self.choices[index]
            message: dict[str, Any] = {
                "role": acc["role"],
                "content": "".join(acc["content"]) if acc["content"] or not acc["tools"] else None,
            }
            if acc["refusal"]:
                message["refusal"] = "".join(acc["refusal"])
            if acc["tools"]:
                message["tool_calls"] = [
                    {
                        "id": slot["id"] or f"call_{pos}",
                        "type": "function",
                        "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
                    }
                    for pos, slot in sorted(acc["tools"].items())
                ]
            choice: dict[str, Any] = {
                "index": index,
                "message": message,
                "finish_reason": acc["finish"],
            }
            if acc["logprobs"]:
                choice["logprobs"] = {"content": acc["logprobs"]}
            choices.append(choice)
        body: dict[str, Any] = {"object": "chat.completion", **self.head, "choices": choices}
        if self.usage is not None:
            body["usage"] = self.usage
        return body


# --- Anthropic Messages ---------------------------------------------------------------------


class AnthropicAssembler(StreamAssembler):
    """``message_start`` / ``content_block_*`` / ``message_delta`` / ``message_stop`` ->
    ``message``. Text and ``input_json_delta`` fragments are joined per block; usage is
    ``message_start``'s input counts updated by ``message_delta``'s (cumulative) counts."""

    end_marker = "event: message_stop"

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.message: dict[str, Any] | None = None
        self.blocks: dict[int, dict[str, Any]] = {}
        self.partial_json: dict[int, list[str]] = {}

    def _feed(self, event: SSEEvent) -> bool:
        data = _dict(_json(self.provider, event))
        kind = data.get("type") or event.event
        if kind == "error":
            err = _dict(data.get("error"))
            raise self.error(f"{err.get('type', 'error')}: {err.get('message', '')}", data)
        if kind == "message_start":
            self.message = dict(_dict(data.get("message")))
            self.message["content"] = []
            return False
        if kind == "content_block_start":
            index = data.get("index", len(self.blocks))
            block = dict(_dict(data.get("content_block")))
            self.blocks[index] = block
            if block.get("type") == "tool_use":
                self.partial_json[index] = []
                return True
            return bool(block.get("text"))
        if kind == "content_block_delta":
            index = data.get("index", 0)
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            delta = _dict(data.get("delta"))
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = str(block.get("text", "")) + str(delta.get("text", ""))
                return bool(delta.get("text"))
            if dtype == "input_json_delta":
                self.partial_json.setdefault(index, []).append(str(delta.get("partial_json", "")))
                return True
            if dtype == "thinking_delta":
                block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
            elif dtype == "signature_delta":
                block["signature"] = str(delta.get("signature", ""))
            return False
        if kind == "message_delta":
            if self.message is None:
                raise self.error("message_delta before message_start", data)
            delta = _dict(data.get("delta"))
            for key in ("stop_reason", "stop_sequence"):
                if key in delta:
                    self.message[key] = delta[key]
            usage = _dict(data.get("usage"))
            if usage:
                merged = dict(_dict(self.message.get("usage")))
                merged.update({k: v for k, v in usage.items() if v is not None})
                self.message["usage"] = merged
            return False
        if kind == "message_stop":
            self.complete = True
        return False  # ping, content_block_stop, unknown future events

    def result(self) -> Any:
        message = dict(self.message or {"type": "message", "role": "assistant"})
        content = []
        for index in sorted(self.blocks):
            block = dict(self.blocks[index])
            if block.get("type") == "tool_use" and index in self.partial_json:
                text = "".join(self.partial_json[index])
                try:
                    block["input"] = json.loads(text) if text.strip() else {}
                except json.JSONDecodeError:
                    raise self.error(
                        f"tool_use block {index} arguments are not valid JSON: {text[:120]!r}"
                    ) from None
            content.append(block)
        message["content"] = content
        return message


# --- Gemini streamGenerateContent?alt=sse ---------------------------------------------------


class GeminiAssembler(StreamAssembler):
    """``data: {GenerateContentResponse}`` chunks -> one response: text parts joined,
    function calls kept, the last ``finishReason``, ``usageMetadata`` and ``modelVersion``.
    Gemini has no end event: the chunk with a ``finishReason`` (or a blocked prompt) ends it."""

    end_marker = "a chunk with finishReason"

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.finish: Any = None
        self.extra: dict[str, Any] = {}
        self.candidate_extra: dict[str, Any] = {}

    def _feed(self, event: SSEEvent) -> bool:
        data = _json(self.provider, event)
        if isinstance(data, list):  # alt=sse not honoured: a JSON array in one event
            return any([self._chunk(_dict(item)) for item in data])
        return self._chunk(_dict(data))

    def _chunk(self, data: dict[str, Any]) -> bool:
        if "error" in data:
            err = _dict(data.get("error"))
            raise self.error(str(err.get("message") or data["error"]), data)
        for key in ("usageMetadata", "modelVersion", "responseId", "promptFeedback"):
            if key in data:
                self.extra[key] = data[key]
        if _dict(data.get("promptFeedback")).get("blockReason"):
            self.complete = True
        output = False
        for cand in data.get("candidates") or []:
            cand = _dict(cand)
            if cand.get("index", 0) != 0:
                continue
            for part in _dict(cand.get("content")).get("parts") or []:
                part = _dict(part)
                if isinstance(part.get("text"), str):
                    if part.get("thought"):
                        self.thoughts.append(part["text"])
                    elif part["text"]:
                        self.text.append(part["text"])
                        output = True
                if isinstance(part.get("functionCall"), dict):
                    self.calls.append({"functionCall": part["functionCall"]})
                    output = True
            for key in ("safetyRatings", "citationMetadata", "logprobsResult"):
                if key in cand:
                    self.candidate_extra[key] = cand[key]
            if cand.get("finishReason"):
                self.finish = cand["finishReason"]
                self.complete = True
        return output

    def result(self) -> Any:
        parts: list[dict[str, Any]] = []
        if self.thoughts:
            parts.append({"text": "".join(self.thoughts), "thought": True})
        if self.text or not self.calls:
            parts.append({"text": "".join(self.text)})
        parts.extend(self.calls)
        body: dict[str, Any] = {}
        if self.finish is not None or self.text or self.calls:
            cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if self.finish is not None:
                cand["finishReason"] = self.finish
            cand.update(self.candidate_extra)
            body["candidates"] = [cand]
        body.update(self.extra)
        return body


# --- Cohere v2 chat -------------------------------------------------------------------------


class CohereV2Assembler(StreamAssembler):
    """``message-start`` / ``content-*`` / ``tool-plan-delta`` / ``tool-call-*`` /
    ``message-end`` -> the v2 chat response ``{id, message, finish_reason, usage}``."""

    end_marker = "event: message-end"

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.id: str | None = None
        self.texts: dict[int, list[str]] = {}
        self.plan: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: Any = None
        self.usage: Any = None

    def _feed(self, event: SSEEvent) -> bool:
        if event.data.strip() == "[DONE]":
            return False
        data = _dict(_json(self.provider, event))
        kind = data.get("type") or event.event
        delta = _dict(data.get("delta"))
        message = _dict(delta.get("message"))
        index = data.get("index", 0) if isinstance(data.get("index"), int) else 0
        if kind == "message-start":
            self.id = data.get("id") or self.id
            return False
        if kind in ("content-start", "content-delta"):
            text = _dict(message.get("content")).get("text")
            if isinstance(text, str) and text:
                self.texts.setdefault(index, []).append(text)
                return True
            self.texts.setdefault(index, [])
            return False
        if kind == "tool-plan-delta":
            if isinstance(message.get("tool_plan"), str):
                self.plan.append(message["tool_plan"])
            return False
        if kind in ("tool-call-start", "tool-call-delta"):
            tc = _dict(message.get("tool_calls"))
            slot = self.calls.setdefault(index, {"id": None, "name": "", "arguments": []})
            if tc.get("id"):
                slot["id"] = tc["id"]
            fn = _dict(tc.get("function"))
            if isinstance(fn.get("name"), str):
                slot["name"] += fn["name"]
            if isinstance(fn.get("arguments"), str):
                slot["arguments"].append(fn["arguments"])
            return True
        if kind == "message-end":
            if delta.get("error"):
                raise self.error(str(delta["error"]), data)
            self.finish = delta.get("finish_reason")
            self.usage = delta.get("usage")
            self.complete = True
        return False

    def result(self) -> Any:
        message: dict[str, Any] = {"role": "assistant"}
        if self.plan:
            message["tool_plan"] = "".join(self.plan)
        if self.texts or not self.calls:
            message["content"] = [
                {"type": "text", "text": "".join(self.texts[i])} for i in sorted(self.texts)
            ] or [{"type": "text", "text": ""}]
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": slot["id"] or f"call_{i}",
                    "type": "function",
                    "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
                }
                for i, slot in sorted(self.calls.items())
            ]
        body: dict[str, Any] = {}
        if self.id:
            body["id"] = self.id
        body["message"] = message
        body["finish_reason"] = self.finish
        if self.usage is not None:
            body["usage"] = self.usage
        return body


# --- Workers AI native ----------------------------------------------------------------------


class WorkersAIAssembler(StreamAssembler):
    """``data: {"response": "tok"}`` ... (a last chunk may carry ``usage`` and
    ``tool_calls``) ... ``data: [DONE]`` -> ``{result: {response, usage}, success: true}``.
    A model that streams OpenAI chunks on its native route is assembled as OpenAI."""

    end_marker = "data: [DONE]"

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.text: list[str] = []
        self.usage: Any = None
        self.tool_calls: list[Any] = []
        self.openai: OpenAIChatAssembler | None = None

    def _feed(self, event: SSEEvent) -> bool:
        if event.data.strip() == "[DONE]":
            self.complete = True
            if self.openai is not None:
                self.openai.complete = True
            return False
        data = _dict(_json(self.provider, event))
        if "choices" in data or self.openai is not None:
            self.openai = self.openai or OpenAIChatAssembler(self.provider)
            return self.openai.feed(event)
        if data.get("errors") and data.get("success") is False:
            raise self.error(json.dumps(data.get("errors"))[:300], data)
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        if isinstance(data.get("tool_calls"), list):
            self.tool_calls.extend(data["tool_calls"])
        piece = data.get("response")
        if isinstance(piece, str) and piece:
            self.text.append(piece)
            return True
        return bool(data.get("tool_calls"))

    def result(self) -> Any:
        if self.openai is not None:
            result: Any = self.openai.result()
        else:
            result = {"response": "".join(self.text)}
            if self.tool_calls:
                result["tool_calls"] = self.tool_calls
            if self.usage is not None:
                result["usage"] = self.usage
        return {"result": result, "success": True, "errors": [], "messages": []}
