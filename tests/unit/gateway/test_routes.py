"""Provider-id grammar, option splitting, id/token/key resolution and URL building."""

from __future__ import annotations

import logging

import pytest

from pytest_cfgateway.gateway.errors import GatewayConfigError
from pytest_cfgateway.gateway.routes import (
    DEFAULT_BASE_URL,
    ProviderRef,
    Target,
    build_url,
    parse_provider_id,
    resolve_key,
    resolve_setting,
    resolve_target,
    resolve_token,
    split_options,
)

KNOWN = {"openai", "anthropic", "groq", "workers-ai", "compat", "azure-openai", "replicate"}


@pytest.mark.parametrize(
    ("provider_id", "expected"),
    [
        ("openai:gpt-4o", ProviderRef("openai", "gpt-4o")),
        ("cloudflare-gateway:openai:gpt-4o", ProviderRef("openai", "gpt-4o")),
        (
            "cloudflare-gateway:openai:gpt-4o:with:colons",
            ProviderRef("openai", "gpt-4o:with:colons"),
        ),
        ("groq:openai/gpt-oss-120b", ProviderRef("groq", "openai/gpt-oss-120b")),
        (
            "workers-ai:@cf/meta/llama-3.1-8b-instruct",
            ProviderRef("workers-ai", "@cf/meta/llama-3.1-8b-instruct"),
        ),
        ("compat:anthropic/claude-3-haiku", ProviderRef("compat", "anthropic/claude-3-haiku")),
        (
            "cloudflare-gateway:compat:openai/gpt-4o-mini",
            ProviderRef("compat", "openai/gpt-4o-mini"),
        ),
        ("  openai:gpt-4o  ", ProviderRef("openai", "gpt-4o")),
        ("echo", ProviderRef("echo", "")),
    ],
)
def test_parse_provider_id(provider_id: str, expected: ProviderRef) -> None:
    assert parse_provider_id(provider_id, KNOWN) == expected


