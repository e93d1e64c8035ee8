"""Provider-id grammar, option splitting, gateway URL building and id/token/key resolution.

Everything here is pure: no I/O, no network. Environment lookups go through the mapping the
caller passes (the `Gateway`'s ``env``), so tests and the plugin's ``.env`` file can inject.
Resolution follows promptfoo's ``cloudflare-gateway`` provider: a config value, else the env var
named by the config's ``*Envar`` key (falling back with a logged warning when it is empty), else
the default env var.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from .errors import GatewayConfigError
from .redact import secret

log = logging.getLogger("pytest_cfgateway")

DEFAULT_BASE_URL = "https://gateway.ai.cloudflare.com/v1"
ACCOUNT_ENV = "CLOUDFLARE_ACCOUNT_ID"
GATEWAY_ENV = "CLOUDFLARE_GATEWAY_ID"
TOKEN_ENV = "CF_AIG_TOKEN"
BASE_URL_ENV = "CF_GATEWAY_URL"

#: The promptfoo prefix that wraps a gateway provider id.
GATEWAY_PREFIX = "cloudflare-gateway"
ECHO = "echo"
UNIVERSAL = "universal"
BEDROCK_SLUGS = frozenset({"bedrock", "aws-bedrock", "amazon-bedrock"})

#: Provider config keys (SPEC section 3); every other option is a model option.
PROVIDER_CONFIG_KEYS = frozenset(
    {
        "accountId",
        "accountIdEnvar",
        "gatewayId",
        "gatewayIdEnvar",
        "cfAigToken",
        "cfAigTokenEnvar",
        "apiKey",
        "apiKeyEnvar",
        "gatewayUrl",
        "resourceName",
        "deploymentName",
        "apiVersion",
        "byokAlias",
        "cacheTtl",
        "skipCache",
        "cacheKey",
        "metadata",
        "requestTimeout",
        "maxAttempts",
        "retryDelay",
        "backoff",
        "customCost",
        "fallbacks",
        "headers",
        "eventId",
    }
)
#: promptfoo provider settings that mean nothing to the gateway; accepted and dropped.
IGNORED_CONFIG_KEYS = frozenset(
    {"apiKeyRequired", "apiBaseUrl", "apiHost", "apiEndpoint", "cost", "label"}
)


#: promptfoo's mode words: after a provider family they name the API, never the model
#: (``openai:chat:gpt-4o`` is model ``gpt-4o`` in chat mode).
MODE_WORDS = frozenset(
    {
        "chat",
        "messages",
        "completion",
        "completions",
        "embedding",
        "embeddings",
        "responses",
        "assistant",
        "realtime",
        "image",
        "moderation",
        "transcription",
        "tts",
        "agents",
        "chatkit",
        "video",
        "codex-sdk",
        "claude-agent-sdk",
        "text-generation",
        "feature-extraction",
        "sentence-similarity",
        "text-classification",
        "token-classification",
        "live",
        "voice",
    }
)
#: Modes whose calls are embeddings.
EMBED_MODES = frozenset({"embedding", "embeddings", "feature-extraction"})
#: promptfoo provider families whose gateway slug is spelled differently.
FAMILY_SLUGS = {
    "gemini": "google-ai-studio",
    "google": "google-ai-studio",
    "xai": "grok",
    "perplexity": "perplexity-ai",
    "azure": "azure-openai",
    "azureopenai": "azure-openai",
    "cloudflare-ai": "workers-ai",
}


@dataclasses.dataclass(frozen=True)
class ProviderParts:
    """A provider id split by promptfoo's grammar (no knowledge of which slugs exist)."""

    family: str  # "openai", "anthropic", "google-ai-studio" (after cloudflare-gateway:), ...
    mode: str  # a MODE_WORDS entry, or "" when the id names none
    model: str  # everything after the family and the mode (may hold ':' and '/')
    via_gateway: bool  # written as cloudflare-gateway:{family}:...


def split_provider_id(provider_id: str) -> ProviderParts:
    """The one provider-id grammar, shared by configs, `Gateway` and the fixtures.

    ``[cloudflare-gateway:]{family}[:{mode}]:{model}``: a mode word right after the family
    is a mode, so ``openai:chat:gpt-4o-mini`` is model ``gpt-4o-mini`` and
    ``openai:ft:gpt-4o-mini:org::id`` is model ``ft:gpt-4o-mini:org::id``.
    """
    text = provider_id.strip()
    family, _, rest = text.partition(":")
    via = family == GATEWAY_PREFIX
    if via:
        family, _, rest = rest.partition(":")
    head, sep, tail = rest.partition(":")
    if head in MODE_WORDS and (tail or not sep):
        return ProviderParts(family.strip(), head, tail.strip(), via)
    return ProviderParts(family.strip(), "", rest.strip(), via)


