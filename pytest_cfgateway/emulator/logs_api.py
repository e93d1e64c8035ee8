"""The Logs API of the Cloudflare v4 API, over the emulator's request log.

``GET  /client/v4/accounts/{account}/ai-gateway/gateways/{gateway}/logs``       list
``GET  /client/v4/accounts/{account}/ai-gateway/gateways/{gateway}/logs/{id}``  one entry
``PATCH /client/v4/accounts/{account}/ai-gateway/gateways/{gateway}/logs/{id}`` feedback,
score, metadata (Cloudflare's "Patch Gateway Log": feedback in [-1, 1], score in [0, 100],
metadata values string/number/boolean; the gateway keeps five metadata entries).

Every call needs ``Authorization: Bearer <API token>`` (``LogsApi.token``, or any non-empty
token when that is None); a missing or wrong one is 401 with the v4 envelope, code 10000.
``LogsApi.fail_next`` / ``fail_status`` answer injected 429/5xx for fault tests.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .records import RecordedRequest

if TYPE_CHECKING:
    from .http import Incoming, Outgoing
    from .state import EmulatorState

PATH = re.compile(r"^/client/v4/accounts/([^/]+)/ai-gateway/gateways/([^/]+)/logs(?:/([^/]+))?/?$")
MAX_METADATA = 5


@dataclasses.dataclass(frozen=True)
class LogsCall:
    """One call the Logs API answered (no headers: they carry the API token)."""

    method: str
    log_id: str | None
    status: int
    body: Any = None


class LogsApi:
    """Settings and call log of the emulated Logs API (reset with the emulator)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        #: the API token every call must carry; None accepts any non-empty bearer token
        self.token: str | None = None
        #: statuses (429, 500, ...) to answer the next calls with, one each
        self.fail_next: list[int] = []
        #: a status to answer every call with (None: serve normally)
        self.fail_status: int | None = None
        #: the retry-after header (seconds) sent with an injected 429
        self.retry_after: float = 0.0
        self.calls: list[LogsCall] = []

    def _injected(self) -> int | None:
        with self._lock:
            if self.fail_next:
                return int(self.fail_next.pop(0))
        return self.fail_status

    def note(self, call: LogsCall) -> None:
        with self._lock:
            self.calls.append(call)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Outgoing:
    from .http import Outgoing

    return Outgoing(
        status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()
    )


def _v4(status: int, result: Any, errors: list[dict[str, Any]] | None = None) -> Outgoing:
    body = {"result": result, "success": not errors, "errors": errors or [], "messages": []}
    return _json(status, body)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def log_row(r: RecordedRequest) -> dict[str, Any]:
    """One log entry as the API lists it (plus the annotations written by PATCH)."""
    return {
        "id": r.log_id,
        "event_id": r.event_id,
        "created_at": _iso(r.created_at),
        "cached": r.cache_status == "HIT",
        "custom_cost": r.custom_cost is not None,
        "cost": r.cost,
        "duration": round(r.duration_ms),
        "metadata": r.metadata,
        "model": r.model,
        "path": r.route,
        "provider": r.provider,
        "status_code": r.status,
        "step": r.step,
        "success": 200 <= r.status < 300,
        "tokens_in": r.tokens_in,
        "tokens_out": r.tokens_out,
        "feedback": r.feedback,
        "score": r.score,
    }


def _authorized(api: LogsApi, inc: Incoming) -> bool:
    scheme, _, token = inc.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return api.token is None or token.strip() == api.token


def _patch(entry: RecordedRequest, body: Any) -> str | None:
    """Apply a PATCH body to ``entry``; the error message when the body is refused."""
    if not isinstance(body, dict):
        return "the body must be a JSON object {feedback, score, metadata}"
    feedback, score, metadata = body.get("feedback"), body.get("score"), body.get("metadata")
    if feedback is not None and (
        isinstance(feedback, bool)
        or not isinstance(feedback, int | float)
        or not -1 <= feedback <= 1
    ):
        return "feedback must be a number from -1 to 1 (1 positive, -1 negative, 0 not evaluated)"
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100
    ):
        return "score must be a number from 0 to 100"
    if metadata is not None and (
        not isinstance(metadata, dict)
        or not all(isinstance(v, str | int | float | bool) for v in metadata.values())
    ):
        return "metadata must be an object of strings, numbers or booleans"
    if "feedback" in body:
        entry.feedback = None if feedback is None else int(feedback)
    if "score" in body:
        entry.score = score
    if "metadata" in body:
        entry.metadata = None if metadata is None else dict(list(metadata.items())[:MAX_METADATA])
    return None


def handle(state: EmulatorState, inc: Incoming, match: re.Match[str]) -> Outgoing:
    """Answer one Logs API request."""
    from .http import parse_json

    api = state.logs_api
    acct, gw, log_id = match.groups()
    body = parse_json(inc.body) if inc.method == "PATCH" else None

    def answer(out: Outgoing) -> Outgoing:
        api.note(LogsCall(inc.method, log_id, out.status, body))
        return out

    if not _authorized(api, inc):
        return answer(_v4(401, None, [{"code": 10000, "message": "Authentication error"}]))
    injected = api._injected()
    if injected is not None:
        out = _v4(injected, None, [{"code": 10000 + injected, "message": "injected fault"}])
        if injected == 429:
            out.headers["retry-after"] = f"{api.retry_after:g}"
        return answer(out)
    mine = [r for r in list(state.requests) if r.account_id == acct and r.gateway_id == gw]
    if log_id is None:
        if inc.method != "GET":
            return answer(_v4(405, None, [{"code": 7001, "message": "method not allowed"}]))
        rows = [log_row(r) for r in mine if r.collect_log]
        info = {"count": len(rows), "page": 1, "per_page": len(rows), "total_count": len(rows)}
        data = {"result": rows, "result_info": info, "success": True, "errors": [], "messages": []}
        return answer(_json(200, data))
    entry = next((r for r in mine if r.log_id == log_id and r.collect_log), None)
    if entry is None:
        return answer(_v4(404, None, [{"code": 7002, "message": f"log {log_id!r} not found"}]))
    if inc.method == "PATCH":
        problem = _patch(entry, body)
        if problem is not None:
            return answer(_v4(400, None, [{"code": 7003, "message": problem}]))
        return answer(_v4(200, {}))
    if inc.method == "GET":
        return answer(_v4(200, log_row(entry)))
    return answer(_v4(405, None, [{"code": 7001, "message": "method not allowed"}]))
