"""Helpers for the snapshot tests: prepared requests and a fake `send`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_cfgateway.gateway.types import PreparedRequest, RawResponse

KEY = "sk-test-SECRET-0123456789"


def make_req(
    content: str = "hi",
    *,
    provider: str = "openai",
    model: str = "gpt-4o",
    repeat: int = 0,
    temperature: float | None = None,
    extra_headers: dict[str, str] | None = None,
) -> PreparedRequest:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if temperature is not None:
        body["temperature"] = temperature
    headers = {
        "Authorization": f"Bearer {KEY}",
        "cf-aig-authorization": "Bearer cf-token-abcdefgh",
        "Content-Type": "application/json",
        "cf-aig-cache-ttl": "60",
        **(extra_headers or {}),
    }
    return PreparedRequest(
        provider=provider,
        path="chat/completions",
        body=body,
        headers=headers,
        model=model,
        repeat=repeat,
        secrets={"OPENAI_API_KEY": KEY, "CF_AIG_TOKEN": "cf-token-abcdefgh"},
    )


class FakeSend:
    """Answers ``<prefix>: <last user message>``; counts calls; optional status script."""

    def __init__(self, prefix: str = "echo", statuses: list[int] | None = None) -> None:
        self.prefix = prefix
        self.calls: list[PreparedRequest] = []
        self.statuses = list(statuses or [])

    async def __call__(self, req: PreparedRequest) -> RawResponse:
        self.calls.append(req)
        await asyncio.sleep(0)
        status = self.statuses.pop(0) if self.statuses else 200
        content = req.body["messages"][-1]["content"]
        if status != 200:
            return RawResponse(status, {"cf-aig-log-id": "err"}, {"error": {"message": "no"}})
        return RawResponse(
            status=200,
            headers={"cf-aig-cache-status": "MISS", "cf-aig-log-id": f"log-{len(self.calls)}"},
            body={
                "id": "chatcmpl-1",
                "choices": [
                    {"message": {"role": "assistant", "content": f"{self.prefix}: {content}"}}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            },
            latency_ms=12.345,
        )


@pytest.fixture
def fake_send() -> FakeSend:
    return FakeSend()


@pytest.fixture
def mk() -> Any:
    """``mk(content, **kw)`` -> PreparedRequest."""
    return make_req


@pytest.fixture
def send_factory() -> type[FakeSend]:
    return FakeSend
