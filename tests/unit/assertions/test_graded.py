"""Model-graded assertions against a scripted fake grader: prompts sent and verdicts parsed."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_cfgateway.assertions.base import AssertionConfigError, AssertionContext
from pytest_cfgateway.assertions.engine import run_assertion
from pytest_cfgateway.assertions.graded import cosine, first_json_object, parse_faithfulness
from pytest_cfgateway.assertions.registry import AssertionRegistry
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.errors import GatewayProviderError, NotRecordedError
from pytest_cfgateway.gateway.types import Completion, Message, Usage

T = TypeVar("T")
REG = AssertionRegistry.with_builtins()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


Reply = str | Exception | Callable[[list[Message]], str]


class FakeGrader:
    """Scripted replies (in order) and embeddings (by text); records every call."""

    def __init__(
        self,
        replies: list[Reply] | None = None,
        vectors: dict[str, list[float]] | None = None,
        embed_error: Exception | None = None,
    ) -> None:
        self.replies = list(replies or [])
        self.vectors = vectors or {}
        self.embed_error = embed_error
        self.calls: list[tuple[Any, list[Message]]] = []
        self.embeds: list[tuple[Any, list[str]]] = []

    async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Completion:
        self.calls.append((provider, messages))
        if not self.replies:
            raise AssertionError(f"unexpected grader call: {messages}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        text = reply(messages) if callable(reply) else reply
        return Completion(text=text, raw=None, usage=Usage(10, 5, 15), provider="openai", model="x")

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        self.embeds.append((provider, inputs))
        if self.embed_error:
            raise self.embed_error
        return [self.vectors.get(text, [0.0, 0.0, 1.0]) for text in inputs]

    def text(self, i: int = -1) -> str:
        return "\n".join(str(m["content"]) for m in self.calls[i][1])


def ctx_for(grader: FakeGrader, tmp_path: Path | None = None, **kw: Any) -> AssertionContext:
    base = {"vars": {"topic": "cats"}, "prompt": "Tell me about cats", "grader": grader}
    base.update(kw)
    if tmp_path is not None:
        base["base_dir"] = tmp_path
    return AssertionContext(**base)


def grade(
    grader: FakeGrader, type_: str, value: Any = None, output: Any = "Cats are mammals.", **kw: Any
) -> Any:
    ctx_kw = kw.pop("ctx", {})
    spec = AssertionSpec(type=type_, value=value, **kw)
    return run(run_assertion(output, spec, ctx_for(grader, **ctx_kw), registry=REG))


# --- llm-rubric ---------------------------------------------------------------------------


def test_llm_rubric_sends_output_and_rubric_to_default_grader() -> None:
    g = FakeGrader(['{"reason": "fine", "pass": true, "score": 1}'])
    res = grade(g, "llm-rubric", "mentions {{ topic }}")
    assert res.passed and res.score == 1.0 and res.reason == "fine"
    provider, messages = g.calls[0]
    assert provider == "openai:gpt-5.2"
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    assert "<Output>\nCats are mammals.\n</Output>" in messages[-1]["content"]
    assert "<Rubric>\nmentions cats\n</Rubric>" in messages[-1]["content"]
    assert res.tokens_used == 15


@pytest.mark.parametrize(
    ("reply", "threshold", "passed", "score", "reason"),
    [
        ('Sure! ```json\n{"pass": false, "score": 0, "reason": "no"}\n```', None, False, 0.0, "no"),
        ('{"pass": "yes", "reason": "r"}', None, True, 1.0, "r"),
        ('{"pass": "no", "reason": "r"}', None, False, 0.0, "r"),
        ('{"score": 0.3, "reason": "partial"}', None, True, 0.3, "partial"),
        ('{"pass": false}', None, False, 0.0, "Score 0 below threshold undefined"),
        ('{"pass": true}', None, True, 1.0, "Grading passed"),
        ('{"pass": true, "score": 0.4}', 0.5, False, 0.4, "Score 0.4 below threshold 0.5"),
        ('{"pass": true, "score": "0.9"}', 0.5, True, 0.9, "Grading passed"),
        ('prefix {not json} then {"pass": true, "score": 1, "reason": "x"}', None, True, 1.0, "x"),
    ],
)
def test_llm_rubric_verdict_parsing(
    reply: str, threshold: float | None, passed: bool, score: float, reason: str
) -> None:
    res = grade(FakeGrader([reply]), "llm-rubric", "be nice", threshold=threshold)
    assert (res.passed, res.score, res.reason) == (passed, pytest.approx(score), reason)
    assert not res.grader_error


def test_llm_rubric_no_json_is_grader_error_not_flipped() -> None:
    for type_ in ("llm-rubric", "not-llm-rubric"):
        res = grade(FakeGrader(["I think it passes."]), type_, "be nice")
        assert not res.passed and res.grader_error
        assert "Could not extract JSON" in res.reason


def test_not_llm_rubric_flips_and_inverts_score() -> None:
    res = grade(FakeGrader(['{"pass": true, "score": 0.8, "reason": "r"}']), "not-llm-rubric", "x")
    assert not res.passed and res.score == pytest.approx(0.2)
    res = grade(FakeGrader(['{"pass": false, "score": 0, "reason": "r"}']), "not-llm-rubric", "x")
    assert res.passed and res.score == 1.0


def test_transport_error_is_grader_error() -> None:
    g = FakeGrader([GatewayProviderError("upstream 500", status=500)])
    res = grade(g, "not-llm-rubric", "x")
    assert not res.passed and res.grader_error and "upstream 500" in res.reason


def test_not_recorded_propagates() -> None:
    g = FakeGrader([NotRecordedError("no snapshot; run with --cf-mode record")])
    with pytest.raises(NotRecordedError):
        grade(g, "llm-rubric", "x")


def test_empty_reply_is_grader_error() -> None:
    res = grade(FakeGrader(["   "]), "llm-rubric", "x")
    assert res.grader_error and "returned no output" in res.reason


def test_provider_precedence() -> None:
    ok = '{"pass": true}'
    g = FakeGrader([ok, ok, ok, ok])
    grade(g, "llm-rubric", "x", provider="anthropic:claude", ctx={"default_grader": "groq:llama"})
    grade(g, "llm-rubric", "x", ctx={"default_grader": "groq:llama"})
    grade(g, "llm-rubric", "x", provider={"id": "openai:gpt-4o", "config": {"temperature": 0}})
    grade(g, "llm-rubric", "x", provider={"text": "mistral:large", "embedding": "openai:e"})
    assert [c[0] for c in g.calls] == [
        "anthropic:claude",
        "groq:llama",
        {"id": "openai:gpt-4o", "config": {"temperature": 0}},
        "mistral:large",
    ]


def test_custom_rubric_prompt_with_vars() -> None:
    g = FakeGrader(['{"pass": true}'])
    grade(
        g,
        "llm-rubric",
        "is kind",
        rubric_prompt="Judge {{ output }} by {{ rubric }} on {{ topic }}",
    )
    assert g.calls[0][1] == [
        {"role": "user", "content": "Judge Cats are mammals. by is kind on cats"}
    ]


def test_rubric_prompt_json_chat_array_from_test_options() -> None:
    g = FakeGrader(['{"pass": true}'])
    prompt = (
        '[{"role": "system", "content": "Grade \\"{{ rubric }}\\""}, '
        '{"role": "user", "content": "{{ output }}"}]'
    )
    grade(g, "llm-rubric", 'say "hi"', ctx={"test": {"options": {"rubricPrompt": prompt}}})
    assert g.calls[0][1] == [
        {"role": "system", "content": 'Grade "say "hi""'},
        {"role": "user", "content": "Cats are mammals."},
    ]


def test_rubric_prompt_file(tmp_path: Path) -> None:
    (tmp_path / "rubric.txt").write_text("FILE {{ rubric }}")
    g = FakeGrader(['{"pass": true}'])
    grade(g, "llm-rubric", "x", rubric_prompt="file://rubric.txt", ctx={"base_dir": tmp_path})
    assert g.text(0) == "FILE x"


def test_object_rubric_and_vars_are_json() -> None:
    g = FakeGrader(['{"pass": true}'])
    grade(
        g,
        "llm-rubric",
        {"criteria": "kind"},
        ctx={"vars": {"doc": {"a": 1}}},
        rubric_prompt="{{ rubric }} | {{ doc }}",
    )
    assert g.text(0) == '{"criteria": "kind"} | {"a": 1}'


def test_missing_grader_is_config_error() -> None:
    spec = AssertionSpec(type="llm-rubric", value="x")
    with pytest.raises(AssertionConfigError, match="needs a grader"):
        run(run_assertion("o", spec, AssertionContext(), registry=REG))


# --- model-graded-closedqa --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "reply", "passed", "grader_error"),
    [
        ("model-graded-closedqa", "It is correct.\nY", True, False),
        ("model-graded-closedqa", "Missing detail.\nN", False, False),
        ("not-model-graded-closedqa", "Missing detail.\nN", True, False),
        ("model-graded-closedqa", "I am not sure", False, True),
        ("not-model-graded-closedqa", "I am not sure", False, True),
    ],
)
def test_closed_qa(type_: str, reply: str, passed: bool, grader_error: bool) -> None:
    g = FakeGrader([reply])
    res = grade(g, type_, "mentions mammals")
    assert (res.passed, res.grader_error) == (passed, grader_error)
    sent = g.text(0)
    assert "Tell me about cats" in sent and "Cats are mammals." in sent
    assert "mentions mammals" in sent


# --- factuality -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "options", "passed", "score"),
    [
        ('{"category": "A", "reason": "subset"}', None, True, 1.0),
        ('{"category": "d", "reason": "contradicts"}', None, False, 0.0),
        ("(B) The submission adds detail.", None, True, 1.0),
        ('{"category": "A", "reason": "subset"}', {"subset": 0}, False, 0.0),
        ('{"category": "E"}', {"differButFactual": 0.5}, True, 0.5),
    ],
)
def test_factuality(reply: str, options: Any, passed: bool, score: float) -> None:
    g = FakeGrader([reply])
    test = {"options": {"factuality": options}} if options else {}
    res = grade(g, "factuality", "Cats are mammals", ctx={"test": test})
    assert (res.passed, res.score) == (passed, score)
    assert not res.grader_error
    assert "Tell me about cats" in g.text(0) and "Cats are mammals" in g.text(0)


def test_factuality_default_reason_and_alias() -> None:
    res = grade(FakeGrader(['{"category": "C"}']), "model-graded-factuality", "x")
    assert res.passed and res.reason.startswith("Category C:")


@pytest.mark.parametrize("reply", ['{"category": "Z"}', "no idea"])
def test_factuality_bad_reply_is_grader_error(reply: str) -> None:
    res = grade(FakeGrader([reply]), "not-factuality", "x")
    assert not res.passed and res.grader_error


# --- g-eval ---------------------------------------------------------------------------------

STEPS = '{"steps": ["Read the reply", "Check coherence"]}'


def test_g_eval_two_calls() -> None:
    g = FakeGrader([STEPS, '{"score": 8, "reason": "coherent"}'])
    res = grade(g, "g-eval", "coherence")
    assert res.passed and res.score == pytest.approx(0.8) and res.reason == "coherent"
    assert "coherence" in g.text(0)
    second = g.text(1)
    assert "Read the reply\n- Check coherence" in second and "Cats are mammals." in second
    assert "Tell me about cats" in second


@pytest.mark.parametrize(
    ("score", "threshold", "passed"), [("6", None, False), (7, None, True), (5, 0.5, True)]
)
def test_g_eval_threshold(score: Any, threshold: float | None, passed: bool) -> None:
    shown = score if isinstance(score, int) else f'"{score}"'
    reply = f'{{"score": {shown}, "reason": "r"}}'
    res = grade(FakeGrader([STEPS, reply]), "g-eval", "c", threshold=threshold)
    assert res.passed is passed


def test_g_eval_list_values_are_averaged() -> None:
    g = FakeGrader([STEPS, '{"score": 10, "reason": "a"}', STEPS, '{"score": 4, "reason": "b"}'])
    res = grade(g, "g-eval", ["clarity", "accuracy"])
    assert res.score == pytest.approx(0.7) and res.passed and res.reason == "a\n\nb"


@pytest.mark.parametrize(
    "replies",
    [
        ["no steps here"],
        ['{"steps": []}'],
        [STEPS, '{"score": 11, "reason": "r"}'],
        [STEPS, '{"score": 5}'],
        [STEPS, "nothing"],
    ],
)
def test_g_eval_bad_replies_are_grader_errors(replies: list[str]) -> None:
    res = grade(FakeGrader(list(replies)), "not-g-eval", "c")
    assert not res.passed and res.grader_error


def test_not_g_eval_inverts() -> None:
    res = grade(FakeGrader([STEPS, '{"score": 2, "reason": "r"}']), "not-g-eval", "c")
    assert res.passed and res.score == pytest.approx(0.8)


# --- similar ----------------------------------------------------------------------------------

VECS = {
    "Cats are mammals.": [1.0, 0.0, 0.0],
    "close": [0.9, 0.1, 0.0],
    "far": [0.0, 1.0, 0.0],
}


@pytest.mark.parametrize(
    ("type_", "value", "threshold", "passed"),
    [
        ("similar", "close", None, True),
        ("similar", "far", None, False),
        ("similar", ["far", "close"], None, True),
        ("not-similar", "far", None, True),
        ("not-similar", ["far", "close"], None, False),
        ("similar:cosine", "close", 0.999, False),
        ("similar:dot", "close", 0.8, True),
        ("similar:euclidean", "close", 0.2, True),
        ("similar:euclidean", "far", 0.2, False),
        ("not-similar:euclidean", "far", 0.2, True),
    ],
)
def test_similar(type_: str, value: Any, threshold: float | None, passed: bool) -> None:
    g = FakeGrader(vectors=VECS)
    res = grade(g, type_, value, threshold=threshold)
    assert res.passed is passed, res.reason
    provider, inputs = g.embeds[0]
    assert provider == "openai:text-embedding-3-large"
    assert inputs[0] == "Cats are mammals."


def test_similar_scores_and_reason() -> None:
    res = grade(FakeGrader(vectors=VECS), "similar", "close")
    expected = cosine(VECS["close"], VECS["Cats are mammals."])
    assert res.score == pytest.approx(expected)
    assert res.reason == f"Similarity {expected:.2f} is greater than or equal to threshold 0.75"
    res = grade(FakeGrader(vectors=VECS), "not-similar", "far")
    assert res.score == pytest.approx(1.0)


def test_similar_embedding_provider_choice() -> None:
    g = FakeGrader(vectors=VECS)
    grade(g, "similar", "close", ctx={"default_grader": "openai:gpt-5.2"})
    grade(g, "similar", "close", ctx={"default_embedding": "openai:small"})
    grade(g, "similar", "close", provider={"text": "a:b", "embedding": "openai:own"})
    assert [e[0] for e in g.embeds] == [
        "openai:text-embedding-3-large",
        "openai:small",
        "openai:own",
    ]


def test_similar_embedding_failure_is_grader_error() -> None:
    g = FakeGrader(embed_error=GatewayProviderError("boom"))
    res = grade(g, "not-similar", "far")
    assert not res.passed and res.grader_error


# --- answer-relevance -----------------------------------------------------------------------


def test_answer_relevance() -> None:
    q = "What are cats?"
    g = FakeGrader(
        [q, q, "Why is the sky blue?"],
        vectors={
            "Tell me about cats": [1.0, 0.0],
            q: [1.0, 0.0],
            "Why is the sky blue?": [0.0, 1.0],
        },
    )
    res = grade(g, "answer-relevance")
    assert len(g.calls) == 3 and "Cats are mammals." in g.text(0)
    assert g.embeds[0][1] == ["Tell me about cats", q, q, "Why is the sky blue?"]
    assert res.score == pytest.approx(2 / 3) and not res.passed
    assert res.reason == "Relevance 0.67 is less than threshold 0.7"


def test_answer_relevance_uses_vars_query() -> None:
    g = FakeGrader(["q", "q", "q"], vectors={"the query": [1, 0], "q": [1, 0]})
    res = grade(g, "answer-relevance", ctx={"vars": {"query": "the query"}})
    assert res.passed and res.score == pytest.approx(1.0)


# --- context-* ------------------------------------------------------------------------------

CONTEXT = "Cats are mammals. Cats purr. Dogs bark."


def test_context_recall() -> None:
    g = FakeGrader(
        ["Here you go:\n1. Cats are mammals. [Attributed]\n2. Cats fly. [Not Attributed]"]
    )
    res = grade(
        g,
        "context-recall",
        "Cats are mammals. Cats fly.",
        threshold=0.5,
        ctx={"vars": {"context": CONTEXT}},
    )
    assert res.passed and res.score == 0.5 and res.reason == "Recall 0.50 is >= 0.5"
    assert CONTEXT in g.text(0) and "Cats fly." in g.text(0)


def test_context_recall_without_tags_is_grader_error() -> None:
    res = grade(
        FakeGrader(["I refuse."]), "not-context-recall", "x", ctx={"vars": {"context": "c"}}
    )
    assert not res.passed and res.grader_error


def test_context_missing_is_config_error() -> None:
    with pytest.raises(AssertionConfigError, match=r"vars\.context.*contextTransform"):
        grade(FakeGrader(), "context-recall", "x")


def test_context_query_missing_is_config_error() -> None:
    with pytest.raises(AssertionConfigError, match=r"vars\.query"):
        grade(FakeGrader(), "context-faithfulness", ctx={"vars": {"context": "c"}})


def test_context_transform_extracts_context() -> None:
    g = FakeGrader(["1. A. [Attributed]"])
    res = grade(
        g,
        "context-recall",
        "A.",
        output='{"answer": "A", "docs": ["doc one", "doc two"]}',
        context_transform="JSON.parse(output).docs",
    )
    assert res.passed and "doc one\n\ndoc two" in g.text(0)


def test_context_relevance() -> None:
    g = FakeGrader(["Cats are mammals.\nCats purr."])
    res = grade(
        g, "context-relevance", ctx={"vars": {"query": "cats?", "context": CONTEXT}}, threshold=0.5
    )
    assert res.passed and res.score == pytest.approx(2 / 3)


def test_context_relevance_insufficient_and_unquoted() -> None:
    ctx = {"vars": {"query": "cats?", "context": ["Cats purr.", "Dogs bark."]}}
    res = grade(FakeGrader(["Insufficient Information"]), "context-relevance", ctx=ctx)
    assert res.score == 0.0 and res.passed  # default threshold 0
    res = grade(FakeGrader(["Something invented."]), "not-context-relevance", ctx=ctx)
    assert res.grader_error and not res.passed


def test_context_faithfulness() -> None:
    g = FakeGrader(
        [
            "Cats are mammals.\nCats can fly.",
            "Statement 1: supported. Verdict: Yes\nStatement 2: not in context. Verdict: No",
        ]
    )
    res = grade(
        g,
        "context-faithfulness",
        "x",
        threshold=0.6,
        ctx={"vars": {"query": "cats?", "context": CONTEXT}},
    )
    assert not res.passed and res.score == pytest.approx(0.5)
    assert "1. Cats are mammals.\n2. Cats can fly." in g.text(1) and CONTEXT in g.text(1)


@pytest.mark.parametrize(
    ("reply", "n", "score"),
    [
        ("Final verdict for each statement in order: Yes. No. Yes.", 3, 2 / 3),
        ("verdict: yes\nverdict: yes", 4, 0.5),
    ],
)
def test_parse_faithfulness(reply: str, n: int, score: float) -> None:
    assert parse_faithfulness(reply, n) == pytest.approx(score)


def test_first_json_object() -> None:
    assert first_json_object('x [1] {"a": {"b": 2}} {"c": 3}') == {"a": {"b": 2}}
    assert first_json_object("none") is None


def test_cosine_zero_vector() -> None:
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
    assert math.isclose(cosine([1.0, 1.0], [1.0, 1.0]), 1.0)
