"""Matrix order/count, var expansion, defaultTest and scenario merges, filters, names."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cfgateway.config import ConfigError
from pytest_cfgateway.config.expand import combo_id

from .conftest import Loader


def test_cartesian_expansion_first_key_slowest(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo]
        prompts: ['{{a}}{{b}}']
        tests:
          - vars: {a: [x, y], b: ['1', '2', '3'], n: [1, 2], o: [{k: 1}], m: [], s: plain}
        """
    )
    assert [(c.vars["a"], c.vars["b"]) for c in cfg.cases] == [
        ("x", "1"), ("x", "2"), ("x", "3"), ("y", "1"), ("y", "2"), ("y", "3"),
    ]  # fmt: skip
    assert all(c.vars["n"] == [1, 2] and c.vars["o"] == [{"k": 1}] for c in cfg.cases)
    assert all(c.vars["m"] == [] and c.vars["s"] == "plain" for c in cfg.cases)
    assert [c.combo_index for c in cfg.cases] == [0, 1, 2, 3, 4, 5]
    assert {c.test_index for c in cfg.cases} == {0}


def test_mixed_first_element_is_not_expanded(load: Loader) -> None:
    cfg = load("providers: [echo]\ntests:\n  - vars: {a: [1, x]}\n")
    assert len(cfg.cases) == 1 and cfg.cases[0].vars == {"a": [1, "x"]}


def test_disable_var_expansion(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\ntests:\n  - vars: {a: [x, y]}\n"
        "    options: {disableVarExpansion: true}\n"
    )
    assert len(cfg.cases) == 1 and cfg.cases[0].vars == {"a": ["x", "y"]}
    assert cfg.cases[0].name == "test-1[echo]"


def test_matrix_order_test_repeat_combo_provider_prompt(load: Loader) -> None:
    cfg = load(
        """\
        prompts:
          - id: 'P1 {{v}}'
            label: p1
          - id: 'P2 {{v}}'
            label: p2
        providers:
          - id: echo
            label: A
          - id: echo
            label: B
        evaluateOptions: {repeat: 2}
        tests:
          - description: t
            vars: {v: [x, y]}
          - vars: {v: z}
        """
    )
    hx, hy = "v=x", "v=y"
    names = [c.name for c in cfg.cases]
    assert len(names) == 2 * 2 * 2 * 2 + 2 * 2 * 2
    assert names[:8] == [
        f"t[A-p1-{hx}-r0]", f"t[A-p2-{hx}-r0]", f"t[B-p1-{hx}-r0]", f"t[B-p2-{hx}-r0]",
        f"t[A-p1-{hy}-r0]", f"t[A-p2-{hy}-r0]", f"t[B-p1-{hy}-r0]", f"t[B-p2-{hy}-r0]",
    ]  # fmt: skip
    assert names[8] == f"t[A-p1-{hx}-r1]"
    assert names[16:] == [
        "test-2[A-p1-r0]", "test-2[A-p2-r0]", "test-2[B-p1-r0]", "test-2[B-p2-r0]",
        "test-2[A-p1-r1]", "test-2[A-p2-r1]", "test-2[B-p1-r1]", "test-2[B-p2-r1]",
    ]  # fmt: skip
    c = cfg.cases[8]
    assert (c.test_index, c.repeat_index, c.combo_index) == (0, 1, 0)
    assert c.row_key == cfg.cases[9].row_key != cfg.cases[0].row_key
    assert len({c.row_key for c in cfg.cases}) == 2 * 2 + 2


def test_names_are_unique_and_safe(load: Loader) -> None:
    cfg = load(
        """\
        providers:
          - id: echo
            label: 'a/b [x]::y'
          - id: echo
            label: 'a/b [x]::y'
        tests:
          - description: same
          - description: same
          - description: "multi\\nline [d]"
        """
    )
    names = [c.name for c in cfg.cases]
    assert names == [
        "same[a_b (x):y]", "same[a_b (x):y-2]", "same[a_b (x):y-3]", "same[a_b (x):y-4]",
        "multi line (d)[a_b (x):y]", "multi line (d)[a_b (x):y-2]",
    ]  # fmt: skip
    assert len(set(names)) == len(names)


