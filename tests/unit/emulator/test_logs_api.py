"""The emulated v4 Logs API: auth, PATCH of feedback/score/metadata, read-back, faults."""

from __future__ import annotations

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator

from .conftest import GW, OPENAI_AUTH, chat

BASE = "/client/v4/accounts/acct/ai-gateway/gateways/gw/logs"
API = {"Authorization": "Bearer cf-api-token-123"}


def _logged(http: httpx.Client, **headers: str) -> str:
    r = http.post(f"{GW}/openai/chat/completions", json=chat(), headers={**OPENAI_AUTH, **headers})
    assert r.status_code == 200
    return r.headers["cf-aig-log-id"]


def test_patch_then_get_reads_back_every_field(http: httpx.Client, emu: Emulator) -> None:
    log_id = _logged(http)
    body = {"feedback": -1, "score": 37.5, "metadata": {"test": "t::a", "n": 3, "ok": False}}
    r = http.patch(f"{BASE}/{log_id}", json=body, headers=API)
    assert r.status_code == 200 and r.json() == {
        "result": {},
        "success": True,
        "errors": [],
        "messages": [],
    }
    entry = http.get(f"{BASE}/{log_id}", headers=API).json()["result"]
    assert (entry["feedback"], entry["score"], entry["metadata"]) == (-1, 37.5, body["metadata"])
    listed = http.get(BASE, headers=API).json()["result"]
    assert [(e["id"], e["feedback"], e["score"]) for e in listed] == [(log_id, -1, 37.5)]
    # PATCH changes only the fields it names
    http.patch(f"{BASE}/{log_id}", json={"score": 90}, headers=API)
    entry = http.get(f"{BASE}/{log_id}", headers=API).json()["result"]
    assert (entry["feedback"], entry["score"]) == (-1, 90)


def test_auth_is_required_and_checked(http: httpx.Client, emu: Emulator) -> None:
    log_id = _logged(http)
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        r = http.patch(f"{BASE}/{log_id}", json={"feedback": 1}, headers=headers)
        assert r.status_code == 401
        assert r.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]
    emu.logs_api.token = "the-right-token"
    wrong = http.get(f"{BASE}/{log_id}", headers=API)
    assert wrong.status_code == 401
    right = http.get(f"{BASE}/{log_id}", headers={"Authorization": "Bearer the-right-token"})
    assert right.status_code == 200
    assert emu.requests[-1].feedback is None  # nothing was written by the refused calls


@pytest.mark.parametrize(
    "body",
    [
        {"feedback": 2},
        {"feedback": "yes"},
        {"score": 101},
        {"score": -1},
        {"metadata": {"nested": {"a": 1}}},
        {"metadata": "text"},
        [1, 2],
    ],
)
def test_bad_bodies_are_400(http: httpx.Client, body: object) -> None:
    log_id = _logged(http)
    r = http.patch(f"{BASE}/{log_id}", json=body, headers=API)
    assert r.status_code == 400 and r.json()["success"] is False


def test_metadata_keeps_five_entries(http: httpx.Client) -> None:
    log_id = _logged(http)
    meta = {f"k{i}": i for i in range(7)}
    http.patch(f"{BASE}/{log_id}", json={"metadata": meta}, headers=API)
    entry = http.get(f"{BASE}/{log_id}", headers=API).json()["result"]
    assert entry["metadata"] == {f"k{i}": i for i in range(5)}


def test_injected_faults_then_normal_service(http: httpx.Client, emu: Emulator) -> None:
    log_id = _logged(http)
    emu.logs_api.fail_next = [429, 500]
    emu.logs_api.retry_after = 2
    first = http.patch(f"{BASE}/{log_id}", json={"feedback": 1}, headers=API)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert http.patch(f"{BASE}/{log_id}", json={"feedback": 1}, headers=API).status_code == 500
    assert http.patch(f"{BASE}/{log_id}", json={"feedback": 1}, headers=API).status_code == 200
    emu.logs_api.fail_status = 503
    assert http.get(f"{BASE}/{log_id}", headers=API).status_code == 503
    assert [c.status for c in emu.logs_api.calls] == [429, 500, 200, 503]
    assert all("token" not in repr(c) for c in emu.logs_api.calls)


def test_uncollected_logs_are_not_served(http: httpx.Client) -> None:
    log_id = _logged(http, **{"cf-aig-collect-log": "false"})
    # (the emulator is shared by the directory: a slow request of an earlier test may still
    # land after the reset, so look for this entry rather than for an empty list)
    listed = http.get(BASE, headers=API).json()["result"]
    assert log_id not in [e["id"] for e in listed]
    assert http.patch(f"{BASE}/{log_id}", json={"feedback": 1}, headers=API).status_code == 404


def test_reset_clears_token_and_faults(emu: Emulator) -> None:
    emu.logs_api.token, emu.logs_api.fail_status = "t", 500
    emu.reset()
    assert emu.logs_api.token is None and emu.logs_api.fail_status is None
