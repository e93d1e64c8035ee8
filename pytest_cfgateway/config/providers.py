"""``providers`` / ``targets`` entries -> ProviderSpec, mapping promptfoo ids to gateway routes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..gateway.routes import EMBED_MODES, route_for_base_url, split_provider_id
from .cases import ProviderSpec
from .errors import Ctx, Source, did_you_mean
from .files import Session

#: Gateway slugs of the built-in adapters (SPEC section 3); plugins may register more, so the
#: collector, not this module, decides whether a ``cloudflare-gateway:{slug}:`` slug exists.
GATEWAY_SLUGS = (
    "openai",
    "anthropic",
    "groq",
    "perplexity-ai",
    "google-ai-studio",
    "mistral",
    "cohere",
    "azure-openai",
    "workers-ai",
    "huggingface",
    "replicate",
    "grok",
    "compat",
)

#: promptfoo provider prefixes that exist but cannot go through Cloudflare AI Gateway.
UNSUPPORTED_PREFIXES = frozenset(
    [
        "ollama",
        "http",
        "https",
        "python",
        "exec",
        "file",
        "bedrock",
        "vertex",
        "localai",
        "llama",
        "llamafile",
        "llama.cpp",
        "webhook",
        "browser",
        "websocket",
        "ws",
        "wss",
        "sagemaker",
        "together",
        "togetherai",
        "fireworks",
        "deepinfra",
        "databricks",
        "watsonx",
        "ai21",
        "alibaba",
        "aimlapi",
        "adaline",
        "cloudera",
        "fal",
        "github",
        "golang",
        "go",
        "ruby",
        "helicone",
        "hyperbolic",
        "jfrog",
        "lambdalabs",
        "litellm",
        "llamaapi",
        "manual-input",
        "mcp",
        "nscale",
        "openllm",
        "portkey",
        "promptfoo",
        "sequence",
        "simulated-user",
        "sambanova",
        "snowflake",
        "text-generation-webui",
        "vllm",
        "voyage",
        "azureml",
        "bam",
        "ibm-bam",
        "novita",
        "nvidia",
        "slack",
        "lmstudio",
        "docker",
        "claude-agent-sdk",
        "openai-codex-sdk",
        "opencode",
        "agentcore",
        "transformers",
        "transformers.js",
        "jan",
        "moonshot",
        "kimi",
        "ovhcloud",
        "scaleway",
        "vercel",
        "package",
        "envoy",
        "truefoundry",
        "quiverai",
        "llm",
        "gradio",
        "hf",
        "elevenlabs",
        "xai-image",
        "azure-ai-foundry",
        "github-copilot",
    ]
)


@dataclasses.dataclass(frozen=True)
class _Route:
    route: str  # "gateway" | "echo" | "unsupported"
    gateway_id: str | None = None
    kind: str = "chat"
    deployment: str | None = None  # azure: deploymentName from the id
    reason: str | None = None  # why an "unsupported" route is skipped (None: the default)


def _need_model(pid: str, model: str, ctx: Ctx) -> str:
    if not model:
        raise ctx.error(
            f"provider id {pid!r} has no model name",
            f"write the model after the prefix, e.g. '{pid.rstrip(':')}:<model>'",
        )
    return model


_SIMPLE_FAMILIES = {
    "groq": "groq",
    "perplexity": "perplexity-ai",
    "deepseek": "deepseek",
    "cerebras": "cerebras",
    "openrouter": "openrouter",
    "replicate": "replicate",
    "xai": "grok",
    "google": "google-ai-studio",
    "gemini": "google-ai-studio",
    "anthropic": "anthropic",
    "mistral": "mistral",
    "cohere": "cohere",
    "openai": "openai",
    "cloudflare-ai": "workers-ai",
    "workers-ai": "workers-ai",
}
_KNOWN_PREFIXES = [
    *sorted(_SIMPLE_FAMILIES),
    *("azure", "azureopenai", "huggingface", "compat", "echo", "cloudflare-gateway"),
    *sorted(UNSUPPORTED_PREFIXES),
]


def map_provider_id(pid: str, ctx: Ctx) -> _Route:
    """Map a promptfoo provider id to a gateway route (or echo / unsupported).

    The id is split by the gateway's one grammar (`split_provider_id`), so configs, the
    fixtures and `Gateway` read ``openai:chat:gpt-4o`` the same way.
    """
    if pid == "echo":
        return _Route("echo")
    if pid.startswith(("file://", "http://", "https://")):
        return _Route("unsupported")
    if pid.startswith("cloudflare-gateway:"):
        return _map_cloudflare_gateway(pid, ctx)
    parts = split_provider_id(pid)
    prefix, mode, model = parts.family, parts.mode, parts.model
    has_rest = ":" in pid
    if prefix in ("azure", "azureopenai") and has_rest:
        if mode == "chat":
            return _Route(
                "gateway", f"azure-openai:{_need_model(pid, model, ctx)}", deployment=model
            )
        if mode in EMBED_MODES:
            return _Route("gateway", f"azure-openai:{_need_model(pid, model, ctx)}", "embed", model)
        return _Route("unsupported")
    if prefix == "huggingface" and has_rest:
        if mode == "text-generation":
            return _Route("gateway", f"huggingface:{_need_model(pid, model, ctx)}")
        return _Route("unsupported")
    if prefix == "compat" and has_rest:
        return _Route("gateway", f"compat:{_need_model(pid, pid.partition(':')[2], ctx)}")
    if prefix in _SIMPLE_FAMILIES and has_rest:
        slug = _SIMPLE_FAMILIES[prefix]
        if mode in ("", "chat", "messages") or (mode == "completion" and slug == "workers-ai"):
            return _Route("gateway", f"{slug}:{_need_model(pid, model, ctx)}")
        if mode in EMBED_MODES and prefix not in ("google", "gemini", "xai", "replicate"):
            return _Route("gateway", f"{slug}:{_need_model(pid, model, ctx)}", "embed")
        return _Route(
            "unsupported",
            reason=f"provider '{pid}' uses promptfoo's '{mode}' mode, which pytest-cfgateway "
            "does not send through Cloudflare AI Gateway (chat and embeddings only)",
        )
    if prefix in UNSUPPORTED_PREFIXES or prefix in ("azure", "azureopenai", "huggingface"):
        return _Route("unsupported")
    if prefix in _SIMPLE_FAMILIES:  # e.g. bare "openai"
        raise ctx.error(f"provider id {pid!r} has no model name", f"write e.g. '{pid}:<model>'")
    hint = did_you_mean(prefix, _KNOWN_PREFIXES)
    return _Route(
        "unsupported",
        reason=f"provider '{pid}' is not a provider pytest-cfgateway knows how to send through "
        f"Cloudflare AI Gateway; it is skipped.{hint}".rstrip("."),
    )


def _map_cloudflare_gateway(pid: str, ctx: Ctx) -> _Route:
    parts = split_provider_id(pid)
    if pid.count(":") < 2 or not parts.family:
        raise ctx.error(
            f'invalid cloudflare-gateway provider path: "{pid}"',
            "use cloudflare-gateway:{provider}:{model}, e.g. cloudflare-gateway:openai:gpt-4o",
        )
    slug, model = parts.family, parts.model
    if slug in ("bedrock", "aws-bedrock"):
        return _Route(
            "unsupported",
            reason=f"provider '{pid}': Amazon Bedrock cannot go through the gateway here (its "
            "requests need AWS SigV4 signing, which a proxy cannot add); pytest-cfgateway "
            f"skips it (gateway slugs it sends: {', '.join(GATEWAY_SLUGS)})",
        )
    if not model:
        raise ctx.error(
            f"model name is required for the cloudflare-gateway provider ({pid!r})",
            f"write the model after the slug, e.g. 'cloudflare-gateway:{slug}:<model>'",
        )
    kind = "embed" if parts.mode in EMBED_MODES else "chat"
    return _Route("gateway", f"{slug}:{model}", kind)


def _apply_base_url(
    route: _Route, pid: str, config: dict[str, Any]
) -> tuple[_Route, dict[str, Any]]:
    """``apiBaseUrl``/``apiHost`` (and Hugging Face's ``apiEndpoint``, a private inference
    endpoint) decide where promptfoo sends a request: send it to the gateway route that URL
    means, or skip the provider naming the URL. A provider's key is then the one of the
    route it really goes to, never another provider's."""
    key = next((k for k in ("apiBaseUrl", "apiHost", "apiEndpoint") if config.get(k)), None)
    if key is None or route.route != "gateway" or route.gateway_id is None:
        return route, config
    url = str(config[key])
    target = route_for_base_url(url)
    slug, _, model = route.gateway_id.partition(":")
    if target is None:
        return (
            _Route(
                "unsupported",
                reason=f"provider '{pid}' sets {key}: {url!r}, a host Cloudflare AI Gateway "
                "does not proxy; pytest-cfgateway skips it (remove "
                f"{key} to call {slug} through the gateway)",
            ),
            config,
        )
    extra = {k: v for k, v in target.config.items() if not config.get(k)}
    if target.slug == "azure-openai" and slug != "azure-openai":
        return (
            _Route(
                "unsupported",
                reason=f"provider '{pid}' sets {key}: {url!r} (Azure OpenAI): write the provider "
                "as 'azure:chat:<deployment>' to send it through the gateway",
            ),
            config,
        )
    return dataclasses.replace(route, gateway_id=f"{target.slug}:{model}"), {**config, **extra}