@dataclasses.dataclass(frozen=True)
class ProviderRef:
    """A parsed provider id: gateway slug and model (the model may hold ``:`` and ``/``)."""

    slug: str
    model: str
    mode: str = ""  # promptfoo mode word from the id ("chat", "embedding", ...), or ""


def parse_provider_id(provider_id: str, known: Collection[str]) -> ProviderRef:
    """Parse ``{slug}:{model}``, promptfoo's ``{family}:{mode}:{model}``,
    ``cloudflare-gateway:{slug}:{model}`` or ``echo`` (grammar: `split_provider_id`).

    ``known`` is the set of slugs with an adapter; promptfoo family names (``gemini``,
    ``xai``, ``azure``, ...) map to their slugs. Raises GatewayConfigError naming the
    supported slugs for an unknown slug or Bedrock, and for an empty model.
    """
    if not isinstance(provider_id, str) or not provider_id.strip():
        raise GatewayConfigError(
            f"provider id must be a non-empty string like 'openai:gpt-4o', got {provider_id!r}"
        )
    text = provider_id.strip()
    if text == ECHO or text.startswith(ECHO + ":"):
        return ProviderRef(ECHO, text[len(ECHO) + 1 :])
    if text.startswith(GATEWAY_PREFIX + ":") and text.count(":") < 2:
        raise GatewayConfigError(
            f'Invalid cloudflare-gateway provider path: "{text}". Expected format: '
            "cloudflare-gateway:{provider}:{model} (e.g., cloudflare-gateway:openai:gpt-4o)"
        )
    parts = split_provider_id(text)
    slug = parts.family
    if slug not in known:
        slug = FAMILY_SLUGS.get(slug, slug)
    if slug.lower() in BEDROCK_SLUGS:
        raise GatewayConfigError(
            f'Unsupported Cloudflare AI Gateway provider: "{slug}". AWS Bedrock needs SigV4 '
            "request signing, which pytest-cfgateway does not do. Supported providers: "
            + supported_list(known)
        )
    if slug not in known:
        raise GatewayConfigError(
            f'Unsupported Cloudflare AI Gateway provider: "{slug}" (in provider id '
            f"{text!r}). Supported providers: {supported_list(known)}. Write the id as "
            "{provider}:{model}, e.g. openai:gpt-4o"
        )
    model = parts.model
    if not model:
        raise GatewayConfigError(
            f"Model name is required in provider id {text!r}: write {slug}:{{model}}, "
            f"e.g. {slug}:{_example_model(slug)}"
        )
    if slug == "compat" and "/" not in model:
        raise GatewayConfigError(
            f"compat provider id {text!r} needs a provider prefix on the model: "
            "compat:{provider}/{model}, e.g. compat:openai/gpt-4o-mini"
        )
    return ProviderRef(slug, model, parts.mode)


#: Provider API hosts and the gateway slug that proxies each (for ``apiBaseUrl``/``apiHost``,
#: and Hugging Face's ``apiEndpoint``).
HOST_SLUGS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral",
    "api.perplexity.ai": "perplexity-ai",
    "generativelanguage.googleapis.com": "google-ai-studio",
    "api.x.ai": "grok",
    "api.cohere.ai": "cohere",
    "api.cohere.com": "cohere",
    "openrouter.ai": "openrouter",
    "api.cerebras.ai": "cerebras",
    "api-inference.huggingface.co": "huggingface",
    "api.replicate.com": "replicate",
}


@dataclasses.dataclass(frozen=True)
class BaseUrlRoute:
    """The gateway route a provider ``apiBaseUrl``/``apiHost`` means."""

    slug: str
    config: dict[str, str]  # settings the URL carries (resourceName, accountId, gatewayId)


