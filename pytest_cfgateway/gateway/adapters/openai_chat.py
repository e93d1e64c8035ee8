"""The OpenAI chat-completions family: openai, groq, perplexity-ai, mistral, grok, azure-openai,
the gateway's own ``compat`` endpoint, and OpenAI-compatible extras (deepseek, cerebras,
openrouter).

One class, parametrised per slug by class attributes (``slug``, ``key_env_vars``,
``chat_path``, ``embed_path``). A plugin adds another OpenAI-compatible provider with a
two-line subclass of :class:`OpenAIChatOnlyAdapter`, exactly as :class:`DeepSeekAdapter`
does.

Options: every model option is sent as given (promptfoo passes everything through), plus
``passthrough: {...}`` merged into the body as promptfoo does. Unlike promptfoo's OpenAI
provider we do NOT inject default ``temperature: 0`` / ``max_tokens: 1024``: only what the
user set is sent, so the recorded request is exactly the user's request.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ..errors import GatewayConfigError
from ..streaming import OpenAIChatAssembler, StreamAssembler
from ..types import ChatCall, ParsedReply, RawResponse, Usage
from ._common import as_int, logprob_list, model_options, require_dict, tool_call
from .base import Adapter

_REASONING_MODEL = re.compile(r"^(?:o\d+(?:$|[-_.:])|gpt-5)", re.IGNORECASE)


def is_reasoning_model(model: str) -> bool:
    """True for OpenAI o-series (o1, o3, o4-mini, ...) and gpt-5* models."""
    return bool(_REASONING_MODEL.match(model.rsplit("/", 1)[-1]))


def _message_text(adapter: Adapter, response: RawResponse, message: dict[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        refusal = message.get("refusal")
        return refusal if isinstance(refusal, str) else ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # e.g. Mistral reasoning models: typed content chunks
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type", "text") == "text"
        )
    raise adapter.bad_reply(response, "choices[0].message.content is not a string")


def parse_openai_chat(adapter: Adapter, response: RawResponse) -> ParsedReply:
    """Parse an OpenAI ``chat.completion`` object (shared with Workers AI's OpenAI shape)."""
    body = require_dict(response.body)
    if body is None:
        raise adapter.bad_reply(response, "expected a chat.completion JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise adapter.bad_reply(response, "no choices[0]")
    choice = choices[0]
    message = require_dict(choice.get("message"))
    if message is None:
        raise adapter.bad_reply(response, "choices[0].message missing")
    text = _message_text(adapter, response, message)

    calls: list[dict[str, Any]] = []
    for i, tc in enumerate(message.get("tool_calls") or []):
        if not isinstance(tc, dict):
            raise adapter.bad_reply(response, "tool_calls entry is not an object")
        fn = require_dict(tc.get("function")) or {}
        calls.append(tool_call(tc.get("id"), fn.get("name"), fn.get("arguments"), i))
    legacy = require_dict(message.get("function_call"))
    if legacy is not None and not calls:
        calls.append(tool_call(None, legacy.get("name"), legacy.get("arguments"), 0))

    usage_obj = require_dict(body.get("usage")) or {}
    details = require_dict(usage_obj.get("prompt_tokens_details")) or {}
    prompt, completion = (
        as_int(usage_obj.get("prompt_tokens")),
        as_int(usage_obj.get("completion_tokens")),
    )
    usage = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=as_int(usage_obj.get("total_tokens")) or prompt + completion,
        cached_tokens=as_int(details.get("cached_tokens")),
    )

    logprobs = logprob_list(require_dict(choice.get("logprobs")), "content", "logprob")

    finish = choice.get("finish_reason")
    return ParsedReply(
        text=text,
        usage=usage,
        finish_reason=str(finish) if finish is not None else None,
        tool_calls=calls or None,
        logprobs=logprobs,
        model=str(body["model"]) if body.get("model") else None,
    )


def parse_openai_embeddings(adapter: Adapter, response: RawResponse) -> ParsedReply:
    """Parse an OpenAI ``list`` of ``embedding`` objects (ordered by ``index``)."""
    body = require_dict(response.body)
    data = body.get("data") if body else None
    if body is None or not isinstance(data, list):
        raise adapter.bad_reply(response, "expected {data: [{embedding}]}")
    rows: list[tuple[int, list[float]]] = []
    for pos, item in enumerate(data):
        vec = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(vec, list):
            raise adapter.bad_reply(response, f"data[{pos}].embedding is not a list of numbers")
        idx = item.get("index", pos)
        rows.append((idx if isinstance(idx, int) else pos, [float(x) for x in vec]))
    rows.sort(key=lambda r: r[0])
    usage_obj = require_dict(body.get("usage")) or {}
    prompt = as_int(usage_obj.get("prompt_tokens"))
    return ParsedReply(
        text="",
        usage=Usage(prompt, 0, as_int(usage_obj.get("total_tokens")) or prompt),
        model=str(body["model"]) if body.get("model") else None,
        embeddings=[r[1] for r in rows],
    )


#: The moderation models promptfoo sends content parts to (it knows them to take images).
OMNI_MODERATION_MODELS = frozenset({"omni-moderation-latest", "omni-moderation-2024-09-26"})


def parse_openai_moderation(adapter: Adapter, response: RawResponse) -> ParsedReply:
    """OpenAI ``{results: [{flagged, categories, category_scores}]}`` -> flags.

    As promptfoo reads it: the categories set in any *flagged* result, each with its highest
    score over those results.
    """
    body = response.body if isinstance(response.body, dict) else None
    results = body.get("results") if body else None
    if not isinstance(results, list):
        raise adapter.bad_reply(response, "expected {results: [{flagged, categories}]}")
    flags: dict[str, float] = {}
    for pos, result in enumerate(results):
        if not isinstance(result, dict) or not isinstance(result.get("categories"), dict):
            raise adapter.bad_reply(response, f"results[{pos}].categories is not an object")
        if not result.get("flagged"):
            continue
        scores = result.get("category_scores")
        scores = scores if isinstance(scores, dict) else {}
        for category, hit in result["categories"].items():
            if not hit:
                continue
            score = scores.get(category)
            value = float(score) if isinstance(score, int | float) else 0.0
            if category not in flags or value > flags[category]:
                flags[category] = value
    return ParsedReply(
        text="",
        model=str(body["model"]) if body and body.get("model") else None,
        flags=flags,
    )


class OpenAIChatAdapter(Adapter):
    """OpenAI chat completions; the base of every OpenAI-compatible provider."""

    slug: ClassVar[str] = "openai"
    key_env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    supports_embeddings: ClassVar[bool] = True
    #: Route suffix after the slug for chat completions.
    chat_path: ClassVar[str] = "chat/completions"
    #: Route suffix for embeddings, or None when the provider has none here.
    embed_path: ClassVar[str | None] = "embeddings"
    #: Route suffix for moderation (OpenAI's ``moderations``), or None.
    moderation_path: ClassVar[str | None] = "moderations"
    #: Send ``max_tokens`` as ``max_completion_tokens`` for o-series / gpt-5 models.
    renames_reasoning_max_tokens: ClassVar[bool] = True
    #: Streams ask for usage with ``stream_options: {include_usage: true}`` (providers that
    #: always send usage in the last chunk and may reject the field set this False).
    stream_usage_option: ClassVar[bool] = True

    # --- chat ---------------------------------------------------------------------------

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return self.chat_path, {}

    def body_model(self, call: ChatCall) -> str | None:
        """The ``model`` field of the body (None: no model field, as on Azure)."""
        return call.model

    def is_reasoning(self, call: ChatCall) -> bool:
        """Should ``max_tokens`` be renamed for this call's model?"""
        return self.renames_reasoning_max_tokens and is_reasoning_model(call.model)

    def stream_refusal(self, call: ChatCall) -> str | None:
        return None

    def stream_assembler(self, call: ChatCall) -> StreamAssembler:
        return OpenAIChatAssembler(self.slug)

    def body(self, call: ChatCall) -> Any:
        opts = model_options(call, self.slug)
        if call.stream:
            given = call.options.get("stream_options")
            opts["stream"] = True
            if self.stream_usage_option:
                opts["stream_options"] = {
                    **(given if isinstance(given, dict) else {}),
                    "include_usage": True,
                }
            elif isinstance(given, dict):
                opts["stream_options"] = dict(given)
        passthrough = opts.pop("passthrough", None)
        if self.is_reasoning(call):
            if "max_tokens" in opts:
                max_tokens = opts.pop("max_tokens")
                opts.setdefault("max_completion_tokens", max_tokens)
            # promptfoo (OpenAiChatCompletionProvider.supportsTemperature) never sends
            # temperature to o-series / gpt-5 models: they answer 400 to it
            opts.pop("temperature", None)
        body: dict[str, Any] = {}
        model = self.body_model(call)
        if model is not None:
            body["model"] = model
        body["messages"] = [dict(m) for m in call.messages]
        for key, value in opts.items():
            body.setdefault(key, value)
        if isinstance(passthrough, dict):
            body.update(passthrough)
        elif passthrough is not None:
            raise GatewayConfigError(
                f"{self.slug}: `passthrough` must be a mapping of extra body fields",
                provider=self.slug,
            )
        return body

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        return parse_openai_chat(self, response)

    # --- embeddings ---------------------------------------------------------------------

    def embed_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        if self.embed_path is None:
            return super().embed_route(call)
        return self.embed_path, {}

    def embed_body(self, call: ChatCall) -> Any:
        if self.embed_path is None:
            return super().embed_body(call)
        body: dict[str, Any] = {}
        model = self.body_model(call)
        if model is not None:
            body["model"] = model
        body["input"] = list(call.inputs)
        for key, value in model_options(call, self.slug).items():
            body.setdefault(key, value)
        return body

    def parse_embeddings(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        if self.embed_path is None:
            return super().parse_embeddings(response, call)
        return parse_openai_embeddings(self, response)

    # --- moderation -------------------------------------------------------------------

    def moderation_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        if self.moderation_path is None:
            return super().moderation_route(call)
        return self.moderation_path, {}

    def moderation_body(self, call: ChatCall) -> Any:
        """promptfoo's request: the omni models take content parts, older ones a string."""
        if self.moderation_path is None:
            return super().moderation_body(call)
        text = "\n".join(call.inputs)
        body: dict[str, Any] = {"model": call.model}
        if call.model in OMNI_MODERATION_MODELS:
            body["input"] = [{"type": "text", "text": text}]
        else:
            body["input"] = text
        return body

    def parse_moderation(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        if self.moderation_path is None:
            return super().parse_moderation(response, call)
        return parse_openai_moderation(self, response)


class OpenAIChatOnlyAdapter(OpenAIChatAdapter):
    """An OpenAI-compatible provider with chat only: no embeddings route here, and
    ``max_tokens`` is sent as given for every model. Subclass it with ``slug`` and
    ``key_env_vars`` (and ``chat_path`` when it differs)."""

    supports_embeddings = False
    embed_path = None
    moderation_path = None
    renames_reasoning_max_tokens = False


class GroqAdapter(OpenAIChatOnlyAdapter):
    slug = "groq"
    key_env_vars = ("GROQ_API_KEY",)


class PerplexityAdapter(OpenAIChatOnlyAdapter):
    slug = "perplexity-ai"
    key_env_vars = ("PERPLEXITY_API_KEY",)
    stream_usage_option = False  # usage rides on the stream's chunks already


class MistralAdapter(OpenAIChatAdapter):
    slug = "mistral"
    key_env_vars = ("MISTRAL_API_KEY",)
    chat_path = "v1/chat/completions"
    embed_path = "v1/embeddings"
    moderation_path = None  # Mistral's moderation API has another shape
    renames_reasoning_max_tokens = False
    stream_usage_option = False  # Mistral sends usage in the last chunk, no stream_options


class GrokAdapter(OpenAIChatOnlyAdapter):
    slug = "grok"
    key_env_vars = ("XAI_API_KEY",)
    chat_path = "v1/chat/completions"


class DeepSeekAdapter(OpenAIChatOnlyAdapter):
    slug = "deepseek"
    key_env_vars = ("DEEPSEEK_API_KEY",)


class CerebrasAdapter(OpenAIChatOnlyAdapter):
    slug = "cerebras"
    key_env_vars = ("CEREBRAS_API_KEY",)


class OpenRouterAdapter(OpenAIChatOnlyAdapter):
    slug = "openrouter"
    key_env_vars = ("OPENROUTER_API_KEY",)


DEFAULT_AZURE_API_VERSION = "2024-12-01-preview"


class AzureOpenAIAdapter(OpenAIChatAdapter):
    """Azure OpenAI: deployment in the path, ``api-version`` query, ``api-key`` header."""

    slug = "azure-openai"
    key_env_vars = ("AZURE_OPENAI_API_KEY",)
    moderation_path = None  # Azure moderates with Content Safety, not this route

    def _resource(self, call: ChatCall) -> str:
        value = call.config.get("resourceName")
        if not value or not isinstance(value, str):
            raise GatewayConfigError(
                "azure-openai requires `resourceName` in the provider config (the part before "
                ".openai.azure.com). Example: {id: 'cloudflare-gateway:azure-openai:gpt-4o', "
                "config: {resourceName: my-resource, deploymentName: my-gpt4o}}",
                provider=self.slug,
            )
        return value

    def _deployment(self, call: ChatCall) -> str:
        value = call.config.get("deploymentName") or call.model
        if not value or not isinstance(value, str):
            raise GatewayConfigError(
                "azure-openai requires `deploymentName` in the provider config (or a model "
                "name to use as the deployment). Example: {id: "
                "'cloudflare-gateway:azure-openai:gpt-4o', config: {resourceName: "
                "my-resource, deploymentName: my-gpt4o}}",
                provider=self.slug,
            )
        return value

    def _query(self, call: ChatCall) -> dict[str, str]:
        version = call.config.get("apiVersion") or DEFAULT_AZURE_API_VERSION
        return {"api-version": str(version)}

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return f"{self._resource(call)}/{self._deployment(call)}/chat/completions", self._query(
            call
        )

    def auth_headers(self, key: str, call: ChatCall) -> dict[str, str]:
        return {"api-key": key}

    def body_model(self, call: ChatCall) -> str | None:
        return None  # the deployment in the path selects the model

    def is_reasoning(self, call: ChatCall) -> bool:
        deployment = call.config.get("deploymentName")
        return is_reasoning_model(call.model) or (
            isinstance(deployment, str) and is_reasoning_model(deployment)
        )

    def embed_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return f"{self._resource(call)}/{self._deployment(call)}/embeddings", self._query(call)


#: Key env vars of providers reachable through ``compat`` by their model prefix.
COMPAT_PREFIX_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "perplexity": ("PERPLEXITY_API_KEY",),
    "perplexity-ai": ("PERPLEXITY_API_KEY",),
    "google-ai-studio": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "workers-ai": ("CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN"),
    "grok": ("XAI_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "azure-openai": ("AZURE_OPENAI_API_KEY",),
}


class CompatAdapter(OpenAIChatAdapter):
    """The gateway's OpenAI-compatible ``compat/chat/completions`` endpoint.

    The model is ``{provider}/{model}`` (``openai/gpt-4o-mini``) and is sent as given. The
    provider key is read from the env var of the provider named in the prefix
    (``anthropic/...`` -> ``ANTHROPIC_API_KEY``); an unknown prefix ``p`` reads
    ``P_API_KEY`` (upper-cased, ``-`` -> ``_``). ``apiKey``/``apiKeyEnvar`` override as usual,
    and with no key BYOK applies (only ``cf-aig-authorization`` is sent).
    """

    slug = "compat"
    moderation_path = None
    key_env_vars = ()
    supports_embeddings = False
    embed_path = None

    def _prefix(self, call: ChatCall) -> str:
        prefix, sep, rest = call.model.partition("/")
        if not sep or not prefix or not rest:
            raise GatewayConfigError(
                f"compat models use the `provider/model` form, e.g. "
                f"cloudflare-gateway:compat:openai/gpt-4o-mini; got {call.model!r}",
                provider=self.slug,
            )
        return prefix

    def key_envs(self, call: ChatCall) -> tuple[str, ...]:
        prefix = self._prefix(call)
        known = COMPAT_PREFIX_KEYS.get(prefix.lower())
        if known is not None:
            return known
        return (re.sub(r"[^A-Z0-9]+", "_", prefix.upper()).strip("_") + "_API_KEY",)

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        self._prefix(call)
        return self.chat_path, {}

    def is_reasoning(self, call: ChatCall) -> bool:
        prefix = self._prefix(call).lower()
        return prefix in ("openai", "azure-openai") and is_reasoning_model(call.model)
