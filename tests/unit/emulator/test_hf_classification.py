"""The emulator's Hugging Face text classification: a request whose ``parameters`` hold no
text-generation parameter is classified by ``class:<label>`` markers."""

from __future__ import annotations

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator
from pytest_cfgateway.emulator.wire_hf_classify import classify, is_classification

from .conftest import GW

AUTH = {"Authorization": "Bearer hf_x"}
URL = f"{GW}/huggingface/facebook/roberta-hate-speech-dynabench-r4-target"


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("a calm reply", [("neutral", 0.9), ("other", 0.1)]),
        ("class:nothate here", [("nothate", 0.9), ("other", 0.1)]),
        ("class:hate and class:PII class:hate", [("hate", 0.9), ("PII", 0.9), ("other", 0.1)]),
        ("class:other", [("other", 0.9)]),
        ("class: nothing", [("neutral", 0.9), ("other", 0.1)]),
    ],
)
def test_markers(text: str, rows: list[tuple[str, float]]) -> None:
    assert [(r["label"], r["score"]) for r in classify(text)] == rows


@pytest.mark.parametrize(
    ("params", "yes"),
    [
        ({}, True),
        ({"top_k": 2}, True),
        ({"function_to_apply": "softmax"}, True),
        (None, False),
        ({"return_full_text": False}, False),
        ({"max_new_tokens": 5}, False),
        ("x", False),
    ],
)
def test_which_requests_are_classification(params: object, yes: bool) -> None:
    assert is_classification(params) is yes


def test_promptfoos_request_gets_one_row_of_labels(http: httpx.Client, emu: Emulator) -> None:
    body = {"inputs": "I like bananas class:nothate", "parameters": {}}
    r = http.post(URL, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == [[{"label": "nothate", "score": 0.9}, {"label": "other", "score": 0.1}]]
    top = http.post(URL, json={**body, "parameters": {"top_k": 1}}, headers=AUTH).json()
    assert top == [[{"label": "nothate", "score": 0.9}]]
    bad = http.post(URL, json={**body, "parameters": {"top_k": 0}}, headers=AUTH)
    assert bad.status_code == 400 and "top_k" in bad.json()["error"]


def test_text_generation_is_unchanged(http: httpx.Client) -> None:
    body = {"inputs": "ab class:x", "parameters": {"return_full_text": False}}
    assert http.post(URL, json=body, headers=AUTH).json() == [{"generated_text": "ab class:x"}]


def test_a_reply_rule_answers_instead(http: httpx.Client, emu: Emulator) -> None:
    emu.rules = [
        {"match": "broken", "reply": {"error": "Model is loading"}},
        {"match": "down", "status": 503},
    ]
    body = {"inputs": "broken", "parameters": {}}
    assert http.post(URL, json=body, headers=AUTH).json() == {"error": "Model is loading"}
    down = http.post(URL, json={"inputs": "down", "parameters": {}}, headers=AUTH)
    assert down.status_code == 503


def test_token_classification_gives_one_entity_per_marker(http: httpx.Client) -> None:
    url = f"{GW}/huggingface/bigcode/starpii"
    body = {
        "inputs": "I am class:NAME at class:EMAIL",
        "parameters": {"aggregation_strategy": "simple"},
        "options": {"use_cache": True, "wait_for_model": False},
    }
    r = http.post(url, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"entity_group": "NAME", "score": 0.9, "word": "class:NAME", "start": 5, "end": 15},
        {"entity_group": "EMAIL", "score": 0.9, "word": "class:EMAIL", "start": 19, "end": 30},
    ]
    plain = http.post(url, json={**body, "inputs": "no entities here"}, headers=AUTH)
    assert plain.json() == []
