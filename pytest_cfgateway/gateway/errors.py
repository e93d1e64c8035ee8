"""The GatewayError tree. Messages say what happened and what to do; they never hold a key."""

from __future__ import annotations

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
