"""Moderation calls on the gateway client: OpenAI's ``moderations`` route, promptfoo's
request body and its reading of the reply (flags of flagged results, highest score)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import GatewayConfigError, GatewayProviderError
from pytest_cfgateway.gateway.types import Moderation, RawResponse

KEY = "fake.openai.PLANTED.1111111111"


def gw() -> Gateway:
    return Gateway("acct", "gw", env={"OPENAI_API_KEY": KEY, "GROQ_API_KEY": KEY})


def result(flagged: bool, **scores: float) -> dict[str, Any]:
    cats = {c.replace("_", "/"): v >= 0.5 for c, v in scores.items()}
    return {
        "flagged": flagged,
        "categories": cats,
        "category_scores": {c.replace("_", "/"): v for c, v in scores.items()},
    }


@pytest.mark.parametrize(
    ("model", "input_"),
    [
        ("omni-moderation-latest", [{"type": "text", "text": "some output"}]),
        ("omni-moderation-2024-09-26", [{"type": "text", "text": "some output"}]),
        ("text-moderation-latest", "some output"),
    ],
)
def test_prepare_builds_promptfoos_request(model: str, input_: Any) -> None:
    req = gw().prepare(f"openai:{model}", "some output", kind="moderation", repeat=1)
    assert (req.provider, req.path, req.kind, req.model, req.repeat) == (
        "openai",
        "moderations",
        "moderation",
        model,
        1,
    )
    assert req.body == {"model": model, "input": input_}
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert KEY in req.secrets.values()
    assert KEY not in str(gw().fingerprint(req))


def test_finish_reads_flags_of_flagged_results_only() -> None:
    g = gw()
    req = g.prepare("openai:omni-moderation-latest", "x", kind="moderation")
    body = {
        "id": "modr-1",
        "model": "omni-moderation-latest",
        "results": [
            result(True, violence=0.7, hate=0.1),
            result(False, harassment=0.9),  # not flagged: promptfoo ignores it
            result(True, violence=0.95, self_harm=0.6),
        ],
    }
    done = g.finish(req, RawResponse(status=200, headers={"cf-aig-log-id": "L1"}, body=body))
    assert isinstance(done, Moderation)
    assert done.flags == {"violence": 0.95, "self/harm": 0.6}
    assert done.flagged and done.text == "flagged: self/harm, violence"
    assert done.log_id == "L1" and done.model == "omni-moderation-latest"
    assert done.cost == 0.0  # OpenAI does not charge for moderation
    clean = g.finish(req, RawResponse(200, {}, {"results": [result(False, hate=0.1)]}))
    assert isinstance(clean, Moderation) and clean.text == "not flagged" and not clean.flagged


@pytest.mark.parametrize("body", [{"nope": 1}, {"results": [{"flagged": True}]}, "text"])
def test_a_reply_of_another_shape_is_a_provider_error(body: Any) -> None:
    g = gw()
    req = g.prepare("openai:omni-moderation-latest", "x", kind="moderation")
    with pytest.raises(GatewayProviderError, match="unexpected reply shape"):
        g.finish(req, RawResponse(status=200, headers={}, body=body))


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("groq:llama-3.1-8b-instant", "no moderation route"),
        ("anthropic:claude-sonnet-4-5", "no moderation route"),
        ("echo", "the echo provider has no moderation"),
    ],
)
def test_providers_without_a_moderation_route_are_refused(provider: str, message: str) -> None:
    with pytest.raises(GatewayConfigError, match=message):
        gw().prepare(provider, "x", kind="moderation")


def test_moderation_takes_text_and_never_streams() -> None:
    with pytest.raises(GatewayConfigError, match="takes a string"):
        gw().prepare("openai:omni-moderation-latest", ["a", "b"], kind="moderation")  # type: ignore[arg-type]
    with pytest.raises(GatewayConfigError, match="does not apply to moderation"):
        gw().prepare("openai:omni-moderation-latest", "x", kind="moderation", stream=True)
