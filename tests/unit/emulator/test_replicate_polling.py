"""Replicate predictions that are not finished at once: the client must poll."""

from __future__ import annotations

import httpx

from pytest_cfgateway.emulator import Emulator

from .conftest import GW

AUTH = {"Authorization": "Bearer r8_x"}
BODY = {"version": "meta/llama-3-8b", "input": {"prompt": "poll me"}}


def test_without_prefer_wait_the_prediction_starts_and_polls_to_success(
    http: httpx.Client, emu: Emulator
) -> None:
    created = http.post(f"{GW}/replicate/predictions", json=BODY, headers=AUTH)
    assert created.status_code == 201
    pred = created.json()
    assert pred["status"] == "starting" and pred["output"] is None
    assert pred["urls"]["get"].endswith(f"/v1/predictions/{pred['id']}")
    first = http.get(f"{GW}/replicate/predictions/{pred['id']}", headers=AUTH).json()
    assert first["status"] == "processing"
    second = http.get(f"{GW}/replicate/predictions/{pred['id']}", headers=AUTH).json()
    assert second["status"] == "succeeded" and "".join(second["output"]) == "poll me"
    assert [r.method for r in emu.requests] == ["POST", "GET", "GET"]


def test_prefer_wait_unfinished_knob(http: httpx.Client, emu: Emulator) -> None:
    emu.replicate_wait_finishes = False
    emu.replicate_polls = 1
    pred = http.post(
        f"{GW}/replicate/predictions", json=BODY, headers={**AUTH, "Prefer": "wait"}
    ).json()
    assert pred["status"] == "processing"
    done = http.get(f"{GW}/replicate/predictions/{pred['id']}", headers=AUTH).json()
    assert done["status"] == "succeeded"


def test_official_model_route_cancel_and_unknown_id(http: httpx.Client) -> None:
    pred = http.post(
        f"{GW}/replicate/models/meta/meta-llama-3-8b-instruct/predictions",
        json={"input": {"prompt": "x"}},
        headers=AUTH,
    ).json()
    assert pred["model"] == "meta/meta-llama-3-8b-instruct"
    r = http.post(f"{GW}/replicate/predictions/{pred['id']}/cancel", headers=AUTH)
    assert r.json()["status"] == "canceled"
    r = http.get(f"{GW}/replicate/predictions/doesnotexist", headers=AUTH)
    assert r.status_code == 404 and r.json()["status"] == 404


def test_polls_are_not_cached(http: httpx.Client, emu: Emulator) -> None:
    emu.cache_ttl = 300
    pred = http.post(f"{GW}/replicate/predictions", json=BODY, headers=AUTH).json()
    again = http.post(f"{GW}/replicate/predictions", json=BODY, headers=AUTH)
    assert again.headers["cf-aig-cache-status"] == "MISS" and again.json()["id"] != pred["id"]
