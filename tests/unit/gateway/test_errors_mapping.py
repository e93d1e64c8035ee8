"""error_from_response: gateway envelopes and provider error bodies -> the GatewayError tree."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest

from pytest_cfgateway.gateway.errors import (
    GatewayAuthError,
    GatewayConfigError,
    GatewayError,
    GatewayProviderError,
    GatewayRateLimitError,
    GatewayTimeoutError,
    error_from_response,
    parse_retry_after,
)
from pytest_cfgateway.gateway.redact import Secrets

FAKE_KEY = "sk-fake-abcdefghijklmnop"


def envelope(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "success": False,
        "result": [],
        "messages": [],
        "error": [{"code": code, "message": message}],
        "name": "AiGatewayError",
        "httpCode": status,
        "internalCode": code,
    }


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "fragments"),
    [
        (
            401,
            envelope(2009, "Unauthorized", 401),
            GatewayAuthError,
            2009,
            ["gateway is authenticated", "CF_AIG_TOKEN", "not the provider API key"],
        ),
        (429, envelope(2003, "Rate limited", 429), GatewayRateLimitError, 2003, ["rate limit"]),
        (
            429,
            envelope(2045, "Spend limit exceeded: rule 'r1'", 429),
            GatewayRateLimitError,
            2045,
            ["spend limit"],
        ),
        (429, envelope(2041, "Spend limit exceeded", 429), GatewayRateLimitError, 2041, ["spend"]),
        (
            400,
            envelope(2001, "Please configure AI Gateway in the Cloudflare dashboard", 400),
            GatewayConfigError,
            2001,
            ["gateway does not exist", "gateway id", "dashboard"],
        ),
        (400, envelope(2008, "Invalid provider", 400), GatewayConfigError, 2008, ["provider"]),
        (
            400,
            envelope(2040, "Provider 'openai' has no BYOK credential named 'x'", 400),
            GatewayConfigError,
            2040,
            ["byokAlias"],
        ),
        (
            400,
            envelope(2019, "Chat completion bad format", 400),
            GatewayConfigError,
            2019,
            ["openai/gpt-4o-mini"],
        ),
        (424, envelope(2016, "Prompt blocked", 424), GatewayProviderError, 2016, ["2016"]),
        (
            401,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
            GatewayAuthError,
            None,
            ["Incorrect API key", "OPENAI_API_KEY", "gateway token itself was accepted"],
        ),
        (
            401,
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
            GatewayAuthError,
            None,
            ["invalid x-api-key", "authentication_error"],
        ),
        (
            400,
            {"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}},
            GatewayProviderError,
            None,
            ["API key not valid", "INVALID_ARGUMENT"],
        ),
        (
            401,
            {
                "result": None,
                "success": False,
                "errors": [{"code": 10000, "message": "Authentication error"}],
            },
            GatewayAuthError,
            None,
            ["Authentication error", "10000"],
        ),
        (
            429,
            {"error": {"message": "Rate limit reached", "type": "requests"}},
            GatewayRateLimitError,
            None,
            ["rate-limited"],
        ),
        (500, "upstream exploded", GatewayProviderError, None, ["upstream exploded", "500"]),
        (504, "", GatewayTimeoutError, None, ["504"]),
        (
            400,
            {
                "error": {
                    "message": "Unsupported parameter: 'max_tokens'",
                    "type": "invalid_request_error",
                }
            },
            GatewayProviderError,
            None,
            ["max_tokens"],
        ),
    ],
)
def test_error_mapping(
    status: int, body: Any, cls: type[GatewayError], code: int | None, fragments: list[str]
) -> None:
    exc = error_from_response(status, body, {}, "openai", key_hint="OPENAI_API_KEY")
    assert type(exc) is cls
    assert exc.status == status
    assert exc.code == code
    assert exc.provider == "openai"
    for fragment in fragments:
        assert fragment in str(exc)


def test_gateway_401_and_provider_401_are_told_apart() -> None:
    gateway = error_from_response(401, envelope(2009, "Unauthorized", 401), {}, "openai")
    provider = error_from_response(401, {"error": {"message": "bad key"}}, {}, "openai")
    assert isinstance(gateway, GatewayAuthError) and isinstance(provider, GatewayAuthError)
    assert "gateway's own auth" in str(gateway) and "gateway's own auth" not in str(provider)
    assert gateway.code == 2009 and provider.code is None


def test_rate_limit_keeps_retry_after() -> None:
    exc = error_from_response(
        429, envelope(2003, "Rate limited", 429), {"Retry-After": "7"}, "groq"
    )
    assert isinstance(exc, GatewayRateLimitError)
    assert exc.retry_after == 7.0


def test_messages_and_bodies_never_contain_keys() -> None:
    secrets = Secrets({"OPENAI_API_KEY": FAKE_KEY})
    body = {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}", "type": "x"}}
    exc = error_from_response(401, body, {}, "openai", secrets=secrets)
    assert FAKE_KEY not in str(exc)
    assert "<secret:OPENAI_API_KEY>" in str(exc)
    assert FAKE_KEY not in repr(exc.body)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(0, usegmt=True), now=100) == 0.0
