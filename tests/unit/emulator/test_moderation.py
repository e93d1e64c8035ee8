"""The emulator's OpenAI ``moderations`` route: deterministic ``flag:<category>`` markers."""

from __future__ import annotations

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator
from pytest_cfgateway.emulator.wire_moderation import CATEGORIES, flagged_categories

from .conftest import GW, OPENAI_AUTH

URL = f"{GW}/openai/moderations"


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("a calm and kind reply", []),
        ("flag:violence", ["violence"]),
        ("FLAG:Hate, then flag:harassment.", ["harassment", "hate"]),
        ("flag:self-harm/intent only", ["self-harm/intent"]),
        ("flag:self-harm and flag:self-harm/intent", ["self-harm", "self-harm/intent"]),
        ("flag:nonsense flag:", []),
        ("violence and hate without markers", []),
    ],
)
def test_markers(text: str, flags: list[str]) -> None:
    assert flagged_categories(text) == flags


def test_omni_content_parts_give_one_result(http: httpx.Client, emu: Emulator) -> None:
    body = {
        "model": "omni-moderation-latest",
        "input": [{"type": "text", "text": "You are awful flag:harassment"}],
    }
    r = http.post(URL, json=body, headers=OPENAI_AUTH)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["model"] == "omni-moderation-latest" and reply["id"].startswith("modr-")
    (result,) = reply["results"]
    assert result["flagged"] is True
    assert [c for c, hit in result["categories"].items() if hit] == ["harassment"]
    assert list(result["categories"]) == list(CATEGORIES)
    scores = result["category_scores"]
    assert scores["harassment"] == 0.9
    assert all(0 <= v < 0.01 for c, v in scores.items() if c != "harassment")
    again = http.post(URL, json=body, headers=OPENAI_AUTH).json()["results"][0]
    assert again["category_scores"] == scores  # same text, same scores
    rec = emu.requests[-1]
    assert (rec.provider, rec.route, rec.status) == ("openai", "moderations", 200)


def test_strings_give_one_result_each(http: httpx.Client) -> None:
    body = {"model": "text-moderation-latest", "input": ["fine", "flag:violence"]}
    results = http.post(URL, json=body, headers=OPENAI_AUTH).json()["results"]
    assert [r["flagged"] for r in results] == [False, True]
    one = http.post(URL, json={"input": "flag:sexual"}, headers=OPENAI_AUTH).json()
    assert one["model"] == "omni-moderation-latest" and one["results"][0]["categories"]["sexual"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "gpt-4o", "input": "x"}, "is not a moderation model"),
        ({"model": "omni-moderation-latest", "input": []}, "'$.input' is invalid"),
        ({"model": "omni-moderation-latest", "input": 5}, "'$.input' is invalid"),
        (
            {"model": "text-moderation-latest", "input": [{"type": "text", "text": "x"}]},
            "does not support multi-modal inputs",
        ),
        ({"model": "omni-moderation-latest", "input": [{"type": "audio"}]}, "input[0]"),
    ],
)
def test_bad_requests_are_openai_400s(http: httpx.Client, body: dict, message: str) -> None:
    r = http.post(URL, json=body, headers=OPENAI_AUTH)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


def test_needs_a_key_like_every_openai_route(http: httpx.Client) -> None:
    r = http.post(URL, json={"input": "x"})
    assert r.status_code == 401


def test_other_openai_compatible_providers_have_no_moderations(http: httpx.Client) -> None:
    r = http.post(f"{GW}/groq/moderations", json={"input": "x"}, headers=OPENAI_AUTH)
    assert r.status_code == 404
