"""``conversation-relevance``: windows, score, threshold, reasons (promptfoo 0.123.1's
algorithm), against a fake grader that answers by the window's last assistant message."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pytest_cfgateway.assertions.base import AssertionConfigError, AssertionContext
from pytest_cfgateway.assertions.conversation import parse_verdict
from pytest_cfgateway.assertions.engine import run_assertion
from pytest_cfgateway.assertions.graded import GraderFailure
from pytest_cfgateway.assertions.registry import AssertionRegistry
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.types import Completion, Message, Usage

REG = AssertionRegistry.with_builtins()
OFF_TOPIC = "The stock market fell."


def window_of(messages: list[Message]) -> list[dict[str, str]] | None:
    """The message list our verdict prompt shows, or None for another prompt."""
    text = str(messages[-1]["content"])
    if "Messages:\n" not in text:
        return None
    return json.loads(text.split("Messages:\n", 1)[1])  # type: ignore[no-any-return]


class WindowGrader:
    """'no' when the window's last assistant message is off-topic, else 'yes'; the summary
    prompt gets ``summary``. Records each window it was shown."""

    def __init__(self, summary: str | Exception = '{"reason": "summed up"}', raw: str = "") -> None:
        self.summary = summary
        self.raw = raw
        self.windows: list[list[dict[str, str]]] = []
        self.prompts: list[str] = []

    async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Completion:
        self.prompts.append(str(messages[-1]["content"]))
        window = window_of(messages)
        if self.raw:
            text = self.raw
        elif window is None:
            if isinstance(self.summary, Exception):
                raise self.summary
            text = self.summary
        else:
            self.windows.append(window)
            last = window[-1]["content"]
            text = (
                '{"verdict": "no", "reason": "Talks about stocks."}'
                if last == OFF_TOPIC
                else '{"verdict": "yes"}'
            )
        return Completion(text=text, raw=None, usage=Usage(3, 2, 5), provider="openai", model="m")

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        raise AssertionError("no embeddings")

    async def moderate(self, provider: Any, text: str) -> Any:
        raise AssertionError("no moderation")

    async def moderate_chat(self, provider: Any, messages: list[Message]) -> Any:
        raise AssertionError("no moderation")


def turns(*outputs: str) -> list[dict[str, str]]:
    return [{"input": f"question {i}", "output": o} for i, o in enumerate(outputs)]


def grade(
    grader: WindowGrader,
    conversation: list[Any] | None = None,
    type_: str = "conversation-relevance",
    output: Any = "On topic.",
    prompt: str | None = "What is on topic?",
    **kw: Any,
) -> Any:
    vars_ = {"_conversation": conversation} if conversation is not None else {}
    ctx = AssertionContext(vars=vars_, prompt=prompt, grader=grader)
    spec = AssertionSpec(type=type_, **kw)
    return asyncio.run(run_assertion(output, spec, ctx, registry=REG))


def test_a_single_turn_is_the_prompt_and_the_output() -> None:
    g = WindowGrader()
    result = grade(g)
    assert (result.passed, result.score) == (True, 1.0)
    assert result.reason == "1 out of 1 conversation windows were relevant"
    assert g.windows == [
        [
            {"role": "user", "content": "What is on topic?"},
            {"role": "assistant", "content": "On topic."},
        ]
    ]
    assert result.tokens_used == 5


def test_windows_slide_over_the_conversation() -> None:
    g = WindowGrader()
    conversation = turns("a", OFF_TOPIC, "c", "d")
    result = grade(g, conversation, config={"windowSize": 2}, threshold=0.7)
    # windows: [0], [0,1], [1,2], [2,3]; only the one ending on the off-topic turn is "no"
    assert [[m["content"] for m in w if m["role"] == "assistant"] for w in g.windows] == [
        ["a"],
        ["a", OFF_TOPIC],
        [OFF_TOPIC, "c"],
        ["c", "d"],
    ]
    assert (result.passed, result.score) == (True, 0.75)
    assert result.reason == "summed up"  # one irrelevancy: the grader summarised it
    assert "Talks about stocks." in g.prompts[-1] and "0.75" in g.prompts[-1]


def test_default_window_is_five_turns_and_default_threshold_half() -> None:
    g = WindowGrader()
    result = grade(g, turns(*"abcdefg"))
    assert [len(w) // 2 for w in g.windows] == [1, 2, 3, 4, 5, 5, 5]
    assert result.passed and result.score == 1.0
    g = WindowGrader()
    low = grade(g, turns(OFF_TOPIC, OFF_TOPIC, "c"))
    assert (low.passed, low.score) == (False, pytest.approx(1 / 3))


@pytest.mark.parametrize(
    ("summary", "reason"),
    [
        (
            '{"reason": "The score is 0.5 because of stocks."}',
            "The score is 0.5 because of stocks.",
        ),
        ('{"other": 1}', "1 out of 2 conversation windows were relevant"),
        ("no json here", "1 out of 2 conversation windows were relevant"),
        (RuntimeError("unused"), None),
    ],
)
def test_the_summary_reason_falls_back_to_the_count(summary: Any, reason: str | None) -> None:
    from pytest_cfgateway.gateway.errors import GatewayProviderError

    if isinstance(summary, Exception):
        summary = GatewayProviderError("openai: 500", status=500, provider="openai")
        reason = "1 out of 2 conversation windows were relevant"
    result = grade(WindowGrader(summary=summary), turns("a", OFF_TOPIC), threshold=0.5)
    assert (result.passed, result.score, result.reason) == (True, 0.5, reason)
    assert not result.grader_error


def test_not_conversation_relevance_flips_pass_and_score() -> None:
    result = grade(
        WindowGrader(), turns("a", OFF_TOPIC, "c", "d"), type_="not-conversation-relevance"
    )
    assert (result.passed, result.score) == (False, pytest.approx(0.25))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("I think it is fine.", "Error parsing output: No JSON object found in response"),
        (
            '{"verdict": "maybe"}',
            "Error parsing output: Conversation relevance grader returned an invalid verdict",
        ),
    ],
)
def test_an_unusable_verdict_is_a_grader_error(raw: str, reason: str) -> None:
    for type_ in ("conversation-relevance", "not-conversation-relevance"):
        result = grade(WindowGrader(raw=raw), turns("a", "b"), type_=type_)
        assert (result.passed, result.score, result.reason) == (False, 0.0, reason)
        assert result.grader_error


def test_parse_verdict_default_reasons() -> None:
    assert parse_verdict('{"verdict": "yes"}').reason == (
        "Response is relevant to the conversation context"
    )
    no = parse_verdict('```json\n{"verdict": "no"}\n```')
    assert (no.passed, no.reason) == (False, "Response is not relevant to the conversation context")
    with pytest.raises(GraderFailure):
        parse_verdict('{"verdict": "YES"}')


def test_the_default_not_relevant_reason_is_no_irrelevancy() -> None:
    """promptfoo asks for no summary when the only 'no' came without a reason."""

    class Bare(WindowGrader):
        async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Any:
            self.prompts.append(str(messages[-1]["content"]))
            return Completion(
                text='{"verdict": "no"}', raw=None, usage=Usage(), provider="openai", model="m"
            )

    g = Bare()
    result = grade(g, turns("a", "b"))
    assert result.reason == "0 out of 2 conversation windows were relevant"
    assert len(g.prompts) == 2  # no summary call


def test_rubric_prompt_sees_the_window_turns_and_vars() -> None:
    g = WindowGrader(raw='{"verdict": "yes"}')
    grade(
        g,
        turns("first", "second"),
        rubric_prompt="Judge {{ messages[-1].output }} after {{ messages | length }} turns",
        config={"windowSize": 1},
    )
    assert g.prompts == ["Judge first after 1 turns", "Judge second after 1 turns"]


@pytest.mark.parametrize(
    ("conversation", "config", "message"),
    [
        (["not a turn"], {}, r"vars._conversation\[0\] must be a mapping"),
        ('[{"input": "a", "output": "b"}]', {}, r"vars._conversation must be a list"),
        (turns("a"), {"windowSize": -2}, "windowSize must be a positive whole number"),
        (turns("a"), {"windowSize": "three"}, "windowSize must be a positive whole number"),
    ],
)
def test_bad_input_is_a_config_error(conversation: Any, config: Any, message: str) -> None:
    with pytest.raises(AssertionConfigError, match=message):
        grade(WindowGrader(), conversation, config=config)


def test_a_window_size_written_as_text_counts() -> None:
    g = WindowGrader()
    grade(g, turns("a", "b", "c"), config={"windowSize": "2"})
    assert [len(w) // 2 for w in g.windows] == [1, 2, 2]


def test_turn_values_that_are_not_text_are_json() -> None:
    g = WindowGrader()
    grade(g, [{"input": {"q": 1}, "output": ["x", 2]}])
    assert g.windows[0] == [
        {"role": "user", "content": '{"q":1}'},
        {"role": "assistant", "content": '["x",2]'},
    ]
