"""Google AI Studio (Gemini API) ``models/{model}:generateContent``.

Request mapping from the OpenAI-style call:

- roles ``user`` -> ``user``, ``assistant`` -> ``model``; system messages ->
  ``systemInstruction``; consecutive turns of one role are merged into one ``contents`` entry;
- text parts -> ``{text}``; base64 data-URL images -> ``{inlineData}`` (other image URLs are a
  config error: the Gemini API cannot fetch arbitrary URLs);
- assistant ``tool_calls`` -> ``functionCall`` parts; ``tool`` messages -> ``functionResponse``
  parts (the function name is found from the tool-call id);
- options -> ``generationConfig``: max_tokens/max_completion_tokens -> maxOutputTokens,
  temperature, top_p -> topP, top_k -> topK, stop -> stopSequences, n -> candidateCount,
  seed, presence_penalty/frequency_penalty -> presencePenalty/frequencyPenalty,
  logprobs -> responseLogprobs, top_logprobs -> logprobs, response_format json ->
  responseMimeType (+ responseSchema for json_schema); OpenAI ``tools``/``tool_choice`` ->
  ``tools.functionDeclarations``/``toolConfig``; promptfoo's snake-case ``tool_config``
  (``function_calling_config: {mode, allowed_function_names}``, ``retrieval_config``) ->
  ``toolConfig`` in the API's camel case, its mode upper-cased, as promptfoo sends it;
- top-level Gemini fields given as options (safetySettings, tools in Gemini format,
  toolConfig, cachedContent, labels) stay top-level; ``generationConfig: {...}`` is merged;
  every other option goes into ``generationConfig`` unchanged (thinkingConfig, ...).

``apiVersion`` in the provider config selects the API version (default ``v1beta``).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..errors import GatewayConfigError
from ..streaming import GeminiAssembler, StreamAssembler
from ..types import ChatCall, Message, ParsedReply, RawResponse, Usage
from ._common import (
    as_int,
    assistant_tool_calls,
    content_parts,
    image_url_of,
    logprob_list,
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
    tool_names_by_id,
)
from .base import Adapter

DEFAULT_API_VERSION = "v1beta"

_RENAMES = {
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "max_output_tokens": "maxOutputTokens",
    "top_p": "topP",
    "top_k": "topK",
    "n": "candidateCount",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "logprobs": "responseLogprobs",
    "top_logprobs": "logprobs",
    "seed": "seed",
    "temperature": "temperature",
}

_TOOL_MODES = ("MODE_UNSPECIFIED", "AUTO", "VALIDATED", "ANY", "NONE")

_TOP_LEVEL = ("safetySettings", "toolConfig", "cachedContent", "labels", "systemInstruction")

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


class GeminiAdapter(Adapter):
    """The Gemini API as served by Google AI Studio."""

    slug: ClassVar[str] = "google-ai-studio"
    key_env_vars: ClassVar[tuple[str, ...]] = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    supports_embeddings: ClassVar[bool] = True

    def _model_path(self, call: ChatCall) -> str:
        model = call.model.removeprefix("models/")
        if not model:
            raise GatewayConfigError(
                "google-ai-studio needs a model, e.g. google-ai-studio:gemini-2.5-flash",
                provider=self.slug,
            )
        version = call.config.get("apiVersion") or DEFAULT_API_VERSION
        return f"{version}/models/{model}"

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        if call.stream:
            return f"{self._model_path(call)}:streamGenerateContent", {"alt": "sse"}
        return f"{self._model_path(call)}:generateContent", {}

    def stream_refusal(self, call: ChatCall) -> str | None:
        return None

    def stream_assembler(self, call: ChatCall) -> StreamAssembler:
        return GeminiAssembler(self.slug)

    def auth_headers(self, key: str, call: ChatCall) -> dict[str, str]:
        return {"x-goog-api-key": key}

    # --- request ------------------------------------------------------------------------

    def _parts(self, content: Any) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for part in content_parts(content, self.slug):
            kind = part_kind(part)
            if kind == "text":
                parts.append({"text": str(part.get("text", ""))})
            elif kind == "image_url":
                data = split_data_url(image_url_of(part))
                if data is None:
                    raise GatewayConfigError(
                        "google-ai-studio: image parts must be base64 data URLs "
                        "(data:image/png;base64,...); the Gemini API does not fetch image URLs",
                        provider=self.slug,
                    )
                parts.append({"inlineData": {"mimeType": data[0], "data": data[1]}})
            else:
                raise GatewayConfigError(
                    f"google-ai-studio: message content part of type {kind!r} is not "
                    "supported; use text or image_url parts",
                    provider=self.slug,
                )
        return parts

    def _function_response(self, msg: Message, names: dict[str, str]) -> dict[str, Any]:
        call_id = str(msg.get("tool_call_id", ""))
        name = msg.get("name") or names.get(call_id)
        if not name:
            raise GatewayConfigError(
                "google-ai-studio: a tool message needs the function name: give it `name`, "
                "or a tool_call_id that matches an earlier assistant tool call",
                provider=self.slug,
            )
        text = text_of(msg.get("content"), self.slug)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        response = value if isinstance(value, dict) else {"content": text}
        return {"functionResponse": {"name": name, "response": response}}

    def _contents(self, messages: list[Message]) -> list[dict[str, Any]]:
        names = tool_names_by_id(messages)
        contents: list[dict[str, Any]] = []
        for msg in messages:
            role = msg.get("role", "user")
            if role == "tool":
                g_role, parts = "user", [self._function_response(msg, names)]
            elif role in ("user", "assistant"):
                g_role = "model" if role == "assistant" else "user"
                parts = self._parts(msg.get("content"))
                for _id, name, arguments in assistant_tool_calls(msg, self.slug):
                    parts.append(
                        {
                            "functionCall": {
                                "name": name,
                                "args": parse_arguments(arguments, self.slug),
                            }
                        }
                    )
            else:
                raise GatewayConfigError(
                    f"google-ai-studio: unsupported message role {role!r} (use system, user, "
                    "assistant or tool)",
                    provider=self.slug,
                )
            if contents and contents[-1]["role"] == g_role:
                contents[-1]["parts"].extend(parts)
            else:
                contents.append({"role": g_role, "parts": parts})
        return contents

    def _tools(self, tools: Any) -> list[Any]:
        if isinstance(tools, dict):  # one tool object: promptfoo wraps it in a list
            tools = [tools]
        if not isinstance(tools, list):
            raise GatewayConfigError("google-ai-studio: `tools` must be a list", provider=self.slug)
        declarations: list[dict[str, Any]] = []
        native: list[Any] = []
        for tool in tools:
            fn = openai_function_tool(tool)
            if fn is None:
                native.append(tool)  # Gemini format: functionDeclarations, googleSearch, ...
                continue
            decl: dict[str, Any] = {
                k: fn[k] for k in ("name", "description", "parameters") if k in fn
            }
            declarations.append(decl)
        if declarations:
            native.insert(0, {"functionDeclarations": declarations})
        return native

    def _tool_config(self, choice: Any) -> dict[str, Any]:
        modes = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
        if isinstance(choice, str) and choice in modes:
            return {"functionCallingConfig": {"mode": modes[choice]}}
        if isinstance(choice, dict):
            fn = choice.get("function")
            if choice.get("type") == "function" and isinstance(fn, dict):
                return {
                    "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [fn["name"]]}
                }
        raise GatewayConfigError(
            f"google-ai-studio: unsupported tool_choice {choice!r}; use auto, required, none "
            "or {type: function, function: {name}} (or pass Gemini's toolConfig)",
            provider=self.slug,
        )

    def _snake_tool_config(self, config: Any) -> dict[str, Any]:
        """promptfoo's ``tool_config`` (snake case) -> the API's ``toolConfig``."""
        if not isinstance(config, dict):
            raise GatewayConfigError(
                f"google-ai-studio: tool_config must be a mapping, got {config!r}",
                provider=self.slug,
            )
        out: dict[str, Any] = {}
        calling = config.get("function_calling_config")
        if isinstance(calling, dict):
            fcc: dict[str, Any] = {}
            mode = calling.get("mode")
            if isinstance(mode, str) and mode.upper() in _TOOL_MODES:
                fcc["mode"] = mode.upper()
            if calling.get("allowed_function_names"):
                fcc["allowedFunctionNames"] = calling["allowed_function_names"]
            if fcc:
                out["functionCallingConfig"] = fcc
        retrieval = config.get("retrieval_config")
        if isinstance(retrieval, dict):
            renames = {"lat_lng": "latLng", "language_code": "languageCode"}
            out["retrievalConfig"] = {renames.get(k, k): v for k, v in retrieval.items()}
        if "include_server_side_tool_invocations" in config:
            out["includeServerSideToolInvocations"] = config["include_server_side_tool_invocations"]
        return out

    def _response_format(self, fmt: Any, gen: dict[str, Any]) -> None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "text":
            return
        if kind == "json_object":
            gen["responseMimeType"] = "application/json"
            return
        if kind == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            gen["responseMimeType"] = "application/json"
            if schema is not None:
                gen["responseSchema"] = schema
            return
        raise GatewayConfigError(
            f"google-ai-studio: unsupported response_format {fmt!r}; use "
            "{type: json_object} or {type: json_schema, json_schema: {schema}}",
            provider=self.slug,
        )

    def body(self, call: ChatCall) -> Any:
        opts = model_options(call, self.slug)
        system, rest = split_system(call.messages, self.slug)
        body: dict[str, Any] = {"contents": self._contents(rest)}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        gen: dict[str, Any] = {}
        given = opts.pop("generationConfig", None)
        if isinstance(given, dict):
            gen.update(given)
        if "tools" in opts:
            body["tools"] = self._tools(opts.pop("tools"))
        if "tool_choice" in opts:
            body["toolConfig"] = self._tool_config(opts.pop("tool_choice"))
        if "tool_config" in opts:  # over tool_choice's, as in promptfoo
            explicit = self._snake_tool_config(opts.pop("tool_config"))
            calling = {
                **body.get("toolConfig", {}).get("functionCallingConfig", {}),
                **explicit.get("functionCallingConfig", {}),
            }
            body["toolConfig"] = {**body.get("toolConfig", {}), **explicit}
            if calling:
                body["toolConfig"]["functionCallingConfig"] = calling
        if "stop" in opts:
            gen["stopSequences"] = stop_list(opts.pop("stop"))
        if "response_format" in opts:
            self._response_format(opts.pop("response_format"), gen)
        for key, value in opts.items():
            if key == "systemInstruction" and isinstance(value, str):
                body[key] = {"parts": [{"text": value}]}  # as promptfoo sends a text one
            elif key in _TOP_LEVEL:
                body[key] = value
            else:
                gen[_RENAMES.get(key, key)] = value
        if gen:
            body["generationConfig"] = gen
        return body

    # --- reply --------------------------------------------------------------------------

    def _usage(self, body: dict[str, Any]) -> Usage:
        meta = require_dict(body.get("usageMetadata")) or {}
        prompt = as_int(meta.get("promptTokenCount"))
        completion = as_int(meta.get("candidatesTokenCount")) + as_int(
            meta.get("thoughtsTokenCount")
        )
        return Usage(
            prompt,
            completion,
            as_int(meta.get("totalTokenCount")) or prompt + completion,
            as_int(meta.get("cachedContentTokenCount")),
        )

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = require_dict(response.body)
        if body is None:
            raise self.bad_reply(response, "expected a GenerateContentResponse object")
        model = str(body["modelVersion"]) if body.get("modelVersion") else None
        candidates = body.get("candidates")
        if not candidates:
            feedback = require_dict(body.get("promptFeedback")) or {}
            if feedback.get("blockReason"):  # the prompt itself was blocked
                return ParsedReply(
                    text="", usage=self._usage(body), finish_reason="content_filter", model=model
                )
            raise self.bad_reply(response, "no candidates")
        cand = candidates[0] if isinstance(candidates, list) else None
        if not isinstance(cand, dict):
            raise self.bad_reply(response, "candidates[0] is not an object")
        content = require_dict(cand.get("content")) or {}
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for part in content.get("parts") or []:
            if not isinstance(part, dict):
                raise self.bad_reply(response, "content part is not an object")
            if "text" in part and not part.get("thought"):
                texts.append(str(part["text"]))
            fc = require_dict(part.get("functionCall"))
            if fc is not None:
                calls.append(tool_call(fc.get("id"), fc.get("name"), fc.get("args"), len(calls)))
        reason = cand.get("finishReason")
        finish = _FINISH.get(reason, reason.lower()) if isinstance(reason, str) else None
        if calls and finish == "stop":
            finish = "tool_calls"  # Gemini says STOP; normalised to OpenAI's value
        logprobs = logprob_list(
            require_dict(cand.get("logprobsResult")), "chosenCandidates", "logProbability"
        )
        return ParsedReply(
            text="".join(texts),
            usage=self._usage(body),
            finish_reason=finish,
            tool_calls=calls or None,
            logprobs=logprobs,
            model=model,
        )

    # --- embeddings ---------------------------------------------------------------------

    def embed_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return f"{self._model_path(call)}:batchEmbedContents", {}

    def embed_body(self, call: ChatCall) -> Any:
        opts = model_options(call, self.slug)
        renames = {"dimensions": "outputDimensionality", "task_type": "taskType"}
        extra = {renames.get(k, k): v for k, v in opts.items()}
        model = "models/" + call.model.removeprefix("models/")
        return {
            "requests": [
                {"model": model, "content": {"parts": [{"text": text}]}, **extra}
                for text in call.inputs
            ]
        }

    def parse_embeddings(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        body = require_dict(response.body)
        rows = body.get("embeddings") if body else None
        if not isinstance(rows, list):
            raise self.bad_reply(response, "expected {embeddings: [{values}]}")
        vectors: list[list[float]] = []
        for i, row in enumerate(rows):
            values = row.get("values") if isinstance(row, dict) else None
            if not isinstance(values, list):
                raise self.bad_reply(response, f"embeddings[{i}].values is not a list")
            vectors.append([float(x) for x in values])
        return ParsedReply(text="", embeddings=vectors)
