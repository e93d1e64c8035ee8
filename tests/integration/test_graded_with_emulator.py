"""Model-graded assertions in a config, graded through the real emulator with reply rules,
recorded with their item and replayed with no gateway."""

from __future__ import annotations

import textwrap
from typing import Any

CONFIG = """
prompts: ['{{answer}}']
providers: [echo]
defaultTest:
  options:
    provider: openai:gpt-4o-mini
tests:
  - description: rubric
    vars: {answer: 'Hello there, friend'}
    assert:
      - {type: llm-rubric, value: is a friendly greeting}
  - description: closedqa
    vars: {answer: Paris is the capital of France}
    assert:
      - {type: model-graded-closedqa, value: names the capital of France}
  - description: factuality
    vars: {answer: The capital of France is Paris, question: capital?}
    assert:
      - {type: factuality, value: Paris is the capital of France}
  - description: geval
    vars: {answer: A clear and short reply}
    assert:
      - {type: g-eval, value: clarity}
  - description: similar
    vars: {answer: the cat sat on the mat}
    assert:
      - {type: similar, value: the cat sat on the mat, threshold: 0.99}
      - {type: not-similar, value: quantum chromodynamics lattice, threshold: 0.99}
  - description: context
    vars:
      answer: Paris is the capital.
      query: What is the capital of France?
      context: Paris is the capital of France. It is large.
    assert:
      - {type: context-relevance, threshold: 0.4}
      - {type: context-faithfulness, threshold: 0.9}
      - {type: answer-relevance, threshold: 0.9}
  - description: rubric fails
    vars: {answer: Go away}
    assert:
      - {type: llm-rubric, value: is a friendly greeting}
"""

RULES = [
    # llm-rubric: verdict by the output it is shown
    {
        "match": "(?s)Go away.*friendly greeting",
        "reply": '{"pass": false, "score": 0, "reason": "rude"}',
    },
    {"match": "(?s)friendly greeting", "reply": '{"pass": true, "score": 1, "reason": "warm"}'},
    {"match": "verdict alone on the last line", "reply": "It names Paris.\nY"},
    {"match": "Choose exactly one category", "reply": '{"category": "C", "reason": "same"}'},
    {"match": "preparing an evaluation procedure", "reply": '{"steps": ["read", "judge"]}'},
    {"match": "Give an integer score", "reply": '{"score": 9, "reason": "clear"}'},
    {"match": "most plausibly responds to", "reply": "What is the capital of France?"},
    {"match": "Copy from the context", "reply": "Paris is the capital of France."},
    {"match": "Break the answer", "reply": "Paris is the capital."},
    {"match": "Decide for each statement", "reply": "Statement 1: stated. Verdict: Yes"},
]


def test_graded_types_record_and_replay(pytester, emu, keyed_env, monkeypatch):
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    emu.rules = RULES
    args = ("--cf-config", "promptfooconfig.yaml", "-rA")
    rec = pytester.runpytest(*args, "--cf-mode", "record", "--cf-gateway-url", emu.url)
    rec.assert_outcomes(passed=6, failed=1)
    assert "rude" in rec.stdout.str()
    paths = {r.path for r in emu.requests}
    assert "/v1/acct/gw/openai/chat/completions" in paths
    assert "/v1/acct/gw/openai/embeddings" in paths  # similar goes through the gateway too
    # grader calls are stored with their item
    rubric = next(p for p in pytester.path.glob("__snapshots__/promptfooconfig.yaml/rubric*.yaml"))
    assert "- role: grader\n" in rubric.read_text()
    assert_replays_offline(pytester, emu, keyed_env, monkeypatch, args, passed=6, failed=1)


def assert_replays_offline(
    pytester: Any, emu: Any, keyed_env: Any, monkeypatch: Any, args: Any, **outcomes: int
) -> None:
    """Run again without keys or gateway: the same outcomes, and no request made."""
    for k in keyed_env:
        monkeypatch.delenv(k)
    emu.reset()
    rep = pytester.runpytest(*args)
    rep.assert_outcomes(**outcomes)
    assert emu.requests == []