_PROVIDER_KEYS = ("id", "label", "config", "prompts", "transform", "delay", "env", "inputs")


def parse_providers(value: Any, ctx: Ctx, session: Session) -> list[ProviderSpec]:
    """The whole ``providers`` value (string, list, or one object) -> ProviderSpecs."""
    if isinstance(value, str | dict):
        return parse_provider_entry(value, ctx, session, in_list=False)
    if not isinstance(value, list):
        raise ctx.error(
            f"must be a provider id or a list of providers, got {_kind(value)}",
            "write e.g. 'providers: [openai:gpt-4o-mini]'",
        )
    if not value:
        raise ctx.error("is empty", "list at least one provider, e.g. 'providers: [echo]'")
    specs: list[ProviderSpec] = []
    for i, entry in enumerate(value):
        specs.extend(parse_provider_entry(entry, ctx.at(i), session, in_list=True))
    return specs


def parse_provider_entry(
    entry: Any, ctx: Ctx, session: Session, *, in_list: bool = True
) -> list[ProviderSpec]:
    """One providers entry: id string, ``file://`` provider file, object, or one-key map."""
    if isinstance(entry, str):
        if entry.startswith("file://") and entry.lower().endswith((".yaml", ".yml", ".json")):
            path = session.require_file(entry, ctx, "provider file")
            data, fctx = session.load_data(path, ctx)
            if isinstance(data, list):
                out: list[ProviderSpec] = []
                for i, item in enumerate(data):
                    if isinstance(item, str):
                        out.append(make_provider(item, {}, fctx.at(i), session))
                    else:
                        out.extend(parse_provider_entry(item, fctx.at(i), session))
                return out
            if not isinstance(data, dict):
                raise fctx.error(
                    f"a provider file must hold a provider object or a list, got {_kind(data)}",
                    "write e.g. 'id: openai:gpt-4o-mini' with an optional 'config:' block",
                )
            return parse_provider_entry(data, fctx, session)
        return [make_provider(entry, {}, ctx, session)]
    if isinstance(entry, dict):
        if "id" in entry or not entry:
            return [make_provider(None, entry, ctx, session)]
        if len(entry) == 1 and next(iter(entry)) not in _PROVIDER_KEYS:
            ((key, body),) = entry.items()
            bctx = ctx.at(str(key))
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise bctx.error(
                    f"provider options must be a mapping, got {_kind(body)}",
                    f"write '{key}: {{config: {{...}}}}' or use '- id: {key}'",
                )
            return [make_provider(str(key), body, bctx, session)]
        raise ctx.error(
            "provider object has no 'id'",
            "add 'id: <provider id>' (or use a one-key map '<provider id>: {config: ...}')",
        )
    raise ctx.error(
        f"a provider must be an id string or an object, got {_kind(entry)}",
        "write e.g. '- openai:gpt-4o-mini' or '- id: openai:gpt-4o-mini'",
    )