def test_prompt_part_is_never_prompt_text(load: Loader) -> None:
    long_a = "Please translate the following sentence into French: {{x}}"
    long_b = "Please translate the following sentence into German: {{x}}"
    cfg = load(f"providers: [echo]\nprompts: ['{long_a}', '{long_b}']\n")
    assert [c.name for c in cfg.cases] == ["test-1[echo-p1]", "test-1[echo-p2]"]


def test_prompt_part_label_then_id_then_file_name(load: Loader, tmp_path: Path) -> None:
    config = """\
        providers: [echo]
        prompts:
          - {raw: 'Hi {{x}}', label: friendly}
          - {id: greeting-v2, raw: 'Hello {{x}}'}
          - file://reply_v1.txt
          - file://two.txt
          - 'Inline {{x}}'
        """
    (tmp_path / "reply_v1.txt").write_text("Reply to {{x}}\n")
    (tmp_path / "two.txt").write_text("A {{x}}\n---\nB {{x}}\n")
    names = [c.name for c in load(config).cases]
    assert names == [
        "test-1[echo-friendly]",
        "test-1[echo-greeting-v2]",
        "test-1[echo-reply_v1.txt]",
        "test-1[echo-two.txt-1]",
        "test-1[echo-two.txt-2]",
        "test-1[echo-p6]",  # its place among the prompts
    ]
    # editing a prompt's body renames nothing
    (tmp_path / "reply_v1.txt").write_text("Answer {{x}} politely, in one line\n")
    (tmp_path / "two.txt").write_text("A {{x}}!\n---\nB {{x}}?\n")
    assert [c.name for c in load(config).cases] == names


def test_var_part_reads_like_pytest_params(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo]
        tests:
          - description: 'greets [v2] :: all'
            vars:
              language: [French, Old English]
              input: same for all
          - vars:
              text:
                - a very long value that goes on and on and on
                - a very long value that goes on and on and off
          - vars: {n: ['1', ' 1']}
        """
    )
    assert [c.name for c in cfg.cases] == [
        "greets (v2) : all[echo-language=French]",
        "greets (v2) : all[echo-language=Old_English]",
        f"test-2[echo-text=a_very_long_value_that~{combo_id(cfg.cases[2].vars)}]",
        f"test-2[echo-text=a_very_long_value_that~{combo_id(cfg.cases[3].vars)}]",
        f"test-3[echo-n=1~{combo_id({'n': '1'})}]",
        f"test-3[echo-n=1~{combo_id({'n': ' 1'})}]",
    ]
    for name in (c.name for c in cfg.cases):
        head, _, params = name.partition("[")
        assert (
            "[" not in head
            and "[" not in params[:-1]
            and "]" not in params[:-1]
            and "::" not in name
        )


def test_default_test_merge(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo]
        defaultTest:
          vars: {a: default, b: default}
          assert: [{type: contains, value: D}]
          options: {prefix: 'P:', provider: openai:gpt-4o-mini}
          metadata: {team: x, level: 1}
          threshold: 0.5
        tests:
          - vars: {b: test}
            assert: [{type: contains, value: T}]
            options: {suffix: '!'}
            metadata: {level: 2}
          - options: {disableDefaultAsserts: true}
            threshold: 0.9
        """
    )
    a, b = cfg.cases
    assert a.vars == {"a": "default", "b": "test"}
    assert [x.value for x in a.asserts] == ["D", "T"]
    assert a.options == {"prefix": "P:", "provider": "openai:gpt-4o-mini", "suffix": "!"}
    assert a.metadata == {"team": "x", "level": 2}
    assert a.threshold == 0.5
    assert b.asserts == () and b.threshold == 0.9
    assert cfg.threshold == 0.5
    assert cfg.default_test["threshold"] == 0.5


def test_default_test_from_file(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\ndefaultTest: file://default.yaml\ntests: [{vars: {q: 1}}]\n",
        files={"default.yaml": "assert:\n  - type: is-json\n"},
    )
    assert [a.type for a in cfg.cases[0].asserts] == ["is-json"]


