"""Prompt forms and labels, following promptfoo's prompt processors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cfgateway.config import ConfigError

from .conftest import Loader


def labels(cfg: object) -> list[str]:
    return [p.label for p in cfg.prompts]  # type: ignore[attr-defined]


def raws(cfg: object) -> list[str]:
    return [p.raw for p in cfg.prompts]  # type: ignore[attr-defined]


def test_default_prompt(load: Loader) -> None:
    cfg = load("providers: [echo]\n")
    assert raws(cfg) == ["{{prompt}}"] and labels(cfg) == ["{{prompt}}"]


def test_inline_string_and_list(load: Loader) -> None:
    assert raws(load("providers: [echo]\nprompts: 'Hi {{name}}'\n")) == ["Hi {{name}}"]
    cfg = load("providers: [echo]\nprompts: ['A {{x}}', 'B {{x}}']\n")
    assert raws(cfg) == labels(cfg) == ["A {{x}}", "B {{x}}"]


def test_txt_file_split_on_separator_lines(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [file://prompts.txt]\n",
        files={"prompts.txt": "First {{q}}\nsecond line\n---\n\nSecond {{q}}\n---\n"},
    )
    assert raws(cfg) == ["First {{q}}\nsecond line", "Second {{q}}"]
    assert labels(cfg) == ["prompts.txt: First {{q}}\nsecond line", "prompts.txt: Second {{q}}"]


def test_txt_with_label_and_dashes_inside_text(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts:\n  - id: file://p.txt\n    label: mine\n",
        files={"p.txt": "a --- b\n"},
    )
    assert raws(cfg) == ["a --- b"]
    assert labels(cfg) == ["mine: p.txt: a --- b"]


def test_path_without_file_prefix_and_fallback_to_text(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [prompts.txt, 'What is 2.5?', 'see docs/x']\n",
        files={"prompts.txt": "From file"},
    )
    assert raws(cfg) == ["From file", "What is 2.5?", "see docs/x"]


def test_missing_explicit_file_is_an_error(load: Loader, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load("providers: [echo]\nprompts: [file://nope.txt]\n")
    assert exc.value.key_path == "prompts[0]"
    assert "nope.txt" in str(exc.value)


def test_json_chat_prompt(load: Loader) -> None:
    msgs = [{"role": "system", "content": "Be {{tone}}"}, {"role": "user", "content": "{{q}}"}]
    cfg = load(
        "providers: [echo]\nprompts: [file://chat.json]\n", files={"chat.json": json.dumps(msgs)}
    )
    (p,) = cfg.prompts
    assert json.loads(p.raw) == msgs
    assert p.label.startswith("chat.json: [")


def test_jsonl_prompts(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [file://p.jsonl]\n",
        files={"p.jsonl": '[{"role":"user","content":"a"}]\n[{"role":"user","content":"b"}]\n'},
    )
    assert len(cfg.prompts) == 2
    assert labels(cfg)[0] == 'p.jsonl: [{"role":"user","content":"a"}]'
    single = load("providers: [echo]\nprompts: [file://one.jsonl]\n", files={"one.jsonl": '"x"\n'})
    assert labels(single) == ["one.jsonl"]


def test_yaml_prompt_is_stored_as_json(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [file://chat.yaml]\n",
        files={"chat.yaml": "- role: user\n  content: 'Hi {{name}}'\n"},
    )
    assert json.loads(cfg.prompts[0].raw) == [{"role": "user", "content": "Hi {{name}}"}]


def test_csv_prompts(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [file://p.csv]\n",
        files={"p.csv": 'prompt,label\n"Say {{x}}, please",polite\nShout {{x}},\n'},
    )
    assert raws(cfg) == ["Say {{x}}, please", "Shout {{x}}"]
    assert labels(cfg) == ["polite", "Prompt 2 - Shout {{x}}"]
    single = load("providers: [echo]\nprompts: [file://s.csv]\n", files={"s.csv": "prompt\nA\nB\n"})
    assert labels(single) == ["Prompt 1 - A", "Prompt 2 - B"]


def test_markdown_and_j2(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [file://a.md, file://b.j2]\n",
        files={"a.md": "# Title {{x}}\n", "b.j2": "{% if x %}yes{% endif %}"},
    )
    assert raws(cfg) == ["# Title {{x}}\n", "{% if x %}yes{% endif %}"]
    assert labels(cfg)[0] == "a.md: # Title {{x}}\n..."


def test_python_prompt_function_is_referenced_not_run(load: Loader, tmp_path: Path) -> None:
    cfg = load(
        "providers: [echo]\nprompts: [file://gen.py:make]\n",
        files={"gen.py": "raise SystemExit('must not run at load')\ndef make(ctx): ...\n"},
    )
    (p,) = cfg.prompts
    assert p.label == "gen.py:make"
    assert p.function == f"{(tmp_path / 'gen.py').resolve().as_posix()}:make"


def test_glob_prompts(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: ['file://p/*.txt']\n",
        files={"p/b.txt": "B", "p/a.txt": "A"},
    )
    assert raws(cfg) == ["A", "B"]
    assert labels(cfg) == ["p/a.txt: A", "p/b.txt: B"]


def test_glob_with_label(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts:\n  - id: 'file://p/*.md'\n    label: grp\n",
        files={"p/a.md": "A", "p/b.md": "B"},
    )
    assert labels(cfg) == ["grp: p/a.md", "grp: p/b.md"]


def test_empty_explicit_glob_is_an_error_but_bare_glob_is_text(load: Loader) -> None:
    with pytest.raises(ConfigError, match="no files match"):
        load("providers: [echo]\nprompts: ['file://none/*.txt']\n")
    assert raws(load("providers: [echo]\nprompts: ['Rate 1-5 *stars*']\n")) == ["Rate 1-5 *stars*"]


def test_object_forms(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo]
        prompts:
          - raw: 'Inline {{x}}'
            label: inline
            config: {temperature: 0.5}
          - id: file://p.txt
            label: from-file
          - label: chat
            messages:
              - role: system
                content: file://sys.md
              - role: user
                content: '{{q}}'
        """,
        files={"p.txt": "File {{x}}", "sys.md": "Be brief."},
    )
    assert labels(cfg) == ["inline", "from-file: p.txt: File {{x}}", "chat"]
    assert cfg.prompts[0].config == {"temperature": 0.5}
    assert json.loads(cfg.prompts[2].raw) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "{{q}}"},
    ]


