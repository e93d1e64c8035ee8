"""Templating like promptfoo's Nunjucks, render_prompt, resolve_vars, parse_chat."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from pytest_cfgateway.config import (
    ConfigError,
    EvalCase,
    parse_chat,
    render_prompt,
    render_template,
    render_value,
    resolve_vars,
)
from pytest_cfgateway.config.render import auto_wrap_raw

from .conftest import Loader


def r(source: str, **vars: object) -> str:
    return render_template(source, vars, {"HOME_X": "/home/x"})


@pytest.mark.parametrize(
    ("source", "vars", "expected"),
    [
        ("Hi {{ name }}", {"name": "Ada"}, "Hi Ada"),
        ("[{{ missing }}]", {}, "[]"),
        ("[{{ missing.deep.attr }}]", {}, "[]"),
        ("[{{ missing.call() }}]", {}, "[]"),
        ("{{ env.HOME_X }}", {}, "/home/x"),
        # values print as JavaScript String() does (promptfoo 0.123.1 renders
        # 'Say [object Object] to Fay' and 'L=p,q'); | dump gives JSON
        ("{{ obj }}", {"obj": {"a": [1, True, None]}}, "[object Object]"),
        ("{{ xs }}", {"xs": ["p", "q"]}, "p,q"),
        (
            "{{ xs }}",
            {"xs": [1, [2, 3], {"y": 1}, None, True, 2.5]},
            "1,2,3,[object Object],,true,2.5",
        ),
        ("[{{ xs }}]", {"xs": []}, "[]"),
        ("{{ obj.a }}", {"obj": {"a": [1, True, None]}}, "1,true,"),
        ("{{ obj | dump }}", {"obj": {"a": [1, True, None]}}, '{"a":[1,true,null]}'),
        ("[{{ nothing }}]", {"nothing": None}, "[]"),
        (
            "{{ a }}|{{ b }}|{{ c }}|{{ d }}",
            {"a": 1e21, "b": 1e-7, "c": 0.000001, "d": -0.0},
            "1e+21|1e-7|0.000001|0",
        ),
        ("{{ xs | join('-') }}", {"xs": [1, None, "x", 2.0, False]}, "1--x-2-false"),
        ("{{ xs.join() }}", {"xs": [1, None, {"k": 1}]}, "1,,[object Object]"),
        ("{{ flag }}/{{ n }}", {"flag": False, "n": 2.0}, "false/2"),
        ("{{ s | load }}", {"s": '{"k": 1}'}, "[object Object]"),  # an object, as Nunjucks
        ("{{ s | load | dump }}", {"s": '{"k": 1}'}, '{"k":1}'),
        ("{{ (s | load).tone }}", {"s": '{"tone": "calm"}'}, "calm"),
        ("{{ obj | dump }}", {"obj": {"a": "é"}}, '{"a":"é"}'),
        ("{{ text | dump }}", {"text": 'say "hi"'}, '"say \\"hi\\""'),
        ("{{ items | join(', ') }}", {"items": ["a", "b"]}, "a, b"),
        ("{{ items | length }}/{{ items.length }}", {"items": [1, 2, 3]}, "3/3"),
        ("{{ items | first }}-{{ items | last }}", {"items": [1, 2, 3]}, "1-3"),
        ("{{ t | title }}|{{ t | upper }}", {"t": "hello world"}, "Hello World|HELLO WORLD"),
        ("{{ ' x ' | trim }}", {}, "x"),
        ("{{ missing | default('dflt') }}", {}, "dflt"),
        ("{{ d.items }}", {"d": {"items": "key wins"}}, "key wins"),
        ("{{ s.toUpperCase() }}", {"s": "abc"}, "ABC"),
        ("{{ a | nl2br }}", {"a": "x\ny"}, "x<br />\ny"),
        ("<{{ html }}>", {"html": "<b>&</b>"}, "<<b>&</b>>"),
        ("{% if a === 1 %}one{% elseif a !== 3 %}two{% endif %}", {"a": 2}, "two"),
        ("{% raw %}{{ kept }}{% endraw %}", {}, "{{ kept }}"),
        ("{% for x in xs %}{{ loop.index }}{{ x }}{% endfor %}", {"xs": ["a", "b"]}, "1a2b"),
    ],
)
def test_templates(source: str, vars: dict[str, object], expected: str) -> None:
    assert render_template(source, vars, {"HOME_X": "/home/x"}) == expected


@pytest.mark.parametrize(
    ("source", "wrapped"),
    [
        # Handlebars' {{#each}}: '{#' opens a comment that no '#}' closes on its line
        ("Q: {{q}}\n{{#each chunks}}\n- {{this}}\n{{/each}}", True),
        ("a {{ b\n}}", True),  # a tag left open at the end of a line
        ("{% if x\n%}y{% endif %}", True),
        ("a {{ b }} {% if c %}d{% endif %} {# e #}", False),
        ("Hello {{ name }", False),  # closed on its line: a real syntax error, not wrapped
        ("{% raw %}{{#each}}{% endraw %}", False),  # already raw
    ],
)
def test_partial_tags_are_wrapped_raw_like_promptfoo(source: str, wrapped: bool) -> None:
    out = auto_wrap_raw(source)
    assert out == ("{% raw %}" + source + "{% endraw %}" if wrapped else source)


def test_a_prompt_with_a_partial_tag_is_sent_as_written(load: Loader) -> None:
    # promptfoo sends such a prompt unrendered (seen in a real RAG config using Handlebars)
    cfg = load(
        "prompts:\n  - |-\n    Q: {{question}}\n    {{#each chunks}}- {{this}}\n    {{/each}}\n"
        "  - 'ok {{question}}'\n"
        "providers: [echo]\ntests: [{vars: {question: why, chunks: [a]}}]\n"
    )
    assert cfg.warnings == []
    raw, ok = (render_prompt(c, {}) for c in cfg.cases)
    assert raw == "Q: {{question}}\n{{#each chunks}}- {{this}}\n{{/each}}"
    assert ok == "ok why"


def test_template_syntax_error_is_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid template"):
        r("{{ broken ")


def test_render_value_renders_strings_and_string_items() -> None:
    env: dict[str, str] = {}
    assert render_value("about {{t}}", {"t": "cats"}, env) == "about cats"
    assert render_value(["{{t}}", 3, {"k": "{{t}}"}], {"t": "x"}, env) == ["x", 3, {"k": "{{t}}"}]
    assert render_value({"k": "{{t}}"}, {"t": "x"}, env) == {"k": "{{t}}"}
    assert render_value(5, {}, env) == 5


def one_case(load: Loader, text: str, files: dict[str, str] | None = None) -> EvalCase:
    cfg = load(text, files=files)
    assert len(cfg.cases) == 1
    return cfg.cases[0]


def test_render_prompt_prefix_suffix_env_and_var_in_var(load: Loader) -> None:
    case = one_case(
        load,
        """\
        env: {STYLE: terse}
        providers: [echo]
        prompts: ['Write {{ item }} ({{ env.STYLE }}, {{ env.FROM_PROCESS }})']
        tests:
          - vars:
              topic: cats
              item: 'a tweet about {{ topic }}'
              unrelated: 'keeps {{ nothing_here }}'
            options: {prefix: '>> ', suffix: ' <<'}
        """,
    )
    out = render_prompt(case, {"FROM_PROCESS": "proc", "STYLE": "overridden"})
    assert out == ">> Write a tweet about cats (terse, proc) <<"


def test_render_prompt_json_escapes_vars(load: Loader) -> None:
    case = one_case(
        load,
        """\
        providers: [echo]
        prompts: ['[{"role": "user", "content": "Q: {{ q }}"}]']
        tests:
          - vars: {q: "He said \\"hi\\"\\nthen left\\n"}
        """,
    )
    rendered = render_prompt(case, {})
    assert json.loads(rendered) == [{"role": "user", "content": 'Q: He said "hi"\nthen left'}]
    assert parse_chat(rendered) == [{"role": "user", "content": 'Q: He said "hi"\nthen left'}]


def test_render_prompt_loads_file_vars(load: Loader, tmp_path: Path) -> None:
    case = one_case(
        load,
        """\
        providers: [echo]
        prompts: ['{{ doc }}|{{ data.k }}|{{ conf.x }}|{{ dyn }}']
        tests:
          - vars:
              doc: file://doc.txt
              data: file://data.json
              conf: file://conf.yaml
              dyn: file://loader.py:get_var
        """,
        files={
            "doc.txt": "  text body \n",
            "data.json": '{"k": "json"}',
            "conf.yaml": "x: on\n",
            "loader.py": "def get_var(name, prompt, other_vars):\n"
            "    return {'output': name + ':' + str(sorted(other_vars))}\n",
        },
    )
    resolved = resolve_vars(case)
    assert resolved["doc"] == "text body" and resolved["data"] == {"k": "json"}
    assert render_prompt(case, {}) == "text body|json|on|dyn:['conf', 'data', 'doc', 'dyn']"


def test_python_var_loader_error_is_reported(load: Loader) -> None:
    case = one_case(
        load,
        "providers: [echo]\ntests: [{vars: {v: file://l.py}}]\n",
        files={"l.py": "def get_var(n, p, o):\n    return {'error': 'nope'}\n"},
    )
    with pytest.raises(ConfigError, match="nope"):
        resolve_vars(case)


def test_javascript_var_loader_runs_at_render(load: Loader) -> None:
    case = one_case(
        load,
        "providers: [{id: echo, label: E}]\nprompts: ['{{q}}']\n"
        "tests: [{vars: {q: topic, v: file://l.js, w: file://l.js:other}}]\n",
        files={
            "l.js": "module.exports = function (name, prompt, vars, provider) {\n"
            "  return {output: name + ':' + prompt + ':' + vars.q + ':' + provider.label};\n"
            "};\n"
            "module.exports.other = async () => ({output: 'from other'});\n"
        },
    )
    assert resolve_vars(case) == {"q": "topic", "v": "v:{{q}}:topic:E", "w": "from other"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("module.exports = () => ({error: 'nope'})", "Error running l.js: nope"),
        ("module.exports = () => 'text'", 'to return { output: string } but got "text"'),
        ("module.exports = () => { throw new TypeError('bad') }", "TypeError: bad"),
    ],
)
def test_javascript_var_loader_errors_name_it(load: Loader, body: str, fragment: str) -> None:
    case = one_case(
        load, "providers: [echo]\ntests: [{vars: {v: file://l.js}}]\n", files={"l.js": body}
    )
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        resolve_vars(case)


def test_typescript_var_loader_is_refused_by_name(load: Loader) -> None:
    case = one_case(
        load, "providers: [echo]\ntests: [{vars: {v: file://l.ts}}]\n", files={"l.ts": "x"}
    )
    with pytest.raises(ConfigError, match=r"TypeScript var loaders \(file://l.ts\)"):
        resolve_vars(case)


def test_prompt_function_runs_at_render(load: Loader) -> None:
    case = one_case(
        load,
        "providers: [{id: echo, label: E}]\nprompts: [file://p.py:make]\ntests: [{vars: {x: 1}}]\n",
        files={
            "p.py": "def make(ctx):\n"
            "    return [{'role': 'user', 'content': 'x={{x}} ' + ctx['provider']['label']}]\n"
        },
    )
    assert parse_chat(render_prompt(case, {})) == [{"role": "user", "content": "x=1 E"}]


def test_legacy_python_prompt_script(load: Loader) -> None:
    case = one_case(
        load,
        "providers: [echo]\nprompts: [file://p.py]\ntests: [{vars: {x: 7}}]\n",
        files={
            "p.py": "import json, sys\nprint('got ' + str(json.loads(sys.argv[1])['vars']['x']))\n"
        },
    )
    assert render_prompt(case, {}) == "got 7"


def test_render_error_names_the_prompt(load: Loader) -> None:
    case = one_case(
        load, "providers: [echo]\nprompts: ['{{ s | load }}']\ntests: [{vars: {s: '{'}}]\n"
    )
    with pytest.raises(ConfigError) as exc:
        render_prompt(case, {})
    assert "prompt '{{ s | load }}' failed to render" in str(exc.value)
    assert exc.value.key_path == "tests[0]"


def test_parse_chat_rules() -> None:
    assert parse_chat("Hello") == [{"role": "user", "content": "Hello"}]
    assert parse_chat("[INST] hi [/INST]") == [{"role": "user", "content": "[INST] hi [/INST]"}]
    assert parse_chat("42") == [{"role": "user", "content": "42"}]
    assert parse_chat("- role: system\n  content: s\n- role: user\n  content: u\n") == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
    ]
    for bad in ('{"role": }', '[{"role": "user",]', "[1, 2"):
        if bad.startswith("[") and not bad.endswith("]"):
            assert parse_chat(bad) == [{"role": "user", "content": bad}]
            continue
        with pytest.raises(ConfigError, match="not valid JSON"):
            parse_chat(bad)
    with pytest.raises(ConfigError, match="list of messages"):
        parse_chat('[{"content": "no role"}]')


def test_render_prompt_does_not_mutate_case(load: Loader) -> None:
    case = one_case(load, "providers: [echo]\nprompts: ['{{a}}']\ntests: [{vars: {a: \"x\\n\"}}]\n")
    before = dataclasses.asdict(case)
    assert render_prompt(case, {}) == "x"
    assert dataclasses.asdict(case) == before


def test_object_vars_in_json_prompts_render_like_javascript(load: Loader) -> None:
    # inside a JSON prompt, string vars are JSON-escaped and other values print as String()
    case = one_case(
        load,
        """\
        providers: [echo]
        prompts:
          - '[{"role": "user", "content": "{{ q }} / {{ obj }} / {{ xs }}"}]'
        tests:
          - vars: {q: 'say "hi"', obj: {a: 1}, xs: [p, q]}
            options: {disableVarExpansion: true}
        """,
    )
    content = json.loads(render_prompt(case, {}))[0]["content"]
    assert content == 'say "hi" / [object Object] / p,q'


def test_every_json_text_passes_the_prefilter_of_json_prompts() -> None:
    """render_prompt only tries json.loads on texts that can be JSON; every JSON value
    starts (after JSON whitespace) with one of the prefilter's characters."""
    import json

    from pytest_cfgateway.config.render import _JSON_STARTS

    values = ({}, [], {"a": 1}, "s", -1, 0, 7, 1.5, -0.5, True, False, None)
    for value in (*values, float("nan"), float("inf"), float("-inf")):
        text = " \t\r\n" + json.dumps(value)
        assert text.lstrip(" \t\n\r")[:1] in _JSON_STARTS