def test_scenarios(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo]
        defaultTest:
          vars: {tone: neutral}
          assert: [{type: is-json}]
        tests: [{description: plain}]
        scenarios:
          - description: langs
            config:
              - vars: {lang: fr}
                assert: [{type: contains, value: C}]
              - vars: {lang: de, tone: warm}
            tests:
              - description: greet
                vars: {text: hi}
                assert: [{type: contains, value: T}]
              - vars: {text: bye, tone: cold}
        """
    )
    assert [c.name for c in cfg.cases] == [
        "plain[echo]", "greet[echo]", "test-3[echo]", "greet[echo-2]",
        "test-5[echo]",
    ]  # fmt: skip
    vars_ = [c.vars for c in cfg.cases[1:]]
    assert vars_ == [
        {"tone": "neutral", "lang": "fr", "text": "hi"},
        {"tone": "cold", "lang": "fr", "text": "bye"},
        {"tone": "warm", "lang": "de", "text": "hi"},
        {"tone": "cold", "lang": "de", "text": "bye"},
    ]
    assert [[a.type for a in c.asserts] for c in cfg.cases[1:3]] == [
        ["is-json", "contains", "contains"],
        ["is-json", "contains"],
    ]
    assert cfg.cases[1].key_path == "scenarios[0].tests[0]"


def test_prompt_and_provider_filters(load: Loader) -> None:
    cfg = load(
        """\
        prompts:
          - {id: 'a', label: 'grp:one'}
          - {id: 'b', label: 'grp:two'}
          - {id: 'c', label: solo}
        providers:
          - id: openai:gpt-4o
            label: big
            prompts: ['grp:*']
          - id: groq:llama
          - id: echo
            prompts: [solo]
        tests:
          - description: all
          - description: only-groq-grp
            providers: ['groq:*']
            prompts: [grp]
          - description: by-label
            providers: [big]
            prompts: [grp:two]
        """
    )
    by_test: dict[str, list[tuple[str, str]]] = {}
    for c in cfg.cases:
        by_test.setdefault(c.description, []).append((c.provider.label, c.prompt.label))
    assert by_test["all"] == [
        ("big", "grp:one"), ("big", "grp:two"),
        ("groq:llama", "grp:one"), ("groq:llama", "grp:two"), ("groq:llama", "solo"),
        ("echo", "solo"),
    ]  # fmt: skip
    assert by_test["only-groq-grp"] == [("groq:llama", "grp:one"), ("groq:llama", "grp:two")]
    assert by_test["by-label"] == [("big", "grp:two")]


def test_filters_matching_nothing_are_errors(load: Loader) -> None:
    with pytest.raises(ConfigError, match="matches none of the config's providers"):
        load("providers: [echo]\ntests: [{providers: ['openai:*']}]\n")
    with pytest.raises(ConfigError, match="matches none of the config's prompts"):
        load("providers: [echo]\nprompts: [a]\ntests: [{prompts: [b]}]\n")
    with pytest.raises(ConfigError, match="matches no prompt"):
        load("providers: [{id: echo, prompts: [zzz]}]\nprompts: [a]\n")


def test_test_provider_override_and_provider_output(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo, groq:x]
        tests:
          - provider: {id: openai:gpt-4o, config: {temperature: 0}}
            providerOutput: canned
        """
    )
    assert [c.name for c in cfg.cases] == ["test-1[echo]", "test-1[groq:x]"]
    assert all(c.provider.gateway_id == "openai:gpt-4o" for c in cfg.cases)
    assert all(c.provider_output == "canned" for c in cfg.cases)


def test_prompt_config_merges_into_provider_config(load: Loader) -> None:
    cfg = load(
        """\
        providers: [{id: echo, config: {temperature: 1, top_p: 0.5}}]
        prompts: [{raw: x, label: x, config: {temperature: 0}}]
        """
    )
    assert cfg.cases[0].provider.config == {"temperature": 0, "top_p": 0.5}


def test_case_carries_config_env_and_evaluate_options(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\nenv: {A: 1, B: true, C: on}\n"
        "evaluateOptions: {maxConcurrency: 3, delay: 10, timeoutMs: 500}\n"
    )
    (c,) = cfg.cases
    assert c.config_env == {"A": "1", "B": "true", "C": "on"}
    assert c.evaluate_options == {"maxConcurrency": 3, "delay": 10, "timeoutMs": 500}
