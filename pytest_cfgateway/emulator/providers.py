"""The provider table: for each gateway slug, how its key is sent, its error format and the
handler that speaks its wire format (reference/cloudflare-gateway.md section 1.2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping

from .envelope import gateway_reply
from .wire import (
    Ctx,
    ErrorStyle,
    ProviderCall,
    Reply,
    anthropic_error,
    azure_error,
    cohere_error,
    error_reply,
    google_error,
    huggingface_error,
    openai_error,
    replicate_error,
    workers_error,
)
from .wire_anthropic import handle_messages
from .wire_cohere import handle_cohere
from .wire_gemini import handle_gemini
from .wire_hf import handle_huggingface
from .wire_moderation import handle_moderations
from .wire_openai import handle_chat, handle_embeddings
from .wire_replicate import handle_replicate
from .wire_workers import handle_workers

Handler = Callable[[ProviderCall, Ctx], Reply]

#: Documented gateway slugs the emulator does not implement (answered 400/2008 with a note).
UNIMPLEMENTED = frozenset(
    {
        "aws-bedrock",
        "bedrock",
        "google-vertex-ai",
        "elevenlabs",
        "cartesia",
        "deepgram",
        "fal",
        "baseten",
        "ideogram",
        "parallel",
        "saladcloud",
        "neon",
    }
)


@dataclasses.dataclass(frozen=True)
class ProviderSpec:
    """How one provider authenticates, fails, and answers."""

    slug: str
    handler: Handler
    style: ErrorStyle
    header: str = "authorization"  # where the key goes
    schemes: tuple[str, ...] = ("bearer",)  # accepted schemes; () = raw value
    alt_bearer: bool = False  # also accept ``Authorization: Bearer`` (Azure Entra tokens)
    query_key: str | None = None  # also accept the key as a query parameter (Gemini ``key``)
    missing: str = "You didn't provide an API key."
    invalid: str = "Incorrect API key provided."
    missing_status: int = 401
    invalid_status: int = 401

    def key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        """The provider key this request carries, or None (empty values count as none)."""
        value = headers.get(self.header, "").strip()
        if value and self.schemes:
            scheme, _, rest = value.partition(" ")
            value = rest.strip() if scheme.lower() in self.schemes else ""
        if not value and self.alt_bearer:
            scheme, _, rest = headers.get("authorization", "").strip().partition(" ")
            value = rest.strip() if scheme.lower() == "bearer" else ""
        if not value and self.query_key:
            value = query.get(self.query_key, "").strip()
        return value or None

    def auth_value(self, headers: Mapping[str, str]) -> str:
        """The raw auth header value as sent (part of the cache key)."""
        return headers.get(self.header, "")

    def inject(self, headers: MutableMapping[str, str], key: str) -> None:
        """Put a stored (BYOK) key where this provider expects it."""
        headers[self.header] = f"Bearer {key}" if self.schemes else key

    def missing_reply(self) -> Reply:
        return error_reply(self.style, self.missing_status, "auth_missing", self.missing)

    def invalid_reply(self) -> Reply:
        return error_reply(self.style, self.invalid_status, "auth_invalid", self.invalid)


def _openai_family(
    prefix: str,
    chat: tuple[str, ...],
    embeddings: tuple[str, ...] = (),
    strict: bool = False,
    moderations: tuple[str, ...] = (),
) -> Handler:
    def handle(call: ProviderCall, ctx: Ctx) -> Reply:
        if call.path in chat:
            return handle_chat(call, ctx, openai_error, strict_params=strict)
        if call.path in embeddings:
            return handle_embeddings(call, ctx, openai_error)
        if call.path in moderations:
            return handle_moderations(call, ctx)
        return error_reply(
            openai_error, 404, "not_found", f"Invalid URL ({call.method} {prefix}{call.path})"
        )

    return handle


def _azure(call: ProviderCall, ctx: Ctx) -> Reply:
    parts = call.path.split("/")
    if (
        len(parts) >= 3
        and all(parts[:2])
        and "/".join(parts[2:])
        in (
            "chat/completions",
            "embeddings",
        )
    ):
        if not call.query.get("api-version"):
            return error_reply(
                azure_error,
                404,
                "not_found",
                "Resource not found (the api-version query parameter is required, "
                "e.g. ?api-version=2024-12-01-preview)",
            )
        deployment = parts[1]
        if parts[2] == "embeddings":
            return handle_embeddings(call, ctx, azure_error, model=deployment)
        return handle_chat(call, ctx, azure_error, model=deployment)
    return error_reply(
        azure_error,
        404,
        "not_found",
        "Resource not found (expected {resourceName}/{deploymentName}/chat/completions)",
    )


_OPENAI_MISSING = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_CHAT = ("chat/completions",)


def _spec(slug: str, handler: Handler, style: ErrorStyle, **kw: object) -> ProviderSpec:
    return ProviderSpec(slug=slug, handler=handler, style=style, **kw)  # type: ignore[arg-type]


PROVIDERS: dict[str, ProviderSpec] = {
    s.slug: s
    for s in (
        _spec(
            "openai",
            _openai_family(
                "/v1/", _CHAT, ("embeddings",), strict=True, moderations=("moderations",)
            ),
            openai_error,
            missing=_OPENAI_MISSING,
        ),
        _spec("groq", _openai_family("/openai/v1/", _CHAT), openai_error, missing=_OPENAI_MISSING),
        _spec("perplexity-ai", _openai_family("/", _CHAT), openai_error, missing=_OPENAI_MISSING),
        _spec(
            "deepseek",
            _openai_family("/", (*_CHAT, "v1/chat/completions")),
            openai_error,
            missing=_OPENAI_MISSING,
        ),
        _spec("cerebras", _openai_family("/v1/", _CHAT), openai_error, missing=_OPENAI_MISSING),
        _spec(
            "openrouter",
            _openai_family("/api/v1/", (*_CHAT, "v1/chat/completions")),
            openai_error,
            missing=_OPENAI_MISSING,
        ),
        _spec(
            "mistral",
            _openai_family("/", ("v1/chat/completions",), ("v1/embeddings",)),
            openai_error,
            missing=_OPENAI_MISSING,
        ),
        _spec(
            "grok",
            _openai_family("/v1/", ("v1/chat/completions",)),
            openai_error,
            missing=_OPENAI_MISSING,
        ),
        _spec(
            "azure-openai",
            _azure,
            azure_error,
            header="api-key",
            schemes=(),
            alt_bearer=True,
            missing="Access denied due to missing subscription key. Make sure to include "
            "subscription key when making requests to an API.",
            invalid="Access denied due to invalid subscription key or wrong API endpoint.",
        ),
        _spec(
            "anthropic",
            handle_messages,
            anthropic_error,
            header="x-api-key",
            schemes=(),
            missing="x-api-key header is required",
            invalid="invalid x-api-key",
        ),
        _spec(
            "google-ai-studio",
            handle_gemini,
            google_error,
            header="x-goog-api-key",
            schemes=(),
            query_key="key",
            missing_status=403,
            invalid_status=400,
            missing="Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call "
            "this API.",
            invalid="API key not valid. Please pass a valid API key.",
        ),
        _spec(
            "cohere",
            handle_cohere,
            cohere_error,
            schemes=("bearer", "token"),
            missing="no api key supplied",
            invalid="invalid api token",
        ),
        _spec(
            "workers-ai",
            handle_workers,
            workers_error,
            missing="Authentication error",
            invalid="Authentication error",
        ),
        _spec(
            "huggingface",
            handle_huggingface,
            huggingface_error,
            missing="You must provide an Authorization header with a token",
            invalid="Invalid credentials in Authorization header",
        ),
        _spec(
            "replicate",
            handle_replicate,
            replicate_error,
            schemes=("bearer", "token"),
            missing="You did not pass an authentication token",
            invalid="You did not pass a valid authentication token",
        ),
    )
}


def custom_provider(slug: str) -> ProviderSpec:
    """A ``custom-{slug}`` provider configured on the gateway. The emulator serves it as an
    OpenAI-compatible upstream (``chat/completions`` or ``v1/chat/completions``, Bearer auth),
    the shape most custom providers have."""
    return _spec(
        slug,
        _openai_family("/", (*_CHAT, "v1/chat/completions")),
        openai_error,
        missing=_OPENAI_MISSING,
    )


def provider_spec(slug: str, custom: frozenset[str] | set[str]) -> ProviderSpec | None:
    """The emulated provider for a URL slug: built in, or one of the configured custom ones."""
    spec = PROVIDERS.get(slug)
    if spec is None and slug in custom:
        spec = custom_provider(slug)
    return spec


#: Slugs accepted as ``compat`` model prefixes (``{prefix}/{model}``).
COMPAT_PREFIXES = frozenset(
    {
        "openai",
        "anthropic",
        "groq",
        "mistral",
        "cohere",
        "perplexity-ai",
        "perplexity",
        "workers-ai",
        "google-ai-studio",
        "grok",
        "deepseek",
        "cerebras",
        "openrouter",
    }
)


def compat_check(path: str, body: object) -> Reply | None:
    """The gateway's own 404/2019/2008 for a bad ``compat`` request, or None when it is fine."""
    if path != "chat/completions":
        return error_reply(openai_error, 404, "not_found", f"Invalid URL (POST /compat/{path})")
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or "/" not in model:
        return gateway_reply(
            2019,
            "Chat completion bad format: 'model' must be '{provider}/{model}', "
            f"e.g. 'openai/gpt-4o-mini' (got {model!r})",
        )
    prefix = model.split("/", 1)[0]
    if prefix not in COMPAT_PREFIXES:
        return gateway_reply(
            2008,
            f"Invalid provider {prefix!r}; compat prefixes: {', '.join(sorted(COMPAT_PREFIXES))}",
        )
    return None


def _compat(call: ProviderCall, ctx: Ctx) -> Reply:
    """``compat/chat/completions``: OpenAI body, ``model`` = ``{provider}/{model}``."""
    bad = compat_check(call.path, call.body)
    if bad is not None:
        return bad
    prefix, rest = str(call.body["model"]).split("/", 1)
    return handle_chat(call, ctx, openai_error, rules_provider=prefix, rules_model=rest)


def compat_provider(body: object) -> str | None:
    """The provider prefix of a compat body's model (for BYOK and fault targeting)."""
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str) and "/" in model:
        prefix = model.split("/", 1)[0]
        return "perplexity-ai" if prefix == "perplexity" else prefix
    return None


#: The ``compat`` endpoint takes every provider's key as ``Authorization: Bearer``.
COMPAT = _spec("compat", _compat, openai_error, missing=_OPENAI_MISSING)
