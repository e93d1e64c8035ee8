"""Provider forms and the promptfoo id -> gateway route mapping."""

from __future__ import annotations

import pytest

from pytest_cfgateway.config import ConfigError

from .conftest import Loader

CFG = """\
prompts: ["hi"]
providers: {providers}
"""


@pytest.mark.parametrize(
    ("pid", "gateway_id", "kind"),
    [
        ("cloudflare-gateway:openai:gpt-4o", "openai:gpt-4o", "chat"),
        ("cloudflare-gateway:groq:openai/gpt-oss-120b", "groq:openai/gpt-oss-120b", "chat"),
        ("cloudflare-gateway:openai:gpt-4o:with:colons", "openai:gpt-4o:with:colons", "chat"),
        ("cloudflare-gateway:my-plugin:m1", "my-plugin:m1", "chat"),
        ("cloudflare-gateway:compat:openai/gpt-4o", "compat:openai/gpt-4o", "chat"),
        ("openai:gpt-4o", "openai:gpt-4o", "chat"),
        ("openai:chat:gpt-4o", "openai:gpt-4o", "chat"),
        ("openai:embedding:text-embedding-3-large", "openai:text-embedding-3-large", "embed"),
        ("openai:embeddings:text-embedding-3-small", "openai:text-embedding-3-small", "embed"),
        ("anthropic:messages:claude-sonnet-4-5", "anthropic:claude-sonnet-4-5", "chat"),
        ("anthropic:claude-3-haiku", "anthropic:claude-3-haiku", "chat"),
        ("groq:llama-3.3-70b", "groq:llama-3.3-70b", "chat"),
        ("mistral:mistral-large-latest", "mistral:mistral-large-latest", "chat"),
        ("mistral:chat:mistral-small", "mistral:mistral-small", "chat"),
        ("xai:grok-3", "grok:grok-3", "chat"),
        ("perplexity:sonar", "perplexity-ai:sonar", "chat"),
        ("google:gemini-2.0-flash", "google-ai-studio:gemini-2.0-flash", "chat"),
        ("gemini:gemini-2.5-pro", "google-ai-studio:gemini-2.5-pro", "chat"),
        ("cohere:command-r", "cohere:command-r", "chat"),
        ("azure:chat:my-deploy", "azure-openai:my-deploy", "chat"),
        ("azureopenai:chat:my-deploy", "azure-openai:my-deploy", "chat"),
        ("cloudflare-ai:chat:@cf/meta/llama-3.1-8b", "workers-ai:@cf/meta/llama-3.1-8b", "chat"),
        ("cloudflare-ai:@cf/meta/llama-3.1-8b", "workers-ai:@cf/meta/llama-3.1-8b", "chat"),
        ("workers-ai:@cf/meta/llama-3.1-8b", "workers-ai:@cf/meta/llama-3.1-8b", "chat"),
        ("huggingface:text-generation:gpt2", "huggingface:gpt2", "chat"),
        ("replicate:meta/llama-2-70b", "replicate:meta/llama-2-70b", "chat"),
        ("deepseek:deepseek-chat", "deepseek:deepseek-chat", "chat"),
        ("cerebras:llama3.1-8b", "cerebras:llama3.1-8b", "chat"),
        ("openrouter:openai/gpt-4o", "openrouter:openai/gpt-4o", "chat"),
        ("compat:openai/gpt-4o", "compat:openai/gpt-4o", "chat"),
    ],
)
def test_gateway_mapping(load: Loader, pid: str, gateway_id: str, kind: str) -> None:
    cfg = load(CFG.format(providers=f"['{pid}']"))
    (spec,) = cfg.providers
    assert spec.route == "gateway"
    assert spec.gateway_id == gateway_id
    assert spec.kind == kind
    assert spec.id == pid and spec.label == pid


@pytest.mark.parametrize(
    "pid",
    [
        "ollama:llama3",
        "http",
        "https://example.com/api",
        "python:provider.py",
        "file://provider.py",
        "exec:./run.sh",
        "bedrock:anthropic.claude-v2",
        "vertex:gemini-pro",
        "localai:mistral",
        "llama:7b",
        "huggingface:feature-extraction:bert",
        "azure:completion:dep",
    ],
)
def test_unsupported_providers_are_skipped_with_reason(load: Loader, pid: str) -> None:
    cfg = load(CFG.format(providers=f"['{pid}']"))
    (spec,) = cfg.providers
    assert spec.route == "unsupported"
    assert spec.gateway_id is None
    assert spec.skip_reason == (
        f"provider '{pid}' does not go through Cloudflare AI Gateway; pytest-cfgateway skips it"
    )


def test_echo_runs_locally(load: Loader) -> None:
    (spec,) = load(CFG.format(providers="[echo]")).providers
    assert spec.route == "echo" and spec.gateway_id is None and spec.skip_reason is None


def test_provider_object_form(load: Loader) -> None:
    cfg = load(
        """\
        prompts: [a, b]
        providers:
          - id: openai:gpt-4o-mini
            label: mini
            config: {temperature: 0.2, max_tokens: 100}
            prompts: [a]
            transform: output.strip()
            delay: 250
        """
    )
    (spec,) = cfg.providers
    assert spec.label == "mini"
    assert spec.config == {"temperature": 0.2, "max_tokens": 100}
    assert spec.prompts == ("a",)
    assert spec.transform == "output.strip()"
    assert spec.delay_ms == 250


