"""Fallbacks through the gateway's Universal endpoint.

A provider config ``fallbacks: [provider ids or {id, config}]`` turns a call into one POST to
the gateway root whose body is an array of steps ``{provider, endpoint, query}``. The
fingerprinted body leaves each step's ``headers`` out (they carry provider keys, which differ
between machines or are absent under BYOK); `wire_body` adds them when sending. The
``cf-aig-authorization`` header stays on the outer request only (cloudflare/ai#193). The step
that answered comes back in ``cf-aig-step``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .errors import GatewayConfigError, GatewayProviderError
from .types import PreparedRequest

#: Headers that never go inside a step (gateway auth belongs on the outer request).
OUTER_ONLY = frozenset({"cf-aig-authorization", "content-length", "host"})


def fallback_entries(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """Normalise ``fallbacks`` to ``[(provider id, config)]``; GatewayConfigError if malformed."""
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise GatewayConfigError(
            "provider config fallbacks must be a list of provider ids or {id, config} "
            f"mappings, e.g. [anthropic:claude-haiku-4-5], got {value!r}"
        )
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            out.append((item.strip(), {}))
        elif isinstance(item, Mapping) and isinstance(item.get("id"), str):
            config = item.get("config") or {}
            if not isinstance(config, Mapping):
                raise GatewayConfigError(f"fallbacks[{i}].config must be a mapping, got {config!r}")
            if "fallbacks" in config:
                raise GatewayConfigError(f"fallbacks[{i}].config cannot itself have fallbacks")
            out.append((item["id"], dict(config)))
        else:
            raise GatewayConfigError(
                f"fallbacks[{i}] must be a provider id string or a mapping with `id` "
                f"(and optional `config`), got {item!r}"
            )
    return out


def endpoint_of(step: PreparedRequest) -> str:
    """The step's ``endpoint``: its route suffix plus query string."""
    return step.path + ("?" + urlencode(dict(step.query)) if step.query else "")


def step_body(step: PreparedRequest) -> dict[str, Any]:
    """One fingerprinted step (no headers)."""
    return {"provider": step.provider, "endpoint": endpoint_of(step), "query": step.body}


def step_headers(step: PreparedRequest) -> dict[str, str]:
    """The headers sent inside a step: provider auth and extras, never gateway auth."""
    return {k: v for k, v in step.headers.items() if k.lower() not in OUTER_ONLY}


def wire_body(req: PreparedRequest) -> list[dict[str, Any]]:
    """The Universal body as sent: each fingerprinted step plus its headers."""
    return [{**step_body(s), "headers": step_headers(s)} for s in req.steps]


def answering_step(req: PreparedRequest, headers: Mapping[str, str]) -> tuple[int, PreparedRequest]:
    """(index, step) named by the ``cf-aig-step`` response header (0 when absent)."""
    raw = headers.get("cf-aig-step", "0")
    try:
        index = int(str(raw).strip())
    except ValueError:
        index = -1
    if not 0 <= index < len(req.steps):
        raise GatewayProviderError(
            f"the gateway reported cf-aig-step {raw!r}, but the request had "
            f"{len(req.steps)} steps (0..{len(req.steps) - 1})",
            provider="universal",
        )
    return index, req.steps[index]
