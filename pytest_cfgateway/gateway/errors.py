"""The GatewayError tree. Messages say what happened and what to do; they never hold a key."""

from __future__ import annotations

import email.utils
import time
from typing import Any


class GatewayError(Exception):
    """Any failure of a gateway call.

    ``status`` is the HTTP status (None when no response arrived), ``code`` the gateway's
    ``internalCode`` (None for provider errors), ``provider`` the slug that was called.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        provider: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.provider = provider
        self.body = body
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class GatewayConfigError(GatewayError, ValueError):
    """The call cannot be built: unknown provider, missing ids or keys, bad option."""


class GatewayAuthError(GatewayError):
    """401/403 from the gateway (2009) or from the provider."""


class GatewayRateLimitError(GatewayError):
    """429: the gateway's rate limit (2003), a spend limit, or the provider's."""


class GatewayProviderError(GatewayError):
    """The provider (or the gateway on its behalf) answered with an error."""


class GatewayTimeoutError(GatewayError):
    """No answer within the timeout, or the connection dropped after all retries."""


class NotRecordedError(GatewayError):
    """Replay mode found no snapshot for this request; the message names the record command."""


class BudgetExceededError(GatewayError):
    """``--cf-max-cost`` was reached; no new live calls are made."""


# --- mapping HTTP error responses to the tree (used by the client) -------------------------

#: Gateway ``internalCode`` values that mean a rate or spend limit.
RATE_LIMIT_CODES = frozenset({2003, 2041, 2045})
#: The longest Retry-After we honour, in seconds.
MAX_RETRY_AFTER = 60.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _first(items: Any) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _envelope(body: Any) -> tuple[str, int | None, str]:
    """(origin, code, message) of an error body; origin is "gateway" or "provider"."""
    if not isinstance(body, dict):
        text = str(body or "").strip()
        return "provider", None, text[:300]
    if body.get("name") == "AiGatewayError" or (
        "internalCode" in body and body.get("name") != "AiError"
    ):
        first = _first(body.get("error"))
        code = _as_int(body.get("internalCode")) or _as_int(first.get("code"))
        msg = first.get("message") or body.get("message") or ""
        return "gateway", code, str(msg)
    err = body.get("error")
    if isinstance(err, dict):  # OpenAI, Gemini, Anthropic (inside {"type": "error"})
        parts = [str(err.get(k)) for k in ("type", "status", "code") if err.get(k)]
        msg = str(err.get("message") or "")
        return "provider", None, f"{msg} ({', '.join(parts)})" if parts else msg
    if isinstance(err, str):
        return "provider", None, err
    if "errors" in body:  # Cloudflare v4 / Workers AI
        first = _first(body.get("errors"))
        code = _as_int(first.get("code"))
        msg = str(first.get("message") or "")
        return "provider", None, f"{msg} (code {code})" if code is not None else msg
    if body.get("name") == "AiError":
        first = _first(body.get("errors"))
        return "provider", None, str(body.get("message") or first.get("message") or "")
    for key in ("message", "detail"):  # Hugging Face, Replicate
        if isinstance(body.get(key), str):
            return "provider", None, str(body[key])
    return "provider", None, str(body)[:300]


def _gateway_error(
    status: int, code: int | None, msg: str, provider: str | None, extra: dict[str, Any]
) -> GatewayError:
    what = f"AI Gateway error {code}" if code is not None else "AI Gateway error"
    base = f"{what} (HTTP {status}): {msg or 'no message'}"
    if code == 2009 or (code is None and status in (401, 403)):
        return GatewayAuthError(
            f"{base}. The gateway is authenticated and rejected the request: set CF_AIG_TOKEN "
            "(or provider config cfAigToken / Gateway(token=...)) to an AI Gateway token with "
            "Run permission. This is the gateway's own auth, not the provider API key.",
            **extra,
        )
    if code in RATE_LIMIT_CODES or status == 429:
        kind = "spend limit" if code in (2041, 2045) else "rate limit"
        return GatewayRateLimitError(
            f"{base}. The gateway's {kind} was hit; slow down (--cf-concurrency) or raise the "
            "limit in the gateway settings.",
            **extra,
        )
    if code == 2001:
        return GatewayConfigError(
            f"{base}. The gateway does not exist: check the gateway id (gatewayId / "
            "CLOUDFLARE_GATEWAY_ID) and account id, or create the gateway in the Cloudflare "
            "dashboard (AI > AI Gateway). With BYOK it also means no key is stored for "
            f"{provider or 'this provider'}.",
            **extra,
        )
    if code == 2008:
        return GatewayConfigError(
            f"{base}. The gateway does not know provider {provider!r}; use one of the "
            "supported provider slugs.",
            **extra,
        )
    if code == 2040:
        return GatewayConfigError(
            f"{base}. Fix byokAlias to one of the aliases stored for {provider or 'the provider'} "
            "in the gateway's BYOK settings, or remove it to use 'default'.",
            **extra,
        )
    if code == 2019:
        return GatewayConfigError(
            f"{base}. compat requests need model {{provider}}/{{model}}, e.g. openai/gpt-4o-mini.",
            **extra,
        )
    if status in (408, 504):
        return GatewayTimeoutError(f"{base}.", **extra)
    return GatewayProviderError(f"{base}.", **extra)


def _provider_error(
    status: int, msg: str, provider: str | None, key_hint: str | None, extra: dict[str, Any]
) -> GatewayError:
    who = provider or "the provider"
    base = f"{who} answered HTTP {status}: {msg or 'no message'}"
    if status in (401, 403):
        where = f"check {key_hint}" if key_hint else "check the provider API key"
        return GatewayAuthError(
            f"{base}. The provider rejected the credentials ({where}, provider config apiKey / "
            "apiKeyEnvar, or the key stored in the gateway for BYOK); the gateway token itself "
            "was accepted.",
            **extra,
        )
    if status == 429:
        return GatewayRateLimitError(
            f"{base}. {who} rate-limited the request; slow down (--cf-concurrency) or check "
            "the provider quota.",
            **extra,
        )
    if status in (408, 504):
        return GatewayTimeoutError(f"{base}.", **extra)
    return GatewayProviderError(f"{base}.", **extra)


def error_from_response(
    status: int,
    body: Any,
    headers: Any = None,
    provider: str | None = None,
    *,
    secrets: Any = None,
    key_hint: str | None = None,
) -> GatewayError:
    """The typed error for a non-2xx reply.

    Gateway envelopes (``{"success": false, "error": [{"code", "message"}], "name":
    "AiGatewayError", "internalCode"}``) are told apart from provider errors (OpenAI,
    Anthropic, Gemini, Cloudflare v4 ``errors``). ``secrets`` (a `Secrets`) scrubs the
    message; ``key_hint`` names the provider key env var for provider auth errors.
    """
    hdrs = {str(k).lower(): str(v) for k, v in dict(headers or {}).items()}
    origin, code, msg = _envelope(body)
    if secrets is not None:
        msg = secrets.scrub_text(msg)
        body = secrets.scrub(body)
    retry_after = parse_retry_after(hdrs.get("retry-after"))
    extra: dict[str, Any] = {
        "status": status,
        "code": code,
        "provider": provider,
        "body": body,
        "retry_after": retry_after,
    }
    if origin == "gateway":
        return _gateway_error(status, code, msg, provider, extra)
    return _provider_error(status, msg, provider, key_hint, extra)
