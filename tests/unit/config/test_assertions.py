"""Assertion validation at load time: types, not-, assert-set, values, regex, files, plugins."""

from __future__ import annotations

import pytest

from pytest_cfgateway.config import ConfigError
from pytest_cfgateway.config.assertion_types import KNOWN_UNSUPPORTED_TYPES, SUPPORTED_TYPES

from .conftest import Loader

HEAD = "providers: [echo]\ntests:\n  - assert:\n"


def asserts_of(load: Loader, body: str, **kw: object) -> tuple:  # type: ignore[type-arg]
    return load(HEAD + body, **kw).cases[0].asserts


def test_full_assertion_fields(load: Loader) -> None:
    (a,) = asserts_of(
        load,
        """\
      - type: not-llm-rubric
        value: is rude
        threshold: 0.8
        weight: 2
        metric: politeness
        provider: {id: openai:gpt-4o-mini, config: {temperature: 0}}
        rubricPrompt: 'Grade {{output}}'
        transform: output.lower()
        contextTransform: output.ctx
        config: {k: v}
""",
    )
    assert a.type == "not-llm-rubric" and a.value == "is rude"
    assert (a.threshold, a.weight, a.metric) == (0.8, 2.0, "politeness")
    assert a.provider == {"id": "openai:gpt-4o-mini", "config": {"temperature": 0}}
    assert a.rubric_prompt == "Grade {{output}}"
    assert (a.transform, a.context_transform, a.config) == (
        "output.lower()",
        "output.ctx",
        {"k": "v"},
    )
    assert a.key_path == "tests[0].assert[0]"


def test_assert_set(load: Loader) -> None:
    (s,) = asserts_of(
        load,
        """\
      - type: assert-set
        threshold: 0.5
        weight: 3
        metric: set
        assert:
          - {type: contains, value: a}
          - {type: not-icontains, value: b}
""",
    )
    assert s.type == "assert-set" and s.threshold == 0.5 and s.weight == 3.0
    assert [c.type for c in s.children] == ["contains", "not-icontains"]
    assert s.children[1].key_path == "tests[0].assert[0].assert[1]"


def test_every_supported_type_with_value_validates(load: Loader) -> None:
    lines = []
    for t in sorted(SUPPORTED_TYPES - {"assert-set"}):
        extra = "        threshold: 1\n" if t in ("latency", "ttft", "cost") else ""
        value = "5" if t == "word-count" else "'x'"
        lines.append(f"      - type: {t}\n        value: {value}\n{extra}")
    asserts = asserts_of(load, "".join(lines))
    assert len(asserts) == len(SUPPORTED_TYPES) - 1


def test_assertion_templates_ref(load: Loader) -> None:
    cfg = load(
        """\
        providers: [echo]
        assertionTemplates:
          pirate: {type: icontains, value: arr}
        tests:
          - assert:
              - $ref: '#/assertionTemplates/pirate'
        """
    )
    assert (cfg.cases[0].asserts[0].type, cfg.cases[0].asserts[0].value) == ("icontains", "arr")


def test_plugin_types_validate(load: Loader) -> None:
    (a, b) = asserts_of(
        load,
        "      - type: my-custom\n      - type: not-my-custom\n        value: 3\n",
        extra_assertion_types=["my-custom"],
    )
    assert (a.type, b.type) == ("my-custom", "not-my-custom")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("      - type: containz\n        value: x\n", "'containz' is unknown. Did you mean"),
        ("      - type: not-contians\n        value: x\n", "is unknown. Did you mean 'contains'"),
        ("      - type: guardrails\n", "'guardrails' is a promptfoo type that pytest-cfgateway"),
        ("      - type: promptfoo:redteam:harmful\n", "does not run"),
        # promptfoo reads an assertion's file when it grades: only the rows using it error
        (
            "      - type: python\n        value: file://nope.py:fn\n",
            "assertion file 'file://nope.py:fn' not found (looked for nope.py); the items "
            "using it will error",
        ),
        ("      - type: javascript\n        value: file://asserts/a.js\n", "a.js' not found"),
        ("      - type: contains\n        value: file://expected.txt\n", "not found"),
        (
            "      - type: equals\n        value: x\n        thresold: 1\n",
            "unknown assertion key 'thresold' is ignored (promptfoo ignores it too). Did you "
            "mean 'threshold'?",
        ),
    ],
)
def test_unrunnable_assertions_warn_and_error_only_their_items(
    load: Loader, body: str, fragment: str
) -> None:
    cfg = load("providers: [echo]\ntests:\n  - assert:\n" + body)
    (warning,) = cfg.warnings
    assert fragment in warning and "tests[0].assert[0]" in warning
    assert len(cfg.cases) == 1