def route_for_base_url(url: str) -> BaseUrlRoute | None:
    """Map a promptfoo ``apiBaseUrl``/``apiHost`` to a gateway route, or None when it is a
    host the gateway does not proxy (a local server, a private proxy, ...).

    Known provider hosts map to their slug; ``{resource}.openai.azure.com`` to
    ``azure-openai`` with ``resourceName``; a Cloudflare AI Gateway URL
    (``https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/{slug}``) to its slug with
    ``accountId`` and ``gatewayId``.
    """
    from urllib.parse import urlsplit

    text = url.strip()
    parsed = urlsplit(text if "//" in text else "https://" + text)
    host = (parsed.hostname or "").lower()
    if host.endswith(".openai.azure.com") and host.count(".") == 3:
        return BaseUrlRoute("azure-openai", {"resourceName": host.split(".", 1)[0]})
    if host == "gateway.ai.cloudflare.com":
        segments = [seg for seg in parsed.path.split("/") if seg]
        if len(segments) >= 4 and segments[0] == "v1":
            return BaseUrlRoute(segments[3], {"accountId": segments[1], "gatewayId": segments[2]})
        return None
    slug = HOST_SLUGS.get(host)
    return BaseUrlRoute(slug, {}) if slug else None


def supported_list(known: Iterable[str]) -> str:
    """The supported slugs as a comma-separated list (stable order, echo last)."""
    return ", ".join([*sorted(s for s in known if s != ECHO), ECHO])


