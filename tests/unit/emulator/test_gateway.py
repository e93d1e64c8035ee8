"""Gateway behaviour: error envelopes, auth, BYOK, headers, metadata, logs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator

from .conftest import GW, OPENAI_AUTH, chat

URL = f"{GW}/openai/chat/completions"


def assert_envelope(r: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is False
    assert body["name"] == "AiGatewayError"
    assert body["httpCode"] == status and body["internalCode"] == code
    assert body["error"][0]["code"] == code and body["error"][0]["message"]
    assert "errors" not in body  # singular "error", unlike the v4 API
    return body


def test_every_answer_carries_the_cf_aig_headers(http: httpx.Client, emu: Emulator) -> None:
    r = http.post(URL, json=chat(), headers=OPENAI_AUTH)
    h = r.headers
    assert h["cf-aig-cache-status"] == "MISS" and h["cf-aig-step"] == "0"
    assert h["cf-aig-log-id"] == h["cf-aig-request-id"] == h["cf-aig-event-id"]
    assert h["cf-aig-log-id"] == emu.requests[-1].log_id
    err = http.post(f"{GW}/nope/x", json={})
    assert {"cf-aig-log-id", "cf-aig-step", "cf-aig-cache-status"} <= set(err.headers)


def test_client_event_id_is_echoed(http: httpx.Client) -> None:
    r = http.post(URL, json=chat(), headers={**OPENAI_AUTH, "cf-aig-event-id": "evt-1"})
    assert r.headers["cf-aig-event-id"] == "evt-1"
    assert r.headers["cf-aig-log-id"] != "evt-1"


def test_any_gateway_accepted_by_default(http: httpx.Client) -> None:
    r = http.post("/v1/other-acct/any-gw/openai/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert r.status_code == 200


def test_unknown_gateway_2001_when_gateways_are_listed(http: httpx.Client, emu: Emulator) -> None:
    emu.gateways = {"acct/gw"}
    assert http.post(URL, json=chat(), headers=OPENAI_AUTH).status_code == 200
    r = http.post("/v1/acct/typo/openai/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert_envelope(r, 400, 2001)
    assert emu.requests[-1].gateway_code == 2001


def test_default_gateway_is_auto_created_on_authenticated_call(
    http: httpx.Client, emu: Emulator
) -> None:
    emu.gateways = {"acct/gw"}
    emu.token = "tok-123456"
    path = "/v1/acct/default/openai/chat/completions"
    assert_envelope(http.post(path, json=chat(), headers=OPENAI_AUTH), 400, 2001)
    auth = {**OPENAI_AUTH, "cf-aig-authorization": "Bearer tok-123456"}
    assert http.post(path, json=chat(), headers=auth).status_code == 200
    assert "acct/default" in (emu.gateways or set())


@pytest.mark.parametrize("value", [None, "Bearer wrong", "tok-123456", "Basic tok-123456"])
def test_authenticated_gateway_2009(http: httpx.Client, emu: Emulator, value: str | None) -> None:
    emu.token = "tok-123456"
    headers = dict(OPENAI_AUTH)
    if value is not None:
        headers["cf-aig-authorization"] = value
    assert_envelope(http.post(URL, json=chat(), headers=headers), 401, 2009)


def test_authenticated_gateway_accepts_the_token(http: httpx.Client, emu: Emulator) -> None:
    emu.token = "tok-123456"
    headers = {**OPENAI_AUTH, "cf-aig-authorization": "Bearer tok-123456"}
    assert http.post(URL, json=chat(), headers=headers).status_code == 200


def test_unknown_provider_2008(http: httpx.Client) -> None:
    body = assert_envelope(http.post(f"{GW}/openia/chat/completions", json=chat()), 400, 2008)
    assert "openai" in body["error"][0]["message"]  # names the supported slugs
    body = assert_envelope(http.post(f"{GW}/aws-bedrock/model/x/invoke", json={}), 400, 2008)
    assert "does not implement" in body["error"][0]["message"]


def test_byok_uses_stored_key_without_provider_header(http: httpx.Client, emu: Emulator) -> None:
    emu.token = "tok-123456"
    emu.byok = {"openai": "sk-stored", "anthropic": {"default": "a1", "prod": "a2"}}
    emu.valid_keys = {"openai": "sk-stored"}
    gw_auth = {"cf-aig-authorization": "Bearer tok-123456"}
    r = http.post(URL, json=chat(), headers=gw_auth)
    assert r.status_code == 200, r.text
    assert emu.requests[-1].byok_alias == "default"
    assert "authorization" not in emu.requests[-1].headers  # the client sent none
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    r = http.post(
        f"{GW}/anthropic/v1/messages",
        json=body,
        headers={**gw_auth, "anthropic-version": "2023-06-01", "cf-aig-byok-alias": "prod"},
    )
    assert r.status_code == 200, r.text
    assert emu.requests[-1].byok_alias == "prod"


def test_byok_unknown_alias_2040(http: httpx.Client, emu: Emulator) -> None:
    emu.token = "tok-123456"
    emu.byok = {"openai": {"default": "k", "ci": "k2"}}
    headers = {"cf-aig-authorization": "Bearer tok-123456", "cf-aig-byok-alias": "prod"}
    body = assert_envelope(http.post(URL, json=chat(), headers=headers), 400, 2040)
    msg = body["error"][0]["message"]
    assert "no BYOK credential named 'prod'" in msg and "ci, default" in msg


def test_byok_needs_an_authenticated_request(http: httpx.Client, emu: Emulator) -> None:
    emu.byok = {"openai": "sk-stored"}
    r = http.post(URL, json=chat())  # no provider key and no gateway auth
    assert r.status_code == 401 and "You didn't provide an API key" in r.json()["error"]["message"]


def test_request_key_wins_over_byok(http: httpx.Client, emu: Emulator) -> None:
    emu.token = "tok-123456"
    emu.byok = {"openai": "sk-stored"}
    emu.valid_keys = {"openai": "sk-stored"}
    headers = {"cf-aig-authorization": "Bearer tok-123456", "Authorization": "Bearer unused"}
    r = http.post(URL, json=chat(), headers=headers)
    assert r.status_code == 401  # a placeholder key is forwarded and rejected, as upstream would


def test_metadata_and_custom_cost_are_recorded(http: httpx.Client, emu: Emulator) -> None:
    headers = {
        **OPENAI_AUTH,
        "cf-aig-metadata": json.dumps({"a": 1, "b": "x", "c": True, "d": 1.5, "e": "e", "f": 6}),
        "cf-aig-custom-cost": json.dumps({"per_token_in": 0.5, "per_token_out": 1}),
    }
    http.post(URL, json=chat("two words"), headers=headers)
    rec = emu.requests[-1]
    assert rec.metadata == {"a": 1, "b": "x", "c": True, "d": 1.5, "e": "e"}
    assert any("more than 5" in w for w in rec.warnings)
    assert rec.custom_cost == {"per_token_in": 0.5, "per_token_out": 1}
    assert rec.cost == 2 * 0.5 + 2 * 1


def test_metadata_with_object_value_is_dropped(http: httpx.Client, emu: Emulator) -> None:
    headers = {**OPENAI_AUTH, "cf-aig-metadata": json.dumps({"a": {"nested": 1}})}
    http.post(URL, json=chat(), headers=headers)
    assert emu.requests[-1].metadata is None
    assert "dropped" in emu.requests[-1].warnings[0]


def test_request_log_masks_credentials_in_repr(http: httpx.Client, emu: Emulator) -> None:
    http.post(URL, json=chat(), headers={"Authorization": "Bearer sk-secret-value"})
    rec = emu.requests[-1]
    assert rec.headers["authorization"] == "Bearer sk-secret-value"
    assert "sk-secret-value" not in repr(rec) + repr(rec.headers)
    served = http.get("/_emulator/requests").json()
    assert "sk-secret-value" not in json.dumps(served)
    assert served[-1]["headers"]["authorization"] == "Bearer <redacted>"


def test_admin_health_and_clear(http: httpx.Client, emu: Emulator) -> None:
    assert http.get("/_emulator/health").json() == {"ok": True}
    http.post(URL, json=chat(), headers=OPENAI_AUTH)
    assert http.post("/_emulator/clear").status_code == 200
    assert emu.requests == []
    assert http.get("/nowhere").status_code == 404


def test_logs_api_and_feedback(http: httpx.Client, emu: Emulator) -> None:
    r = http.post(URL, json=chat(), headers={**OPENAI_AUTH, "cf-aig-metadata": '{"team": "ai"}'})
    log_id = r.headers["cf-aig-log-id"]
    base = "/client/v4/accounts/acct/ai-gateway/gateways/gw/logs"
    api = {"Authorization": "Bearer cf-api-token"}
    logs = http.get(base, headers=api).json()
    assert logs["success"] is True and logs["result_info"]["count"] == 1
    row = logs["result"][0]
    assert (row["id"], row["provider"], row["model"], row["metadata"]) == (
        log_id,
        "openai",
        "gpt-4o-mini",
        {"team": "ai"},
    )
    patched = http.patch(f"{base}/{log_id}", json={"feedback": 1}, headers=api)
    assert patched.json()["success"] is True
    assert emu.requests[-1].feedback == 1
    assert http.patch(f"{base}/nope", json={"feedback": 1}, headers=api).status_code == 404


def test_universal_get_is_rejected(http: httpx.Client) -> None:
    assert_envelope(http.get(GW), 400, 2019)