def make_provider(
    pid: str | None, body: dict[str, Any], ctx: Ctx, session: Session
) -> ProviderSpec:
    """Build one ProviderSpec from an id and an options object."""
    from .render import render_config_templates  # local: render imports cases only

    for key in body:
        if key not in _PROVIDER_KEYS:
            session.unknown_key(ctx, key, "provider", _PROVIDER_KEYS)
    raw_id = body.get("id", pid)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ctx.at("id").error(
            "provider 'id' must be a non-empty string", "write e.g. 'id: openai:gpt-4o-mini'"
        )
    pid = raw_id.strip()
    label = body.get("label")
    if label is not None and not isinstance(label, str):
        raise ctx.at("label").error("provider 'label' must be a string", "quote the label")
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise ctx.at("config").error(
            f"provider 'config' must be a mapping, got {_kind(config)}",
            "write e.g. 'config: {temperature: 0}'",
        )
    config = render_config_templates(config, session.env, ctx.at("config"))
    config = _load_config_files(config, ctx.at("config"), session)
    prompts = body.get("prompts")
    if isinstance(prompts, str):
        prompts = [prompts]
    if prompts is not None and not (
        isinstance(prompts, list) and all(isinstance(p, str) for p in prompts)
    ):
        raise ctx.at("prompts").error(
            "provider 'prompts' must be a list of prompt labels",
            "write e.g. 'prompts: [my_prompt_label]'",
        )
    transform = body.get("transform")
    if transform is not None and not isinstance(transform, str):
        raise ctx.at("transform").error(
            "provider 'transform' must be a string (an expression or file:// reference)",
            "write e.g. 'transform: output.trim()'",
        )
    delay = body.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ctx.at("delay").error(
            "provider 'delay' must be a number of milliseconds (>= 0)", "write e.g. 'delay: 500'"
        )
    if "env" in body:
        session.warnings.append(
            f"{ctx.src.display}: {ctx.key_path}.env: provider-level env overrides are ignored; "
            "set variables in the process environment or the top-level 'env'"
        )
    route = map_provider_id(pid, ctx.at("id") if "id" in body else ctx)
    route, config = _apply_base_url(route, pid, config)
    if route.deployment and not config.get("deploymentName"):
        config = {**config, "deploymentName": route.deployment}
    skip = None
    if route.route == "unsupported":
        skip = route.reason or (
            f"provider '{pid}' does not go through Cloudflare AI Gateway; pytest-cfgateway skips it"
        )
    return ProviderSpec(
        id=pid,
        label=label if label else pid,
        config=config,
        route=route.route,  # type: ignore[arg-type]
        gateway_id=route.gateway_id,
        transform=transform,
        prompts=tuple(prompts or ()),
        delay_ms=int(delay),
        skip_reason=skip,
        kind=route.kind,  # type: ignore[arg-type]
    )


