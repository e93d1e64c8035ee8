"""Text-classification calls on the gateway client: the huggingface route with promptfoo's
body ``{inputs, parameters: {}}`` and its reading of the reply (one row of labels)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import GatewayConfigError, GatewayProviderError
from pytest_cfgateway.gateway.types import Classification, RawResponse

KEY = "fake.hf.PLANTED.1111111111"
MODEL = "facebook/roberta-hate-speech-dynabench-r4-target"


def gw() -> Gateway:
    return Gateway("acct", "gw", env={"HF_API_TOKEN": KEY, "OPENAI_API_KEY": KEY})


def test_prepare_builds_promptfoos_request() -> None:
    req = gw().prepare(
        f"huggingface:{MODEL}", "some output", kind="classify", repeat=1, wait_for_model=True
    )
    assert (req.provider, req.path, req.kind, req.model, req.repeat) == (
        "huggingface",
        MODEL,
        "classify",
        MODEL,
        1,
    )
    assert req.body == {"inputs": "some output", "parameters": {}}  # options are not sent
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(gw().fingerprint(req))


@pytest.mark.parametrize(
    "body",
    [
        [[{"label": "hate", "score": 0.2}, {"label": "nothate", "score": 0.8}]],
        [{"label": "hate", "score": 0.2}, {"label": "nothate", "score": 0.8}],
    ],
)
def test_finish_reads_the_labels(body: Any) -> None:
    g = gw()
    req = g.prepare(f"huggingface:{MODEL}", "x", kind="classify")
    done = g.finish(req, RawResponse(status=200, headers={"cf-aig-log-id": "L1"}, body=body))
    assert isinstance(done, Classification)
    assert done.scores == {"hate": 0.2, "nothate": 0.8}
    assert done.text == "nothate=0.8, hate=0.2"
    assert (done.provider, done.model, done.log_id) == ("huggingface", MODEL, "L1")


@pytest.mark.parametrize(
    "body",
    [
        [],
        [[]],
        {"label": "x", "score": 1},
        [[{"label": "x"}]],
        [[{"label": "x", "score": "0.5"}]],
        [[{"label": 1, "score": 0.5}]],
        [[{"label": "x", "score": 0.5}], [{"label": "y", "score": 0.5}]],  # two rows
        [{"generated_text": "hi"}],
        "text",
    ],
)
def test_a_reply_of_another_shape_is_a_provider_error(body: Any) -> None:
    g = gw()
    req = g.prepare(f"huggingface:{MODEL}", "x", kind="classify")
    with pytest.raises(GatewayProviderError, match="unexpected reply shape"):
        g.finish(req, RawResponse(status=200, headers={}, body=body))


def test_an_error_reply_is_a_provider_error() -> None:
    g = gw()
    req = g.prepare(f"huggingface:{MODEL}", "x", kind="classify")
    with pytest.raises(GatewayProviderError, match="API call error: Model is loading") as exc:
        g.finish(req, RawResponse(status=200, headers={}, body={"error": "Model is loading"}))
    assert exc.value.body == {"error": "Model is loading"}


def test_other_providers_have_no_classification_route() -> None:
    with pytest.raises(GatewayConfigError, match="no text-classification route"):
        gw().prepare("openai:gpt-4o-mini", "x", kind="classify")
    with pytest.raises(GatewayConfigError, match="classify\\(\\) takes a string"):
        gw().prepare(f"huggingface:{MODEL}", ["a", "b"], kind="classify")
    with pytest.raises(GatewayConfigError, match="echo provider has no classify"):
        gw().prepare("echo", "x", kind="classify")


def test_token_classification_sends_promptfoos_options_and_reads_entity_groups() -> None:
    g = gw()
    req = g.prepare(
        "huggingface:bigcode/starpii",
        "I am Jo",
        kind="classify",
        task="token-classification",
        wait_for_model=True,
    )
    assert req.path == "bigcode/starpii"
    assert req.body == {
        "inputs": "I am Jo",
        "parameters": {"aggregation_strategy": "simple"},
        "options": {"use_cache": True, "wait_for_model": True},
    }
    body = [
        {"entity_group": "NAME", "score": 0.7, "word": "Jo", "start": 5, "end": 7},
        {"entity_group": "NAME", "score": 0.9, "word": "Al", "start": 9, "end": 11},
        {"entity_group": "EMAIL", "score": 0.4, "word": "a@b", "start": 12, "end": 15},
    ]
    done = g.finish(req, RawResponse(200, {}, body))
    assert isinstance(done, Classification) and done.scores == {"NAME": 0.9, "EMAIL": 0.4}
    empty = g.finish(req, RawResponse(200, {}, []))
    assert isinstance(empty, Classification) and empty.scores == {} and empty.text == "no labels"
    with pytest.raises(GatewayProviderError, match="unexpected reply shape"):
        g.finish(req, RawResponse(200, {}, [[{"label": "x", "score": 1}]]))
    custom = g.prepare(
        "huggingface:m",
        "x",
        kind="classify",
        task="token-classification",
        aggregation_strategy="max",
        use_cache=False,
    )
    assert custom.body["parameters"] == {"aggregation_strategy": "max"}
    assert custom.body["options"] == {"use_cache": False, "wait_for_model": False}
