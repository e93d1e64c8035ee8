"""Shared pieces of the end-to-end (pytester) tests: a live emulator and a keyed environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

FAKE_OPENAI_KEY = "sk-test.FAKE.0123456789"
FAKE_TOKEN = "cf-aig-token-FAKE-9876543210"


@pytest.fixture
def keyed_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Ids and fake keys for a live (record) run against the emulator."""
    env = {
        "CLOUDFLARE_ACCOUNT_ID": "acct",
        "CLOUDFLARE_GATEWAY_ID": "gw",
        "OPENAI_API_KEY": FAKE_OPENAI_KEY,
        "ANTHROPIC_API_KEY": "sk-ant.test.FAKE.0123",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CF_AIG_TOKEN", raising=False)
    monkeypatch.delenv("CF_GATEWAY_URL", raising=False)
    return env


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay run as CI has it: no ids, no keys, no gateway."""
    for k in (
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_GATEWAY_ID",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "CF_AIG_TOKEN",
        "CF_GATEWAY_URL",
    ):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def emu(cf_gateway_emulator: object) -> Iterator[object]:
    """The session emulator, reset between tests."""
    cf_gateway_emulator.reset()  # type: ignore[attr-defined]
    yield cf_gateway_emulator
    cf_gateway_emulator.reset()  # type: ignore[attr-defined]


def written_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def assert_no_secret(root: Path, *secrets: str) -> None:
    for path in written_files(root):
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} leaked into {path}"
