"""The ``classifier`` assertion: promptfoo 0.123.1's verdict rules, against a fake grader."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionConfigError,
    AssertionContext,
    AssertionSkipped,
)
from pytest_cfgateway.assertions.classifier import js_text, verdict
from pytest_cfgateway.assertions.engine import run_assertion
from pytest_cfgateway.assertions.registry import AssertionRegistry
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.errors import GatewayProviderError, NotRecordedError
from pytest_cfgateway.gateway.types import Classification, Message, Usage

REG = AssertionRegistry.with_builtins()
HF = "huggingface:text-classification:facebook/roberta-hate-speech-dynabench-r4-target"
GATEWAY_ID = "huggingface:facebook/roberta-hate-speech-dynabench-r4-target"


class FakeClassifier:
    """Classification answers from a fixed score map (or an error)."""

    def __init__(self, scores: dict[str, float] | None = None, error: Exception | None = None):
        self.scores = {"nothate": 0.8, "hate": 0.2} if scores is None else scores
        self.error = error
        self.calls: list[tuple[Any, str]] = []

    async def classify(self, provider: Any, text: str) -> Classification:
        self.calls.append((provider, text))
        if self.error:
            raise self.error
        return Classification(
            scores=dict(self.scores), usage=Usage(), provider="huggingface", model="m"
        )

    async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Any:
        raise AssertionError("classifier never asks a chat grader")

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        raise AssertionError("classifier never embeds")


def check(
    grader: FakeClassifier,
    output: Any = "some output",
    type_: str = "classifier",
    value: Any = None,
    options: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    kw.setdefault("provider", None if options else HF)
    ctx = AssertionContext(
        prompt="Write a tweet",
        grader=grader,
        test={"options": options or {}},
        default_grader="openai:gpt-4o-mini",  # a chat grader: never used for classification
    )
    spec = AssertionSpec(type=type_, value=value, **kw)
    return asyncio.run(run_assertion(output, spec, ctx, registry=REG))


# --- the verdict -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "expected", "threshold", "passed", "score", "reason"),
    [
        ({"a": 0.6, "b": 0.5}, "a", 0.5, True, 0.6, "Classification a has score 0.60 >= 0.5"),
        ({"a": 0.6, "b": 0.5}, "b", 0.75, False, 0.5, "Classification b has score 0.50 < 0.75"),
        ({"a": 0.6}, "missing", 0.5, False, 0.0, "Classification missing has score 0.00 < 0.5"),
        ({"a": 0.6, "b": 0.9}, None, 0.8, True, 0.9, "Maximum classification score 0.90 >= 0.8"),
        ({"a": 0.6, "b": 0.7}, None, 1.0, False, 0.7, "Maximum classification score 0.70 < 1"),
        ({"a": 1.0}, "a", 1.0, True, 1.0, "Classification a has score 1.00 >= 1"),
        # within JavaScript's Number.EPSILON of the threshold passes
        ({"a": 0.3}, "a", 0.1 + 0.2, True, 0.3, f"Classification a has score 0.30 >= {0.1 + 0.2}"),
        # toFixed(2) as JavaScript rounds: an exact tie goes up; 0.615 is 0.61499... as a double
        ({"a": 0.125}, "a", 0.13, False, 0.125, "Classification a has score 0.13 < 0.13"),
        ({"a": 0.615}, "a", 0.7, False, 0.615, "Classification a has score 0.61 < 0.7"),
    ],
)  # fmt: skip
def test_verdict(
    scores: dict[str, float],
    expected: str | None,
    threshold: float,
    passed: bool,
    score: float,
    reason: str,
) -> None:
    result = verdict(scores, expected, threshold)
    assert (result.passed, result.score, result.reason) == (passed, score, reason)
    assert not result.grader_error


def test_no_scores_is_a_grader_error() -> None:
    result = verdict({}, None, 0.5)
    assert (result.passed, result.grader_error) == (False, True)
    assert result.reason == "No classification scores returned"


# --- the assertion -----------------------------------------------------------------------


def test_the_output_is_classified_by_the_gateway_model() -> None:
    g = FakeClassifier()
    result = check(g, "I like bananas", value="nothate", threshold=0.5)
    assert (result.passed, result.score) == (True, 0.8)
    assert result.reason == "Classification nothate has score 0.80 >= 0.5"
    assert g.calls == [(GATEWAY_ID, "I like bananas")]


def test_the_default_threshold_is_one() -> None:
    result = check(FakeClassifier(), value="nothate")
    assert (result.passed, result.reason) == (False, "Classification nothate has score 0.80 < 1")


def test_without_value_the_highest_class_counts() -> None:
    result = check(FakeClassifier({"PII": 0.9, "O": 0.1}), threshold=0.75)
    assert (result.passed, result.score) == (True, 0.9)
    assert result.reason == "Maximum classification score 0.90 >= 0.75"


def test_not_classifier_flips_pass_and_score() -> None:
    hit = check(FakeClassifier({"PII": 0.9}), type_="not-classifier", threshold=0.75)
    assert (hit.passed, round(hit.score, 6)) == (False, 0.1)
    assert hit.reason == "Maximum classification score 0.90 >= 0.75"  # promptfoo keeps it
    miss = check(FakeClassifier({"PII": 0.5}), type_="not-classifier", threshold=0.75)
    assert (miss.passed, miss.score) == (True, 0.5)


@pytest.mark.parametrize("value", [1, ["nothate"], {"a": 1}, True])
def test_a_value_that_is_not_a_string_is_a_config_error(value: Any) -> None:
    with pytest.raises(AssertionConfigError, match="must have a string value or be undefined"):
        check(FakeClassifier(), value=value)


def test_provider_choice() -> None:
    g = FakeClassifier()
    check(g, "a", options={"provider": HF})
    check(g, "b", options={"provider": {"text": "openai:gpt-4o", "classification": HF}})
    check(g, "c", provider={"id": HF, "config": {"wait_for_model": True}})
    check(g, "d", provider=HF, options={"provider": "openai:gpt-4o"})  # the assertion's wins
    assert [p for p, _ in g.calls] == [
        GATEWAY_ID,
        GATEWAY_ID,
        {"id": GATEWAY_ID, "config": {"wait_for_model": True}},
        GATEWAY_ID,
    ]


def test_token_classification_asks_for_the_token_task() -> None:
    g = FakeClassifier({"NAME": 0.9})
    pii = "huggingface:token-classification:bigcode/starpii"
    result = check(g, type_="not-classifier", threshold=0.75, provider=pii)
    assert (result.passed, result.reason) == (False, "Maximum classification score 0.90 >= 0.75")
    check(g, provider={"id": pii, "config": {"wait_for_model": True}}, threshold=0.5)
    assert [p for p, _ in g.calls] == [
        {"id": "huggingface:bigcode/starpii", "config": {"task": "token-classification"}},
        {
            "id": "huggingface:bigcode/starpii",
            "config": {"wait_for_model": True, "task": "token-classification"},
        },
    ]


@pytest.mark.parametrize(
    ("provider", "options", "message"),
    [
        (None, None, "No provider of type classification found for 'classification check'"),
        ("openai:gpt-4o-mini", None, "not a valid classification provider"),
        (None, {"provider": "huggingface:text-generation:gpt2"}, "is not a valid"),
        ("huggingface:text-classification", None, "names no model"),
        ({"text": "openai:gpt-4o"}, None, "output type 'classification'"),
    ],
)
def test_a_provider_that_cannot_classify_is_a_config_error(
    provider: Any, options: Any, message: str
) -> None:
    with pytest.raises(AssertionConfigError, match=message):
        check(FakeClassifier(), provider=provider, options=options)


def test_an_api_error_is_a_grader_error_that_not_never_flips() -> None:
    error = GatewayProviderError(
        "huggingface: API call error: Model is loading",
        status=503,
        provider="huggingface",
        body={"error": "Model is loading"},
    )
    for type_ in ("classifier", "not-classifier"):
        result = check(FakeClassifier(error=error), type_=type_, threshold=0.5)
        assert (result.passed, result.score, result.grader_error) == (False, 0.0, True)
        assert result.reason == "API call error: Model is loading"
    empty = check(FakeClassifier({}), type_="not-classifier", threshold=0.5)
    assert (empty.passed, empty.grader_error) == (False, True)
    assert empty.reason == "No classification scores returned"


def test_replay_misses_pass_through() -> None:
    with pytest.raises(NotRecordedError):
        check(FakeClassifier(error=NotRecordedError("not recorded")))


def test_a_reply_of_another_shape_reads_as_promptfoos_malformed_data() -> None:
    body = [{"generated_text": "hi"}, None]
    error = GatewayProviderError("bad shape", status=200, provider="huggingface", body=body)
    result = check(FakeClassifier(error=error), threshold=0.5)
    assert result.grader_error
    assert result.reason == "Malformed response data: [object Object],"
    down = GatewayProviderError("huggingface: 502 bad gateway", status=502, body="<html>")
    assert check(FakeClassifier(error=down)).reason == (
        "API call error: huggingface: 502 bad gateway"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        ("x", "x"),
        ([["a", 1.0], None, 0.5, True], "a,1,,0.5,true"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_js_text(value: Any, text: str) -> None:
    assert js_text(value) == text


def test_an_api_endpoint_the_gateway_does_not_proxy_is_a_skip() -> None:
    provider = {"id": HF, "config": {"apiEndpoint": "https://my-endpoint.example/classify"}}
    with pytest.raises(AssertionSkipped, match=r"apiEndpoint: 'https://my-endpoint\.example"):
        check(FakeClassifier(), provider=provider)
    g = FakeClassifier()
    hf = {"id": HF, "config": {"apiEndpoint": "https://api-inference.huggingface.co/models/m"}}
    assert check(g, provider=hf, value="nothate", threshold=0.5).passed
    assert g.calls[0][0]["id"] == GATEWAY_ID