@pytest.mark.parametrize(
    ("provider_id", "fragment"),
    [
        ("bedrock:anthropic.claude", "SigV4"),
        ("cloudflare-gateway:aws-bedrock:x", "SigV4"),
        ("ollama:llama3", 'Unsupported Cloudflare AI Gateway provider: "ollama"'),
        ("openai:", "Model name is required"),
        ("openai", "Model name is required"),
        ("cloudflare-gateway:openai", "Expected format: cloudflare-gateway:{provider}:{model}"),
        ("compat:gpt-4o", "compat:{provider}/{model}"),
        ("", "non-empty string"),
    ],
)
def test_parse_provider_id_errors(provider_id: str, fragment: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        parse_provider_id(provider_id, KNOWN)
    assert fragment in str(info.value)


def test_unknown_slug_lists_supported_providers() -> None:
    with pytest.raises(GatewayConfigError) as info:
        parse_provider_id("bedrock:x", KNOWN)
    assert "openai, replicate, workers-ai, echo" in str(info.value)


def test_split_options_separates_provider_config_from_model_options() -> None:
    config, model = split_options(
        {
            "temperature": 0.2,
            "max_tokens": 10,
            "accountId": "a",
            "cacheTtl": 60,
            "metadata": {"x": 1},
            "headers": {"X-A": "1"},
            "apiKeyRequired": False,
            "apiEndpoint": "https://api-inference.huggingface.co/models/gpt2",
            "fallbacks": ["groq:x"],
            "eventId": "e1",
        }
    )
    assert model == {"temperature": 0.2, "max_tokens": 10}
    assert set(config) == {"accountId", "cacheTtl", "metadata", "headers", "fallbacks", "eventId"}


def test_resolve_setting_order() -> None:
    env = {"MY_ACCT": "from-custom", "CLOUDFLARE_ACCOUNT_ID": "from-default"}
    args = ("accountId", "accountIdEnvar", "CLOUDFLARE_ACCOUNT_ID", env)
    assert resolve_setting({"accountId": "cfg", "accountIdEnvar": "MY_ACCT"}, *args)[0] == "cfg"
    assert resolve_setting({"accountIdEnvar": "MY_ACCT"}, *args, "arg")[0] == "from-custom"
    assert resolve_setting({}, *args, "arg")[0] == "arg"
    assert resolve_setting({}, *args)[0] == "from-default"
    assert resolve_setting({}, *args[:3], {})[0] is None


def test_empty_custom_envar_warns_and_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    env = {"CLOUDFLARE_ACCOUNT_ID": "from-default"}
    with caplog.at_level(logging.WARNING, logger="pytest_cfgateway"):
        value, _ = resolve_setting(
            {"accountIdEnvar": "UNSET_VAR"},
            "accountId",
            "accountIdEnvar",
            "CLOUDFLARE_ACCOUNT_ID",
            env,
        )
    assert value == "from-default"
    assert "UNSET_VAR" in caplog.text and "Falling back to CLOUDFLARE_ACCOUNT_ID" in caplog.text


def test_resolve_token_names_its_source() -> None:
    assert resolve_token({}, {"CF_AIG_TOKEN": "t" * 10}, None) == ("t" * 10, "CF_AIG_TOKEN")
    assert resolve_token({"cfAigTokenEnvar": "GW_TOK"}, {"GW_TOK": "x" * 10}, None) == (
        "x" * 10,
        "GW_TOK",
    )
    assert resolve_token({"cfAigToken": "c" * 10}, {}, "arg") == ("c" * 10, "CF_AIG_TOKEN")
    assert resolve_token({}, {}, None) == (None, "CF_AIG_TOKEN")


def test_resolve_key_order() -> None:
    env = {"OPENAI_API_KEY": "env-default", "CUSTOM_KEY": "env-custom"}
    envs = ("OPENAI_API_KEY",)
    assert resolve_key("openai", {"apiKey": "cfg"}, env, {"openai": "arg"}, envs).key == "arg"
    assert (
        resolve_key("openai", {"apiKey": "cfg", "apiKeyEnvar": "CUSTOM_KEY"}, env, {}, envs).key
        == "cfg"
    )
    found = resolve_key("openai", {"apiKeyEnvar": "CUSTOM_KEY"}, env, {}, envs)
    assert (found.key, found.name) == ("env-custom", "CUSTOM_KEY")
    found = resolve_key("openai", {}, env, {}, envs)
    assert (found.key, found.name) == ("env-default", "OPENAI_API_KEY")
    # an empty apiKeyEnvar falls back to the provider's own defaults
    assert resolve_key("openai", {"apiKeyEnvar": "NOPE"}, env, {}, envs).key == "env-default"
    missing = resolve_key("openai", {"apiKeyEnvar": "NOPE"}, {}, {}, envs)
    assert missing.key is None and missing.tried == ("NOPE", "OPENAI_API_KEY")


def test_resolve_key_alternate_names_and_aliases() -> None:
    envs = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    found = resolve_key("google-ai-studio", {}, {"GEMINI_API_KEY": "g"}, {}, envs)
    assert (found.key, found.name, found.tried) == ("g", "GEMINI_API_KEY", envs)
    found = resolve_key("compat", {}, {}, {"anthropic": "a"}, (), aliases=("anthropic",))
    assert found.key == "a"


def test_resolve_target_precedence() -> None:
    env = {
        "CLOUDFLARE_ACCOUNT_ID": "env-acct",
        "CLOUDFLARE_GATEWAY_ID": "env-gw",
        "CF_GATEWAY_URL": "http://env:1/v1/",
    }
    assert resolve_target({}, env) == Target("http://env:1/v1", "env-acct", "env-gw")
    t = resolve_target({}, env, account_id="a", gateway_id="g", base_url="http://arg:2/v1")
    assert t == Target("http://arg:2/v1", "a", "g")
    t = resolve_target(
        {"accountId": "ca", "gatewayId": "cg", "gatewayUrl": "http://cfg:3/v1"},
        env,
        account_id="a",
        gateway_id="g",
        base_url="http://arg:2/v1",
    )
    assert t == Target("http://cfg:3/v1", "ca", "cg")
    assert (
        resolve_target({}, {"CLOUDFLARE_ACCOUNT_ID": "a", "CLOUDFLARE_GATEWAY_ID": "g"}).base_url
        == DEFAULT_BASE_URL
    )


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"CLOUDFLARE_GATEWAY_ID": "g"},
            "account ID required. Supply it via config accountId or accountIdEnvar",
        ),
        (
            {"CLOUDFLARE_ACCOUNT_ID": "a"},
            "Gateway ID required. Supply it via config gatewayId or gatewayIdEnvar",
        ),
        (
            {"CLOUDFLARE_ACCOUNT_ID": "a", "CLOUDFLARE_GATEWAY_ID": "g", "CF_GATEWAY_URL": "ftp:x"},
            "http:// or https://",
        ),
    ],
)
def test_resolve_target_errors(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        resolve_target({}, env)
    assert fragment in str(info.value)


def test_build_url() -> None:
    t = Target("https://gateway.ai.cloudflare.com/v1", "acct", "gw")
    assert (
        build_url(t, "azure-openai", "res/dep/chat/completions", {"api-version": "2024-06-01"})
        == "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res/dep/chat/completions"
        "?api-version=2024-06-01"
    )
    assert build_url(t, "universal", "", None) == "https://gateway.ai.cloudflare.com/v1/acct/gw"
    assert build_url(t, "workers-ai", "@cf/meta/llama", {}).endswith(
        "/gw/workers-ai/@cf/meta/llama"
    )