#: Provider config values promptfoo reads from a ``file://`` reference.
_FILE_VALUED = ("tools", "functions", "response_format", "systemInstruction", "responseSchema")


def _load_config_files(config: dict[str, Any], ctx: Ctx, session: Session) -> dict[str, Any]:
    """``tools: file://tools.json``, ``systemInstruction: file://system.txt``, ...: loaded
    as promptfoo loads them (JSON/YAML as data, any other file as text)."""
    out = dict(config)
    for key in _FILE_VALUED:
        value = out.get(key)
        if not (isinstance(value, str) and value.startswith("file://")):
            continue
        kctx = ctx.at(key)
        path = session.require_file(value, kctx, f"provider config {key} file")
        if path.suffix.lower() in (".json", ".yaml", ".yml"):
            out[key], _ = session.load_data(path, kctx)
        else:
            out[key] = session.read_text(path, kctx)
    return out


def _kind(value: Any) -> str:
    """A short name for a value's type, as a YAML author would say it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


type_name = _kind


def to_gateway_id(pid: str, *, where: str = "grader provider") -> str | None:
    """A promptfoo provider id as a gateway id ``slug:model`` (None for echo/unsupported).

    Used for ids that do not sit in a config file (``--cf-grader``, assertion ``provider``
    overrides resolved at run time, ``cf_assert``). Raises ConfigError for malformed ids.
    """
    ctx = Ctx(Source(Path(where), {}, where))
    route = map_provider_id(pid, ctx)
    return route.gateway_id if route.route == "gateway" else None
