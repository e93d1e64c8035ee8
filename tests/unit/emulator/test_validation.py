"""Wrong requests get the provider's own error format and status, so a wrong client fails."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator

from .conftest import ANTHROPIC_HEADERS, GW, OPENAI_AUTH, chat


def _openai_error(r: httpx.Response, status: int, fragment: str) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert fragment in err["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "you must provide a model parameter"),
        ({"model": "gpt-4o"}, "Missing required parameter: 'messages'"),
        ({"model": "gpt-4o", "messages": []}, "non-empty array"),
        (
            {"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]},
            "Invalid value: 'robot'",
        ),
        ({"model": "gpt-4o", "messages": [{"role": "user"}]}, "messages[0].content"),
        (chat(temperature=3), "Invalid 'temperature'"),
        (chat(max_tokens=0), "Invalid 'max_tokens'"),
        (chat(maxTokens=5), "Unrecognized request argument supplied: maxTokens"),
        (chat(model="gpt-5.2", max_tokens=10), "Use 'max_completion_tokens' instead"),
        (chat(model="o3-mini", temperature=0.2), "Only the default (1) value is supported"),
    ],
)
def test_openai_bad_bodies(http: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    r = http.post(f"{GW}/openai/chat/completions", json=body, headers=OPENAI_AUTH)
    _openai_error(r, 400, fragment)


def test_openai_reasoning_model_with_max_completion_tokens_is_fine(http: httpx.Client) -> None:
    body = chat(model="gpt-5.2", max_completion_tokens=10)
    assert (
        http.post(f"{GW}/openai/chat/completions", json=body, headers=OPENAI_AUTH).status_code
        == 200
    )


def test_openai_not_json(http: httpx.Client) -> None:
    r = http.post(f"{GW}/openai/chat/completions", content=b"{nope", headers=OPENAI_AUTH)
    _openai_error(r, 400, "could not parse the JSON body")


def test_openai_double_v1_is_a_404(http: httpx.Client) -> None:
    r = http.post(f"{GW}/openai/v1/chat/completions", json=chat(), headers=OPENAI_AUTH)
    _openai_error(r, 404, "Invalid URL (POST /v1/v1/chat/completions)")


def test_mistral_needs_v1_prefix(http: httpx.Client) -> None:
    r = http.post(f"{GW}/mistral/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "sk-no-scheme"}]
)
def test_openai_missing_key(http: httpx.Client, headers: dict[str, str]) -> None:
    r = http.post(f"{GW}/openai/chat/completions", json=chat(), headers=headers)
    _openai_error(r, 401, "You didn't provide an API key")


def test_valid_keys_reject_other_keys(http: httpx.Client, emu: Emulator) -> None:
    emu.valid_keys = {"openai": {"sk-good"}}
    bad = http.post(f"{GW}/openai/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"
    good = http.post(
        f"{GW}/openai/chat/completions", json=chat(), headers={"Authorization": "Bearer sk-good"}
    )
    assert good.status_code == 200
    # providers without a list accept any key
    r = http.post(f"{GW}/groq/chat/completions", json=chat(), headers=OPENAI_AUTH)
    assert r.status_code == 200


def _anthropic(r: httpx.Response, status: int, etype: str, fragment: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == etype
    assert fragment in body["error"]["message"]


def test_anthropic_requires_version_header(http: httpx.Client) -> None:
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    r = http.post(f"{GW}/anthropic/v1/messages", json=body, headers={"x-api-key": "k"})
    _anthropic(r, 400, "invalid_request_error", "anthropic-version")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"model": "c", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens: Field required",
        ),
        (
            {"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            'Unexpected role "system"',
        ),
        (
            {
                "model": "c",
                "max_tokens": 5,
                "temperature": 1.5,
                "messages": [{"role": "user", "content": "x"}],
            },
            "temperature",
        ),
        (
            {"model": "c", "max_tokens": 5, "max_completion_tokens": 5, "messages": []},
            "max_completion_tokens: Extra inputs are not permitted",
        ),
    ],
)
def test_anthropic_bad_bodies(http: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    r = http.post(f"{GW}/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    _anthropic(r, 400, "invalid_request_error", fragment)


def test_anthropic_auth_errors(http: httpx.Client) -> None:
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    r = http.post(
        f"{GW}/anthropic/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01", "Authorization": "Bearer sk-ant"},
    )
    _anthropic(r, 401, "authentication_error", "x-api-key header is required")


def test_google_rejects_openai_shaped_body(http: httpx.Client) -> None:
    r = http.post(
        f"{GW}/google-ai-studio/v1beta/models/gemini-2.0-flash:generateContent",
        json=chat(),
        headers={"x-goog-api-key": "g"},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT" and 'Unknown name "model"' in err["message"]


def test_google_rejects_max_tokens_in_generation_config(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"max_tokens": 5}}
    r = http.post(
        f"{GW}/google-ai-studio/v1beta/models/g:generateContent",
        json=body,
        headers={"x-goog-api-key": "g"},
    )
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]


def test_google_missing_key_is_403_permission_denied(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    r = http.post(f"{GW}/google-ai-studio/v1beta/models/g:generateContent", json=body)
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"


def test_cohere_v2_requires_model(http: httpx.Client) -> None:
    r = http.post(
        f"{GW}/cohere/v2/chat",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": "Bearer c"},
    )
    assert r.status_code == 400 and "model must be specified" in r.json()["message"]


def test_cohere_missing_key(http: httpx.Client) -> None:
    r = http.post(f"{GW}/cohere/v2/chat", json={"model": "m", "messages": []})
    assert r.status_code == 401 and r.json()["message"] == "no api key supplied"


def test_workers_ai_errors_use_plural_errors_envelope(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer cf"}
    r = http.post(f"{GW}/workers-ai/@cf/meta/llama-3.1-8b-instruct", json={"foo": 1}, headers=auth)
    assert r.status_code == 400
    body = r.json()
    assert body["success"] is False and body["errors"][0]["code"] == 5006
    r = http.post(f"{GW}/workers-ai/@cf/meta/llama-3.1-8b-instruct", json={"prompt": "x"})
    assert r.status_code == 401 and r.json()["errors"][0] == {
        "code": 10000,
        "message": "Authentication error",
    }
    r = http.post(f"{GW}/workers-ai/run/@cf/meta/llama", json={"prompt": "x"}, headers=auth)
    assert r.status_code == 400 and "No such model" in r.json()["errors"][0]["message"]


def test_huggingface_rejects_openai_names(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer hf"}
    r = http.post(
        f"{GW}/huggingface/gpt2",
        json={"inputs": "x", "parameters": {"max_tokens": 3}},
        headers=auth,
    )
    assert r.status_code == 400 and "use max_new_tokens" in r.json()["error"]
    r = http.post(f"{GW}/huggingface/gpt2", json=chat(), headers=auth)
    assert r.status_code == 400 and "inputs" in r.json()["error"]


def test_replicate_validation(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer r8"}
    r = http.post(f"{GW}/replicate/predictions", json={"input": {"prompt": "x"}}, headers=auth)
    assert r.status_code == 422 and "version" in r.json()["detail"]
    r = http.post(f"{GW}/replicate/predictions", json={"version": "v", "input": {}}, headers=auth)
    assert r.status_code == 422 and r.json()["title"] == "Input validation failed"
    r = http.post(f"{GW}/replicate/predictions", json={"version": "v", "input": {"prompt": "x"}})
    assert r.status_code == 401 and r.json()["title"] == "Unauthenticated"


def test_azure_requires_api_version_and_api_key(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "x"}]}
    r = http.post(
        f"{GW}/azure-openai/res/dep/chat/completions", json=body, headers={"api-key": "k"}
    )
    assert r.status_code == 404 and "api-version" in r.json()["error"]["message"]
    r = http.post(
        f"{GW}/azure-openai/res/dep/chat/completions?api-version=2024-12-01-preview", json=body
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "401"
