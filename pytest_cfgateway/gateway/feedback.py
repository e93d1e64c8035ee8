"""A client for AI Gateway's logs API: annotate a logged call with feedback, score, metadata.

``PATCH {api_base}/accounts/{account_id}/ai-gateway/gateways/{gateway_id}/logs/{log_id}``
with ``{"feedback": -1|1, "score": 0..100, "metadata": {key: str|number|bool}}`` and
``Authorization: Bearer <Cloudflare API token>`` (permission "AI Gateway - Edit"); the log id
is the ``cf-aig-log-id`` header of the gateway's answer. Field limits follow Cloudflare's API
reference ("Patch Gateway Log"): feedback in [-1, 1], score in [0, 100], metadata values
scalar; and the gateway keeps at most five metadata entries per log, so more is refused here.

Pure: knows nothing of pytest. One `LogsClient` is used from one event loop (it makes its
httpx client on first use); calls are bounded by a semaphore and retried on 429, 5xx and
connection errors, honouring ``retry-after``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from collections.abc import Mapping
from typing import Any

import httpx

from .errors import MAX_RETRY_AFTER, parse_retry_after
from .redact import Secrets

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"
API_TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
API_BASE_ENV = "CF_API_URL"
#: metadata entries the gateway keeps per log (extra ones are dropped by Cloudflare)
MAX_METADATA = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
MAX_BACKOFF = 30.0


class FeedbackError(ValueError):
    """An annotation that the logs API would refuse; the message names the field."""


@dataclasses.dataclass(frozen=True)
class LogAnnotation:
    """What to write on one log entry."""

    account_id: str
    gateway_id: str
    log_id: str
    feedback: int | None = None  # 1 thumbs up, -1 thumbs down
    score: float | None = None  # 0..100
    metadata: Mapping[str, str | int | float | bool] = dataclasses.field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body of the PATCH; raises FeedbackError for values the API refuses."""
        for name, value in (
            ("account_id", self.account_id),
            ("gateway_id", self.gateway_id),
            ("log_id", self.log_id),
        ):
            if not value or "/" in value:
                raise FeedbackError(f"{name} must be a non-empty id without '/', got {value!r}")
        out: dict[str, Any] = {}
        if self.feedback is not None:
            if self.feedback not in (-1, 1):
                raise FeedbackError(f"feedback must be 1 or -1, got {self.feedback!r}")
            out["feedback"] = self.feedback
        if self.score is not None:
            if not isinstance(self.score, int | float) or not 0 <= self.score <= 100:
                raise FeedbackError(f"score must be a number from 0 to 100, got {self.score!r}")
            out["score"] = self.score
        if self.metadata:
            if len(self.metadata) > MAX_METADATA:
                raise FeedbackError(
                    f"metadata has {len(self.metadata)} entries; the gateway keeps at most "
                    f"{MAX_METADATA} per log: {sorted(self.metadata)}"
                )
            for key, entry in self.metadata.items():
                bad_float = isinstance(entry, float) and not math.isfinite(entry)
                if not isinstance(entry, str | int | float | bool) or bad_float:
                    raise FeedbackError(
                        f"metadata[{key!r}] must be a string, number or boolean, got {entry!r}"
                    )
            out["metadata"] = dict(self.metadata)
        if not out:
            raise FeedbackError("nothing to write: give feedback, score or metadata")
        return out


@dataclasses.dataclass(frozen=True)
class PatchResult:
    """How one PATCH ended. ``error`` is empty on success and never holds a secret."""

    log_id: str
    ok: bool
    status: int | None = None  # the last HTTP status (None: no answer)
    attempts: int = 0
    error: str = ""


