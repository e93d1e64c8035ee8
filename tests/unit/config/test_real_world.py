"""Loader behaviour real-world promptfoo configs rely on: Nunjucks idioms, sandboxed and
bounded templates, base URLs, Azure apiHost, provider config files."""

# ruff: noqa: E501 - one row per case in the parameter tables
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cfgateway.config import ConfigError
from pytest_cfgateway.config.render import render_template

from .conftest import Loader


@pytest.mark.parametrize(
    ("source", "vars", "expected"),
    [
        ("{% for k, v in obj %}{{ k }}: {{ v }}\n{% endfor %}", {"obj": {"a": 1, "b": "x"}}, "a: 1\nb: x\n"),
        ("{% for k, v in pairs -%} {{k}}={{v}};{%- endfor %}", {"pairs": [["x", 1], ["y", 2]]}, "x=1;y=2;"),
        ("{% for x in xs %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}", {"xs": "ab"}, "1/2,2/2"),
        ("{% for x in xs %}{{ loop.first }}{{ loop.revindex0 }}{% endfor %}", {"xs": [1, 2]}, "true1false0"),
        ("{{ obj | dump }}", {"obj": {"a": [1, "b"]}}, '{"a":[1,"b"]}'),
        ("{{ obj | dump(2) | safe }}", {"obj": {"k": "v"}}, '{\n  "k": "v"\n}'),
        ("{{ '<b>' | safe }} {{ s | upper }}", {"s": "hi"}, "<b> HI"),
        ("  {%- if x %} yes {% endif -%}  !", {"x": True}, " yes !"),
        ("{{ 'n=' + n }} {{ n + 1 }}", {"n": 3}, "n=3 4"),
        ("{{ items | join(', ') }} {{ items.length }}", {"items": ["a", "b"]}, "a, b 2"),
    ],
)  # fmt: skip
def test_nunjucks_idioms_render_like_promptfoo(source: str, vars: dict, expected: str) -> None:
    assert render_template(source, vars, {}) == expected


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ cycler.__init__.__globals__.os.system('touch PWNED') }}", "may not do"),
        ("{{ lipsum.__globals__['os'].popen('id').read() }}", "may not do"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "may not do"),
        ("{% for i in range(10**12) %}x{% endfor %}", "over the limit"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "in one render"),
        ("{{ 'a' * 10**9 }}", "too large"),
        ("{{ 7 ** 999999 }}", "too large"),
    ],
)  # fmt: skip
def test_templates_are_sandboxed_and_bounded(
    source: str, fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="template") as exc:
        render_template(source, {}, {})
    assert fragment in str(exc.value)
    assert not (tmp_path / "PWNED").exists()


def test_code_in_a_provider_config_template_never_runs_at_load(
    load: Loader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="may not do"):
        load(
            "providers:\n  - id: openai:gpt-4o-mini\n    config:\n      headers:\n"
            "        x: \"{{ cycler.__init__.__globals__.os.system('touch PWNED') }}\"\n"
        )
    assert not (tmp_path / "PWNED").exists()


CFG = "providers:\n  - id: {pid}\n    config: {config}\n"


def test_api_base_url_of_a_known_provider_routes_there(load: Loader) -> None:
    cfg = load(
        CFG.format(
            pid="openai:chat:deepseek-chat",
            config="{apiBaseUrl: 'https://api.deepseek.com', apiKeyEnvar: DEEPSEEK_API_KEY}",
        )
    )
    (spec,) = cfg.providers
    assert spec.route == "gateway" and spec.gateway_id == "deepseek:deepseek-chat"


def test_api_base_url_elsewhere_is_a_skip_naming_it(load: Loader) -> None:
    (spec,) = load(
        CFG.format(pid="openai:chat:llama3", config="{apiBaseUrl: 'http://localhost:11434/v1'}")
    ).providers
    assert spec.route == "unsupported"
    assert spec.skip_reason and "apiBaseUrl: 'http://localhost:11434/v1'" in spec.skip_reason


def test_a_hugging_face_private_endpoint_is_a_skip_naming_it(load: Loader) -> None:
    """promptfoo's ``apiEndpoint`` (a private inference endpoint) was sent as a model
    parameter, and the hosted API answered 400 "unknown field apiEndpoint"."""
    url = "https://abc123.us-east-1.aws.endpoints.huggingface.cloud"
    (spec,) = load(
        CFG.format(pid="huggingface:text-generation:gemma-7b-it", config=f"{{apiEndpoint: {url}}}")
    ).providers
    assert spec.route == "unsupported"
    assert spec.skip_reason and f"apiEndpoint: {url!r}" in spec.skip_reason