def test_legacy_map(load: Loader) -> None:
    cfg = load("providers: [echo]\nprompts:\n  p.txt: legacy\n", files={"p.txt": "One\n---\nTwo"})
    assert labels(cfg) == ["legacy: p.txt: One", "legacy: p.txt: Two"]


@pytest.mark.parametrize(
    ("prompts", "files", "fragment"),
    [
        ("['exec:./run.sh']", {}, "executable prompts"),
        ("[3]", {}, "must be a string or an object"),
        ("[]", {}, "is empty"),
        ("[file://empty.txt]", {"empty.txt": "\n---\n"}, "there are no prompts"),
    ],
)
def test_prompt_errors(load: Loader, prompts: str, files: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(f"providers: [echo]\nprompts: {prompts}\n", files=files)
    assert fragment in str(exc.value)
    assert exc.value.key_path.startswith("prompts")


def test_nunjucks_operators_are_accepted(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nprompts: ['{% if a === 1 %}one{% elseif a !== 2 %}x{% endif %}']\n"
    )
    assert len(cfg.prompts) == 1


def test_one_invalid_template_warns_and_the_config_loads(load: Loader) -> None:
    cfg = load(
        "prompts: ['Hello {{ name }', 'ok {{ name }}', '{% if x %}no end']\n"
        "providers: [echo]\ntests: [{vars: {name: a}}]\n"
    )
    assert len(cfg.cases) == 3
    assert sum("is not a valid template" in w for w in cfg.warnings) == 2


def test_unknown_prompt_key_warns(load: Loader) -> None:
    cfg = load("prompts: [{lable: x, raw: y, provider: openai:gpt-4o}]\nproviders: [echo]\n")
    assert len(cfg.cases) == 1
    assert any("Did you mean 'label'" in w for w in cfg.warnings)
    assert any("unknown prompt key 'provider' is ignored" in w for w in cfg.warnings)