def test_llm_rubric_without_value_is_graded_with_its_rubric_prompt(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\ntests:\n  - assert:\n      - type: llm-rubric\n"
        "        rubricPrompt: 'Is {{output}} polite? JSON {pass, score, reason}'\n"
    )
    (spec,) = cfg.cases[0].asserts
    assert spec.value is None and spec.rubric_prompt


def test_function_call_types_are_supported(load: Loader) -> None:
    cfg = load(
        "providers: [echo]\ntests:\n  - assert:\n      - type: is-valid-openai-function-call\n"
        "      - type: is-valid-function-call\n"
    )
    assert cfg.warnings == []


def test_unsupported_set_is_real() -> None:
    assert "guardrails" in KNOWN_UNSUPPORTED_TYPES and "contains" not in KNOWN_UNSUPPORTED_TYPES
    assert "moderation" not in KNOWN_UNSUPPORTED_TYPES


@pytest.mark.parametrize(
    ("body", "fragment", "key_path"),
    [
        ("      - type: not-select-best\n        value: x\n", "cannot be negated", ".type"),
        ("      - type: not-assert-set\n        assert: []\n", "cannot be negated", ".type"),
        ("      - type: contains\n", "needs a 'value'", "tests[0].assert[0]"),
        ("      - type: contains\n        value: ''\n", "needs a 'value'", ".value"),
        ("      - type: latency\n", "needs a 'threshold'", "tests[0].assert[0]"),
        ("      - type: regex\n        value: '([a-'\n", "invalid regex", ".value"),
        (
            "      - type: equals\n        value: x\n        threshold: high\n",
            "must be a number",
            ".threshold",
        ),
        (
            "      - type: equals\n        value: x\n        weight: '2'\n",
            "must be a number",
            ".weight",
        ),
        (
            "      - type: equals\n        value: x\n        metric: [a]\n",
            "must be a string",
            ".metric",
        ),
        ("      - contains:foo\n", "compact strings", "tests[0].assert[0]"),
        ("      - value: x\n", "has no 'type'", "tests[0].assert[0]"),
        ("      - type: assert-set\n        assert: []\n", "non-empty 'assert'", ".assert"),
        ("      - $ref: '#/nope/x'\n", "points at nothing", ".$ref"),
        ("      - type: word-count\n        value: many\n", "word-count value", ".value"),
    ],
)
def test_assertion_errors(load: Loader, body: str, fragment: str, key_path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(HEAD + body)
    assert fragment in str(exc.value)
    assert exc.value.key_path.endswith(key_path) or exc.value.key_path.startswith(key_path)
    assert exc.value.line is not None
    assert "Fix:" in str(exc.value)


def test_js_regex_named_groups_are_accepted(load: Loader) -> None:
    (a,) = asserts_of(load, "      - type: regex\n        value: '(?<year>\\d{4})-\\k<year>'\n")
    assert a.value == "(?<year>\\d{4})-\\k<year>"


@pytest.mark.parametrize("value", ["'3'", "' 3.0 '"])
def test_word_count_takes_numeric_text_like_promptfoo(load: Loader, value: str) -> None:
    (a,) = asserts_of(load, f"      - type: word-count\n        value: {value}\n")
    assert a.value.strip() in ("3", "3.0")