def _example_model(slug: str) -> str:
    examples = {
        "anthropic": "claude-sonnet-4-5-20250929",
        "workers-ai": "@cf/meta/llama-3.1-8b-instruct",
        "google-ai-studio": "gemini-2.5-flash",
    }
    return examples.get(slug, "gpt-4o")


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split keyword options into (provider config, model options).

    Provider config keys are listed in `PROVIDER_CONFIG_KEYS`; promptfoo settings that have
    no meaning here (`IGNORED_CONFIG_KEYS`) are dropped; everything else is a model option.
    """
    config: dict[str, Any] = {}
    model: dict[str, Any] = {}
    for key, value in options.items():
        if key in PROVIDER_CONFIG_KEYS:
            config[key] = value
        elif key not in IGNORED_CONFIG_KEYS:
            model[key] = value
    return config, model


# --- resolution ---------------------------------------------------------------------------


def _nonempty(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def resolve_setting(
    config: Mapping[str, Any],
    key: str,
    envar_key: str,
    default_env: str,
    env: Mapping[str, str],
    fallback: str | None = None,
    *,
    warn: bool = True,
) -> tuple[str | None, str | None]:
    """(value, source name) for one setting, promptfoo order.

    ``config[key]`` > env ``config[envar_key]`` (empty: warning, fall through) > ``fallback``
    (the Gateway constructor argument) > env ``default_env``.
    """
    value = _nonempty(config.get(key))
    if value:
        return value, key
    custom = _nonempty(config.get(envar_key))
    if custom:
        value = _nonempty(env.get(custom))
        if value:
            return value, custom
        if warn:
            log.warning(
                "Custom %s environment variable '%s' is not set. Falling back to %s.",
                key,
                custom,
                default_env,
            )
    if fallback:
        return fallback, key
    value = _nonempty(env.get(default_env))
    return (value, default_env) if value else (None, None)


def resolve_token(
    config: Mapping[str, Any], env: Mapping[str, str], fallback: str | None
) -> tuple[str | None, str]:
    """(gateway token, secret name). Optional: no token means no ``cf-aig-authorization``."""
    value, source = resolve_setting(
        config, "cfAigToken", "cfAigTokenEnvar", TOKEN_ENV, env, fallback, warn=False
    )
    if source in (None, "cfAigToken"):
        source = TOKEN_ENV
    return (secret(value) if value else None), source or TOKEN_ENV


@dataclasses.dataclass(frozen=True)
class KeyLookup:
    """The provider key that was found (or not), and which names were consulted."""

    key: str | None = dataclasses.field(repr=False)
    name: str  # secret name: the env var it came from, "apiKey" or "api_keys"
    tried: tuple[str, ...]  # env var names read, for the error message


def resolve_key(
    slug: str,
    config: Mapping[str, Any],
    env: Mapping[str, str],
    api_keys: Mapping[str, str],
    default_envs: Iterable[str],
    *,
    aliases: Iterable[str] = (),
) -> KeyLookup:
    """Provider key: ``api_keys[slug]`` > config ``apiKey`` > env ``apiKeyEnvar`` > defaults.

    ``aliases`` are further ``api_keys`` names to consult (e.g. the provider behind
    ``compat``). An ``apiKeyEnvar`` that is set but empty falls back to the provider's own
    default env vars (never another provider's), with a logged warning.
    """
    for name in (slug, *aliases):
        value = _nonempty(api_keys.get(name))
        if value:
            return KeyLookup(secret(value), f"api_keys[{name}]", ())
    value = _nonempty(config.get("apiKey"))
    if value:
        return KeyLookup(secret(value), "apiKey", ())
    tried: list[str] = []
    custom = _nonempty(config.get("apiKeyEnvar"))
    if custom:
        tried.append(custom)
        value = _nonempty(env.get(custom))
        if value:
            return KeyLookup(secret(value), custom, tuple(tried))
        log.warning("apiKeyEnvar '%s' is not set; falling back to the default key env vars", custom)
    for name in default_envs:
        if name in tried:
            continue
        tried.append(name)
        value = _nonempty(env.get(name))
        if value:
            return KeyLookup(secret(value), name, tuple(tried))
    return KeyLookup(None, "", tuple(tried))


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a request goes: base URL, account and gateway ids."""

    base_url: str
    account_id: str
    gateway_id: str


def resolve_target(
    config: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    account_id: str | None = None,
    gateway_id: str | None = None,
    base_url: str | None = None,
) -> Target:
    """Resolve base URL, account id and gateway id; raise GatewayConfigError when missing.

    Base URL: config ``gatewayUrl`` > ``base_url`` argument > env ``CF_GATEWAY_URL`` >
    ``https://gateway.ai.cloudflare.com/v1``.
    """
    account, _ = resolve_setting(
        config, "accountId", "accountIdEnvar", ACCOUNT_ENV, env, account_id
    )
    if not account:
        raise GatewayConfigError(
            "Cloudflare account ID required. Supply it via config accountId or accountIdEnvar, "
            f"Gateway(account_id=...), or the {ACCOUNT_ENV} environment variable"
        )
    gateway, _ = resolve_setting(
        config, "gatewayId", "gatewayIdEnvar", GATEWAY_ENV, env, gateway_id
    )
    if not gateway:
        raise GatewayConfigError(
            "Cloudflare AI Gateway ID required. Supply it via config gatewayId or gatewayIdEnvar, "
            f"Gateway(gateway_id=...), or the {GATEWAY_ENV} environment variable"
        )
    base = (
        _nonempty(config.get("gatewayUrl"))
        or _nonempty(base_url)
        or _nonempty(env.get(BASE_URL_ENV))
        or DEFAULT_BASE_URL
    )
    return Target(check_base_url(base), account, gateway)


@functools.lru_cache(maxsize=64)  # pure, and asked once per call (errors are not cached)
def check_base_url(base: str) -> str:
    """The gateway base URL, normalised (lower-case scheme, no trailing ``/``).

    Raises GatewayConfigError, never echoing credentials or query values, for a scheme other
    than http(s), credentials (``user:pass@``: httpx would send them as ``Authorization:
    Basic`` instead of the provider key) and a query string or fragment (the route is
    appended after the path, so ``?key=...`` would end up in the middle of the URL).
    """
    where = "(from gatewayUrl, Gateway(base_url=...), --cf-gateway-url or CF_GATEWAY_URL)"
    try:
        parts = urlsplit(base)
        port = parts.port
    except ValueError:
        raise GatewayConfigError(
            f"gateway base URL is not a valid URL {where}; write it as "
            "https://gateway.ai.cloudflare.com/v1 (or http://127.0.0.1:PORT/v1 for an emulator)"
        ) from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    shown = f"{scheme}://{host}{f':{port}' if port else ''}{parts.path}"
    if scheme not in ("http", "https") or not host:
        raise GatewayConfigError(
            f"gateway base URL must start with http:// or https:// and name a host, got "
            f"{shown if host else scheme + '://...'!r} {where}"
        )
    if "@" in parts.netloc:
        raise GatewayConfigError(
            f"gateway base URL {shown!r} carries credentials (user:password@) {where}; remove "
            "them: the gateway is authenticated with CF_AIG_TOKEN (or provider config "
            "cfAigToken), and httpx would send them as Authorization: Basic instead of the "
            "provider key"
        )
    if parts.query or parts.fragment or base.rstrip().endswith(("?", "#")):
        raise GatewayConfigError(
            f"gateway base URL {shown!r} has a query string or fragment {where}; remove it "
            "(the route is appended to the path, so it would land in the middle of the URL; "
            "the gateway token goes in CF_AIG_TOKEN, provider keys in their env vars)"
        )
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def build_url(target: Target, provider: str, path: str, query: Mapping[str, str] | None) -> str:
    """``{base}/{account}/{gateway}/{provider}/{path}[?query]``; Universal posts to the root."""
    parts = [target.base_url, quote(target.account_id, safe=""), quote(target.gateway_id, safe="")]
    if provider != UNIVERSAL:
        parts.append(provider)
        if path:
            parts.append(path.lstrip("/"))
    url = "/".join(parts)
    if query:
        url += "?" + urlencode(dict(query))
    return url
