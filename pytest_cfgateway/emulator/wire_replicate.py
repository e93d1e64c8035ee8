"""Replicate predictions: ``POST predictions`` (and ``models/{owner}/{name}/predictions``),
``GET predictions/{id}`` for polling, ``POST predictions/{id}/cancel``.

With ``Prefer: wait`` the prediction is answered finished (unless the emulator's
``replicate_wait_finishes`` is off); without it the answer is ``starting`` and each GET
advances it: ``processing`` ... then ``succeeded`` after ``replicate_polls`` GETs.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from .model import Answer, Prompt, logprobs, think
from .wire import (
    NOT_JSON,
    Ctx,
    ProviderCall,
    Reply,
    bad_json,
    error_reply,
    is_int,
    replicate_error,
    rule_error,
)

_MODEL_ROUTE = re.compile(r"^(models|deployments)/([^/]+)/([^/]+)/predictions$")
_GET_ROUTE = re.compile(r"^predictions/([A-Za-z0-9]+)(/cancel)?$")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclasses.dataclass
class _Pending:
    prediction: dict[str, Any]
    answer: Answer
    polls: int = 0


class Predictions:
    """The emulator's store of Replicate predictions (thread-safe)."""

    def __init__(self) -> None:
        self._items: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def add(self, pending: _Pending) -> None:
        with self._lock:
            self._items[pending.prediction["id"]] = pending

    def get(self, pid: str) -> _Pending | None:
        with self._lock:
            return self._items.get(pid)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _finish(p: _Pending) -> None:
    pred = p.prediction
    pred["status"] = "succeeded"
    pred["output"] = [tok for tok, _ in logprobs(p.answer.text)]
    pred["completed_at"] = _now()
    pred["metrics"] = {
        "predict_time": 0.01,
        "input_token_count": p.answer.prompt_tokens,
        "output_token_count": p.answer.completion_tokens,
    }


def _reply(p: _Pending, status: int = 200) -> Reply:
    done = p.prediction["status"] == "succeeded"
    return Reply(
        status=status,
        body=dict(p.prediction),
        model=str(p.prediction.get("model", "")),
        tokens_in=p.answer.prompt_tokens if done else 0,
        tokens_out=p.answer.completion_tokens if done else 0,
        cacheable=done and status in (200, 201),
    )


def _create(call: ProviderCall, ctx: Ctx, model: str | None) -> Reply:
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return bad_json(replicate_error, "The request body is not valid JSON.")
    version = body.get("version")
    if model is None and (not isinstance(version, str) or not version):
        return error_reply(
            replicate_error,
            422,
            "invalid_request",
            "- version: version is required (or POST to models/{owner}/{name}/predictions)",
        )
    inputs = body.get("input")
    if not isinstance(inputs, dict):
        return error_reply(replicate_error, 422, "invalid_request", "- input: input is required")
    if not isinstance(inputs.get("prompt"), str):
        return error_reply(
            replicate_error, 422, "invalid_request", "- input.prompt: prompt is required"
        )
    pairs = [("user", inputs["prompt"])]
    if isinstance(inputs.get("system_prompt"), str):
        pairs.insert(0, ("system", inputs["system_prompt"]))
    limit = inputs.get("max_tokens", inputs.get("max_new_tokens"))
    name = model or str(version).split(":", 1)[0]
    answer = think(
        ctx.rules, Prompt.of(pairs, limit if is_int(limit) else None), call.provider, name
    )
    if answer.error_status:
        return rule_error(replicate_error, answer.error_status)
    pid = uuid.uuid4().hex[:26]
    base = "https://api.replicate.com/v1/predictions/" + pid
    pending = _Pending(
        prediction={
            "id": pid,
            "model": name,
            "version": version if isinstance(version, str) else "",
            "input": inputs,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "created_at": _now(),
            "urls": {"get": base, "cancel": base + "/cancel", "stream": base + "/stream"},
        },
        answer=answer,
    )
    wait = call.headers.get("prefer", "").strip().lower()
    if wait.startswith("wait"):
        pending.prediction["started_at"] = _now()
        if ctx.replicate_wait_finishes or ctx.replicate_polls <= 0:
            _finish(pending)
        else:
            pending.prediction["status"] = "processing"
    ctx.predictions.add(pending)
    return _reply(pending, 201)


def _poll(call: ProviderCall, ctx: Ctx, pid: str, cancel: bool) -> Reply:
    pending = ctx.predictions.get(pid)
    if pending is None:
        return error_reply(replicate_error, 404, "not_found", f"Prediction {pid} not found.")
    pred = pending.prediction
    if cancel:
        if pred["status"] in ("starting", "processing"):
            pred["status"] = "canceled"
            pred["completed_at"] = _now()
        return _reply(pending)
    if pred["status"] in ("starting", "processing"):
        pending.polls += 1
        pred.setdefault("started_at", _now())
        if pending.polls >= ctx.replicate_polls:
            _finish(pending)
        else:
            pred["status"] = "processing"
    r = _reply(pending)
    r.cacheable = False
    return r


def handle_replicate(call: ProviderCall, ctx: Ctx) -> Reply:
    """Dispatch Replicate routes (GET polls, POST creates or cancels)."""
    poll = _GET_ROUTE.match(call.path)
    if poll and (call.method == "GET" or poll.group(2)):
        return _poll(call, ctx, poll.group(1), bool(poll.group(2)))
    if call.method == "POST" and call.path == "predictions":
        return _create(call, ctx, None)
    m = _MODEL_ROUTE.match(call.path)
    if call.method == "POST" and m:
        return _create(call, ctx, f"{m.group(2)}/{m.group(3)}")
    return error_reply(
        replicate_error, 404, "not_found", f"Not found: {call.method} /v1/{call.path}"
    )