def test_a_hugging_face_endpoint_on_the_hosted_api_routes_there(load: Loader) -> None:
    (spec,) = load(
        CFG.format(
            pid="huggingface:text-generation:gpt2",
            config="{apiEndpoint: 'https://api-inference.huggingface.co/models/gpt2', "
            "temperature: 0.5}",
        )
    ).providers
    assert spec.route == "gateway" and spec.gateway_id == "huggingface:gpt2"


def test_azure_api_host_gives_the_resource_name(load: Loader) -> None:
    (spec,) = load(
        CFG.format(pid="azure:chat:my-dep", config="{apiHost: myres.openai.azure.com}")
    ).providers
    assert spec.gateway_id == "azure-openai:my-dep"
    assert spec.config["resourceName"] == "myres" and spec.config["deploymentName"] == "my-dep"


def test_provider_config_files_are_loaded(load: Loader) -> None:
    (spec,) = load(
        CFG.format(
            pid="google:gemini-2.5-flash",
            config="{systemInstruction: 'file://system.txt', tools: 'file://tools.json'}",
        ),
        files={"system.txt": "Be brief.\n", "tools.json": '{"functionDeclarations": []}'},
    ).providers
    assert spec.config["systemInstruction"] == "Be brief.\n"
    assert spec.config["tools"] == {"functionDeclarations": []}


def test_stream_true_is_kept_for_the_item_to_refuse(load: Loader) -> None:
    (spec,) = load(CFG.format(pid="openai:gpt-4o-mini", config="{stream: true}")).providers
    assert spec.route == "gateway" and spec.config["stream"] is True


def test_nunjucks_filters_compile_and_error_only_where_used(load: Loader) -> None:
    cfg = load(
        "prompts: ['{{ body | allcaps }}', 'plain {{ body }}']\nproviders: [echo]\n"
        "nunjucksFilters: {allcaps: ./allcaps.js}\ntests: [{vars: {body: hi}}]\n",
        files={"allcaps.js": "module.exports = (s) => s.toUpperCase();\n"},
    )
    assert cfg.warnings == [] and len(cfg.cases) == 2
    assert cfg.cases[0].nunjucks_filters["allcaps"].endswith("allcaps.js")


JS_PROMPTS = {
    "prompt_chat.js": "module.exports = function ({ vars, provider }) {\n"
    "  return [{ role: 'system', content: 'Be ' + vars.tone },"
    " { role: 'user', content: 'About ' + vars.topic + ' via ' + provider.id }];\n};\n",
    "multi.js": "module.exports.first = (ctx) => 'first: ' + ctx.vars.topic;\n"
    "module.exports.loops = () => { while (true) {} };\n",
    "prompt.ts": "export default (ctx: any) => 'typed';\n",
    "allcaps.js": "module.exports = function (s, suffix) { return s.toUpperCase() + (suffix || ''); };\n",
}


def test_javascript_prompt_functions_and_filters_run_in_the_executor(load: Loader) -> None:
    from pytest_cfgateway.config.render import render_prompt

    cfg = load(
        "prompts:\n  - file://prompt_chat.js\n  - file://multi.js:first\n"
        "  - 'Say {{ topic | allcaps(\"!\") }}'\n"
        "providers: [echo]\nnunjucksFilters: {allcaps: ./allcaps.js}\n"
        "tests: [{vars: {topic: tides, tone: brief}}]\n",
        files=JS_PROMPTS,
    )
    assert [c.prompt.label for c in cfg.cases] == [
        "prompt_chat.js",
        "multi.js:first",
        'Say {{ topic | allcaps("!") }}',
    ]
    chat, first, filtered = (render_prompt(c, {}) for c in cfg.cases)
    assert '"content": "About tides via echo"' in chat and '"Be brief"' in chat
    assert first == "first: tides"
    assert filtered == "Say TIDES!"


def test_a_hanging_or_typescript_prompt_function_errors_its_items_only(load: Loader) -> None:
    from pytest_cfgateway.config.render import render_prompt

    cfg = load(
        "prompts: [file://multi.js:loops, file://prompt.ts, 'plain {{topic}}']\n"
        "providers: [echo]\nevaluateOptions: {timeoutMs: 500}\ntests: [{vars: {topic: x}}]\n",
        files=JS_PROMPTS,
    )
    loops, typed, plain = cfg.cases
    from pytest_cfgateway.usercode.errors import UserCodeTimeout

    with pytest.raises(UserCodeTimeout, match=r"multi\.js:loops"):
        render_prompt(loops, {})
    with pytest.raises(ConfigError, match="TypeScript prompt functions"):
        render_prompt(typed, {})
    assert render_prompt(plain, {}) == "plain x"
