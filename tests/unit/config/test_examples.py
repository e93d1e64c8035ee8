"""Example configs shaped like promptfoo's own examples: row counts as promptfoo evaluates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cfgateway.config import LoadedConfig, load_config, parse_chat, render_prompt

EXAMPLES = Path(__file__).parent / "examples"
ENV = {"CLOUDFLARE_ACCOUNT_ID": "acct-123", "CLOUDFLARE_GATEWAY_ID": "gw-main"}

#: example -> (tests x combinations x prompts x providers) as promptfoo would run them
ROWS = {
    "getting-started": 2 * 2 * 2,
    "simple-test": 3 * 2 * 1,
    "simple-csv": 4 * 2 * 1,
    "csv-metadata": 3 * 1 * 1,
    "self-grading": 5 * 2 * 1,
    "multi-translations": 5 * 5 * 2 * 3,
    "model-compare": 6 * 1 * 2,
    "support-rubric": 4 * 1 * 1,
    "gateway-trio": 3 * 1 * 3,
    "chat-messages": 2 * 3 * 1,
}


def load(name: str) -> LoadedConfig:
    return load_config(EXAMPLES / name / "promptfooconfig.yaml", env=ENV, rootdir=EXAMPLES)


@pytest.mark.parametrize(("name", "rows"), sorted(ROWS.items()))
def test_row_counts(name: str, rows: int) -> None:
    cfg = load(name)
    assert len(cfg.cases) == rows
    names = [c.name for c in cfg.cases]
    assert len(set(names)) == len(names)
    assert names == [c.name for c in load(name).cases]  # deterministic


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(ROWS)


def test_multi_translations_shape() -> None:
    cfg = load("multi-translations")
    assert len({c.row_key for c in cfg.cases}) == 25
    first = cfg.cases[0]
    assert first.vars == {"language": "Portuguese", "input": "The train leaves at noon"}
    assert first.asserts[0].threshold == 0.7
    assert [c.provider.gateway_id for c in cfg.cases[:6]] == [
        "openai:gpt-4o-mini", "openai:gpt-4o-mini",
        "anthropic:claude-3-5-haiku-latest", "anthropic:claude-3-5-haiku-latest",
        "groq:llama-3.3-70b-versatile", "groq:llama-3.3-70b-versatile",
    ]  # fmt: skip


def test_simple_test_keeps_yes_as_string_and_resolves_refs() -> None:
    cfg = load("simple-test")
    assert cfg.cases[0].vars == {"body": "Yes"}
    greeting = next(c for c in cfg.cases if c.description == "Greeting shape")
    assert [a.type for a in greeting.asserts] == ["icontains", "javascript", "python", "llm-rubric"]


def test_simple_csv_load_filter_renders() -> None:
    case = load("simple-csv").cases[0]
    assert render_prompt(case, {}) == 'Translate "Hello" into French. Tone: warm'
    last = load("simple-csv").cases[-1]
    assert last.asserts[0].value == ["bientôt", "à plus"]


def test_csv_metadata() -> None:
    cases = load("csv-metadata").cases
    assert cases[0].metadata == {"category": "algorithms", "tags": ["search", "sorted input"]}
    assert cases[1].metadata["tags"] == ["tcp,ip", "transport"]
    assert [a.type for a in cases[0].asserts] == ["contains", "llm-rubric"]
    assert cases[0].asserts[1].value == "Does this describe {{topic}} accurately?"
    assert [a.type for a in cases[2].asserts] == ["contains"]
    assert cases[0].provider.config == {"temperature": 0.7}


def test_self_grading_defaults_first() -> None:
    case = load("self-grading").cases[0]
    assert [a.type for a in case.asserts] == ["llm-rubric", "javascript", "llm-rubric"]
    assert case.asserts[2].value == "mentions the start of the week"


def test_model_compare_inherits_defaults() -> None:
    cases = load("model-compare").cases
    assert [a.type for a in cases[0].asserts] == ["cost", "latency", "icontains"]
    assert [a.type for a in cases[4].asserts] == ["cost", "latency"]
    assert cases[0].prompt.raw == ("Answer the riddle briefly and explain the trick: {{riddle}}")


def test_support_rubric() -> None:
    cases = load("support-rubric").cases
    assert [c.name for c in cases] == [
        "damaged delivery[canned-replies]",
        "double charge[canned-replies]",
        "session bug[canned-replies]",
        "address change[canned-replies]",
    ]
    assert [a.metric for a in cases[0].asserts] == [
        "empathy", "actionability", "tone", "policy", "brevity",
    ]  # fmt: skip
    assert cases[0].options["provider"] == "openai:gpt-4.1-mini"
    assert cases[0].provider.route == "echo"


def test_gateway_trio_env_templates() -> None:
    cfg = load("gateway-trio")
    assert all(p.config["accountId"] == "acct-123" for p in cfg.providers)
    assert all(p.config["gatewayId"] == "gw-main" for p in cfg.providers)
    assert cfg.cases[3].asserts[0].value == "green, emerald"


def test_chat_messages_render() -> None:
    cases = load("chat-messages").cases
    templated = next(c for c in cases if c.prompt.label == "templated")
    assert parse_chat(render_prompt(templated, {})) == [
        {"role": "system", "content": "You write for kids."},
        {"role": "user", "content": "Here is the article: Bees dance to tell each other where "
         "flowers are."},
    ]  # fmt: skip
    plain = next(c for c in cases if c.prompt.label == "plain")
    assert parse_chat(render_prompt(plain, {}))[0]["role"] == "user"
    with_system = next(c for c in cases if c.prompt.label == "with-system")
    assert json.loads(with_system.prompt.raw)[0]["content"] == "You explain science simply.\n"