class LogsClient:
    """``await client.patch(annotation)`` / ``await client.get(account, gateway, log_id)``."""

    def __init__(
        self,
        token: str,
        api_base: str = DEFAULT_API_BASE,
        *,
        max_retries: int = 4,
        retry_delay: float = 0.5,
        timeout: float = 30.0,
        concurrency: int = 4,
        secrets: Secrets | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not token:
            raise FeedbackError(
                "the logs API needs a Cloudflare API token (AI Gateway - Edit); "
                f"set {API_TOKEN_ENV}"
            )
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise FeedbackError(
                "concurrency must be >= 1, max_retries >= 0 and timeout > 0 "
                f"(got {concurrency}, {max_retries}, {timeout})"
            )
        if not api_base.startswith(("http://", "https://")):
            raise FeedbackError(
                f"the logs API base URL must start with http:// or https://, got {api_base!r} "
                f"(default {DEFAULT_API_BASE})"
            )
        self._token = token
        self.api_base = api_base.rstrip("/")
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.concurrency = concurrency
        self.secrets = Secrets().merged(secrets)
        self.secrets.add(API_TOKEN_ENV, token)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def __repr__(self) -> str:
        return f"LogsClient(api_base={self.api_base!r}, token=set)"

    def url(self, account_id: str, gateway_id: str, log_id: str) -> str:
        return (
            f"{self.api_base}/accounts/{account_id}/ai-gateway/gateways/{gateway_id}/logs/{log_id}"
        )

    def _ensure(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        if self._client is None or self._semaphore is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self.timeout,
                headers={
                    "user-agent": "pytest-cfgateway",
                    "authorization": f"Bearer {self._token}",
                },
            )
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._client, self._semaphore

    async def patch(self, annotation: LogAnnotation) -> PatchResult:
        """Write ``annotation``; never raises for HTTP trouble (the result says what failed)."""
        try:
            body = annotation.body()
        except FeedbackError as exc:
            return PatchResult(annotation.log_id, False, error=str(exc))
        url = self.url(annotation.account_id, annotation.gateway_id, annotation.log_id)
        return (await self._call("PATCH", url, annotation.log_id, body))[0]

    async def get(self, account_id: str, gateway_id: str, log_id: str) -> dict[str, Any]:
        """The log entry (``result`` of the v4 envelope); FeedbackError when it cannot be read."""
        url = self.url(account_id, gateway_id, log_id)
        outcome, result = await self._call("GET", url, log_id, None)
        if not outcome.ok:
            raise FeedbackError(f"cannot read log {log_id}: {outcome.error}")
        return result

    async def _call(
        self, method: str, url: str, log_id: str, body: Any
    ) -> tuple[PatchResult, dict[str, Any]]:
        client, semaphore = self._ensure()
        status: int | None = None
        error = ""
        attempt = 0
        async with semaphore:
            for attempt in range(1, self.max_retries + 2):
                last = attempt == self.max_retries + 1
                wait: float | None = None
                try:
                    resp = await client.request(method, url, json=body)
                except httpx.TransportError as exc:
                    status, error = None, f"no answer: {type(exc).__name__} {exc}".strip()
                else:
                    status = resp.status_code
                    if 200 <= status < 300:
                        return PatchResult(log_id, True, status, attempt), _result(resp)
                    error = f"HTTP {status}: {_error_text(resp)}"
                    if status not in RETRY_STATUSES:
                        break
                    wait = parse_retry_after(resp.headers.get("retry-after"))
                if last:
                    break
                delay = self._backoff(attempt) if wait is None else min(wait, MAX_RETRY_AFTER)
                await asyncio.sleep(delay)
        return PatchResult(log_id, False, status, attempt, self.secrets.scrub_text(error)), {}

    def _backoff(self, attempt: int) -> float:
        base: float = min(MAX_BACKOFF, self.retry_delay * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)

    async def aclose(self) -> None:
        client, self._client, self._semaphore = self._client, None, None
        if client is not None:
            await client.aclose()


def _result(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    result = data.get("result") if isinstance(data, dict) else None
    return result if isinstance(result, dict) else {}


def _error_text(resp: httpx.Response) -> str:
    """The v4 envelope's ``errors[].message`` (or the start of the body)."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason_phrase
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors:
        parts = []
        for e in errors:
            if isinstance(e, dict):
                code = e.get("code")
                parts.append(f"{e.get('message', '')}" + (f" (code {code})" if code else ""))
        if parts:
            return "; ".join(parts)
    return str(data)[:200]
