"""Builders shared by the adapter tests."""

from __future__ import annotations

from typing import Any

from pytest_cfgateway.gateway.types import ChatCall, RawResponse


def call(
    provider: str,
    model: str,
    messages: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
) -> ChatCall:
    return ChatCall(
        provider=provider,
        model=model,
        messages=messages if messages is not None else [{"role": "user", "content": "Hi"}],
        options=options or {},
        config=config or {},
        kind="embed" if inputs is not None else "chat",
        inputs=inputs or [],
    )


def raw(body: Any, status: int = 200) -> RawResponse:
    return RawResponse(status=status, headers={}, body=body)
