"""The ``webhook`` assertion: let an HTTP endpoint grade the output.

POSTs ``{"output": ..., "context": {"prompt": ..., "vars": {...}}}`` as JSON to the URL in
``value`` and expects ``{"pass": bool, "score"?: number, "reason"?: str}`` back.
``not-webhook`` flips ``pass`` and reports ``1 - score``. Transport errors, non-2xx answers and
malformed replies are failures marked ``grader_error`` (never flipped by ``not-``); the URL's
query string is never echoed (it may carry a token).

This handler is async (``httpx.AsyncClient``) so it never blocks the event loop that runs the
other assertions. Under the plugin the POST goes through ``context.webhook``, which records the
reply in the item's snapshot like a grader call, so replay grades offline.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._helpers import PASSED, describe_value, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult

TIMEOUT_S = 30.0


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _error(reason: str) -> GradingResult:
    return GradingResult(
        passed=False, score=0.0, reason=f"Webhook error: {reason}", grader_error=True
    )


async def post_json(url: str, body: Any) -> tuple[int, str]:
    """POST ``body`` as JSON to ``url``: ``(status, response text)``."""
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        response = await client.post(url, json=body)
    return response.status_code, response.text


async def handle_webhook(call: AssertionCall) -> GradingResult:
    """``webhook``: POST the output to ``value`` (a URL) and use the verdict it returns."""
    url = call.value
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion must have a webhook URL value; got '
            f"{describe_value(url)}. Fix: `value: https://example.com/grade`."
        )
    body: dict[str, Any] = {
        "output": call.output,
        "context": {"prompt": call.context.prompt, "vars": call.context.vars},
    }
    shown = _safe_url(url)
    post = call.context.webhook or post_json
    try:
        status, text = await post(url, body)
    except httpx.HTTPError as exc:
        return _error(f"request to {shown} failed ({type(exc).__name__})")
    if status >= 400:
        return _error(f"{shown} answered HTTP {status}")
    try:
        data = json.loads(text)
    except ValueError:
        return _error(f"{shown} did not answer with JSON")
    if not isinstance(data, dict) or not isinstance(data.get("pass"), bool):
        return _error(
            f'{shown} must answer {{"pass": true|false, "score"?: number, "reason"?: string}}; '
            f"got {describe_value(data)}"
        )
    raw_score = data.get("score")
    if raw_score is not None and (
        isinstance(raw_score, bool)
        or not isinstance(raw_score, (int, float))
        or math.isnan(raw_score)
    ):
        return _error(f"{shown} answered a non-numeric score {describe_value(raw_score)}")
    passed = data["pass"] != call.inverse
    if raw_score is None:
        score = 1.0 if passed else 0.0
    else:
        score = 1.0 - float(raw_score) if call.inverse else float(raw_score)
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason:
        reason = PASSED if passed else "Webhook returned failure"
    elif not passed and call.inverse:
        reason = f"Expected webhook to fail, but it passed: {reason}"
    return GradingResult(passed=passed, score=score, reason=reason)


HANDLERS: dict[str, BuiltinHandler] = {"webhook": handle_webhook}
