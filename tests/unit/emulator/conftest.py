"""One emulator for the whole directory, reset before every test; plain httpx clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_cfgateway.emulator import Emulator

GW = "/v1/acct/gw"
OPENAI_AUTH = {"Authorization": "Bearer sk-test"}
ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def chat(text: str = "Hello there", model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    """An OpenAI chat body with one user message."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    emu.reset()


@pytest.fixture(scope="session")
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as client:
        yield client