def test_one_key_map_form(load: Loader) -> None:
    cfg = load(
        """\
        providers:
          - openai:gpt-4o:
              label: four-oh
              config: {temperature: 0}
          - groq:llama3: {}
        """
    )
    a, b = cfg.providers
    assert (a.id, a.label, a.config, a.gateway_id) == (
        "openai:gpt-4o",
        "four-oh",
        {"temperature": 0},
        "openai:gpt-4o",
    )
    assert b.gateway_id == "groq:llama3"


def test_single_string_provider(load: Loader) -> None:
    assert [p.id for p in load("providers: echo\n").providers] == ["echo"]


def test_targets_is_an_alias(load: Loader) -> None:
    assert [p.id for p in load("targets: [echo]\n").providers] == ["echo"]


def test_file_provider_object_and_list(load: Loader) -> None:
    cfg = load(
        "providers: [file://one.yaml, file://many.yaml]\n",
        files={
            "one.yaml": "id: openai:gpt-4o\nconfig: {temperature: 1}\n",
            "many.yaml": "- echo\n- id: groq:x\n  label: g\n",
        },
    )
    assert [(p.id, p.label) for p in cfg.providers] == [
        ("openai:gpt-4o", "openai:gpt-4o"),
        ("echo", "echo"),
        ("groq:x", "g"),
    ]
    assert cfg.providers[0].config == {"temperature": 1}


def test_env_templates_in_provider_config_render_at_load(load: Loader) -> None:
    cfg = load(
        """\
        env: {GATEWAY: from-config}
        providers:
          - id: cloudflare-gateway:openai:gpt-4o
            config:
              accountId: '{{ env.ACCOUNT }}'
              gatewayId: '{{env.GATEWAY}}'
              missing: '{{ env.NOT_SET }}'
              headers: {x-team: '{{ env.ACCOUNT }}-team'}
        """,
        env={"ACCOUNT": "acct-1", "GATEWAY": "from-process"},
    )
    assert cfg.providers[0].config == {
        "accountId": "acct-1",
        "gatewayId": "from-config",
        "missing": "",
        "headers": {"x-team": "acct-1-team"},
    }


def test_azure_deployment_name_from_id_unless_configured(load: Loader) -> None:
    cfg = load(
        """\
        providers:
          - azure:chat:dep-a
          - id: azure:chat:dep-b
            config: {deploymentName: explicit, resourceName: r}
        """
    )
    assert cfg.providers[0].config == {"deploymentName": "dep-a"}
    assert cfg.providers[1].config == {"deploymentName": "explicit", "resourceName": "r"}


@pytest.mark.parametrize(
    ("providers", "fragment"),
    [
        ("['cloudflare-gateway:openai']", "invalid cloudflare-gateway provider path"),
        ("['cloudflare-gateway:openai:']", "model name is required"),
        ("['openai:']", "has no model name"),
        ("[{label: x}]", "has no 'id'"),
        ("[{id: echo, config: 3}]", "'config' must be a mapping"),
        ("[{id: echo, delay: -1}]", "'delay' must be a number"),
        ("[]", "is empty"),
        ("3", "must be a provider id or a list"),
    ],
)
def test_provider_errors(load: Loader, providers: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(CFG.format(providers=providers))
    assert fragment in str(exc.value)
    assert exc.value.key_path.startswith("providers")


def test_bad_template_in_provider_config(load: Loader) -> None:
    with pytest.raises(ConfigError) as exc:
        load("providers:\n  - id: echo\n    config:\n      a: '{{ env.X '\n")
    assert exc.value.key_path == "providers[0].config.a"
    assert exc.value.line == 4


@pytest.mark.parametrize(
    ("pid", "fragment"),
    [
        ("cloudflare-gateway:bedrock:claude", "AWS SigV4"),
        ("cloudflare-gateway:aws-bedrock:claude", "AWS SigV4"),
        ("openai:assistant:asst_123", "uses promptfoo's 'assistant' mode"),
        ("openai:completion:gpt-3.5-turbo-instruct", "uses promptfoo's 'completion' mode"),
        ("opnai:gpt-4o", "is not a provider pytest-cfgateway knows. Did you mean 'openai'?"),
        ("cometapi:chat:gpt-5-mini", "is not a provider pytest-cfgateway knows"),
    ],
)
def test_unknown_or_unrouted_ids_are_skipped_items_with_their_reason(
    load: Loader, pid: str, fragment: str
) -> None:
    (spec,) = load(CFG.format(providers=f"['{pid}']")).providers
    assert spec.route == "unsupported"
    assert spec.skip_reason and fragment in spec.skip_reason.replace(
        " how to send through Cloudflare AI Gateway; it is skipped", ""
    )


def test_unknown_provider_key_warns(load: Loader) -> None:
    cfg = load(CFG.format(providers="[{id: echo, lable: x}]"))
    assert any("Did you mean 'label'" in w for w in cfg.warnings)
