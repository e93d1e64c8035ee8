"""Reply rules (file, list) and the deterministic model (echo, usage, embeddings)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator, RulesError, load_rules
from pytest_cfgateway.emulator.model import Prompt, content_text, embed, think

from .conftest import ANTHROPIC_HEADERS, GW, OPENAI_AUTH, chat

RULES_YAML = """
rules:
  - match: "Rubric"
    reply: {"pass": true, "score": 1, "reason": "ok"}
  - match: "weather"
    provider: openai
    reply: ""
    tool_calls:
      - {name: get_weather, arguments: {city: Paris}}
  - match: "(?i)shout"
    model: "claude-*"
    reply: "LOUD {{last_user}}"
    finish_reason: length
  - match: "boom"
    status: 503
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_YAML)
    return path


def test_grader_verdict_rule_from_yaml_file(
    http: httpx.Client, emu: Emulator, rules_file: Path
) -> None:
    emu.rules = rules_file
    body = {
        "model": "gpt-5.2",
        "messages": [
            {"role": "system", "content": "Rubric: be nice"},
            {"role": "user", "content": "Output: hi"},
        ],
    }
    out = http.post(f"{GW}/openai/chat/completions", json=body, headers=OPENAI_AUTH).json()
    verdict = json.loads(out["choices"][0]["message"]["content"])
    assert verdict == {"pass": True, "score": 1, "reason": "ok"}


def test_tool_call_rule_openai_shape(http: httpx.Client, emu: Emulator, rules_file: Path) -> None:
    emu.rules = rules_file
    out = http.post(
        f"{GW}/openai/chat/completions", json=chat("what is the weather"), headers=OPENAI_AUTH
    ).json()
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    # provider filter: the same prompt to groq is echoed
    groq = http.post(
        f"{GW}/groq/chat/completions", json=chat("weather"), headers=OPENAI_AUTH
    ).json()
    assert groq["choices"][0]["message"]["content"] == "weather"


def test_model_glob_template_and_finish_reason(
    http: httpx.Client, emu: Emulator, rules_file: Path
) -> None:
    emu.rules = rules_file
    body = {
        "model": "claude-3-haiku",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "SHOUT it"}],
    }
    out = http.post(f"{GW}/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS).json()
    assert out["content"][0]["text"] == "LOUD SHOUT it"
    assert out["stop_reason"] == "max_tokens"


def test_status_rule_answers_a_provider_error(
    http: httpx.Client, emu: Emulator, rules_file: Path
) -> None:
    emu.rules = rules_file
    r = http.post(f"{GW}/openai/chat/completions", json=chat("boom"), headers=OPENAI_AUTH)
    assert r.status_code == 503 and r.json()["error"]["type"] == "server_error"


def test_tool_calls_in_other_formats(http: httpx.Client, emu: Emulator) -> None:
    emu.rules = [{"match": "tool", "tool_calls": [{"name": "f", "arguments": '{"x": 1}'}]}]
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "tool"}]}
    out = http.post(f"{GW}/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS).json()
    assert out["stop_reason"] == "tool_use"
    assert out["content"][0]["type"] == "tool_use" and out["content"][0]["input"] == {"x": 1}
    g = http.post(
        f"{GW}/google-ai-studio/v1beta/models/g:generateContent",
        json={"contents": [{"parts": [{"text": "tool"}]}]},
        headers={"x-goog-api-key": "k"},
    ).json()
    assert g["candidates"][0]["content"]["parts"][0] == {
        "functionCall": {"name": "f", "args": {"x": 1}}
    }


def test_json_rules_file_and_bad_rules(tmp_path: Path) -> None:
    good = tmp_path / "r.json"
    good.write_text(json.dumps([{"match": "x", "reply": "y"}]))
    assert load_rules(good)[0].reply == "y"
    cases = {
        "[{reply: x}]": "'match' must be a regex",
        "[{match: '('}]": "not a valid regex",
        "[{match: x, colour: red}]": "unknown key(s) 'colour'",
        "[{match: x, status: 200}]": "between 400 and 599",
        "[{match: x, tool_calls: [{arguments: {}}]}]": "non-empty string 'name'",
        "{a: 1}": "expected a list of rules",
        "[1, 2": "not valid YAML/JSON",
    }
    for text, fragment in cases.items():
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(RulesError, match=None) as info:
            load_rules(path)
        assert fragment in str(info.value) and "bad.yaml" in str(info.value)
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yaml")


def test_echo_usage_and_truncation() -> None:
    prompt = Prompt.of([("system", "be brief"), ("user", "one two three")], max_tokens=2)
    answer = think([], prompt, "openai", "m")
    assert (answer.text, answer.finish_reason) == ("one two", "length")
    assert (answer.prompt_tokens, answer.completion_tokens) == (5, 2)
    empty = think([], Prompt.of([("user", "")]), "openai", "m")
    assert empty.completion_tokens == 1 and empty.prompt_tokens == 1


def test_content_text_shapes() -> None:
    assert content_text("a") == "a"
    assert content_text([{"type": "text", "text": "a"}, {"type": "image_url"}, "b"]) == "a\nb"
    assert content_text([{"type": "text"}]) is None
    assert content_text(5) is None


def test_embeddings_are_deterministic_unit_vectors_and_similar_texts_are_closer() -> None:
    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    a, b, c = embed("the cat sat on the mat"), embed("the cat sat on a mat"), embed("quantum flux")
    assert a == embed("the cat sat on the mat")
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-6)
    assert cos(a, b) > cos(a, c)
    assert len(embed("x", 32)) == 32 and embed("", 4) != [0.0] * 4
