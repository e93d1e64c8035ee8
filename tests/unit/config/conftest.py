"""Helpers: write a config (and its side files) into tmp_path and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from pytest_cfgateway.config import LoadedConfig, load_config

Writer = Callable[..., Path]
Loader = Callable[..., LoadedConfig]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """write(text, files={name: text}, name="promptfooconfig.yaml") -> config path."""

    def _write(
        text: str,
        files: Mapping[str, str | bytes] | None = None,
        name: str = "promptfooconfig.yaml",
    ) -> Path:
        for rel, content in (files or {}).items():
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(textwrap.dedent(content), encoding="utf-8")
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(write: Writer, tmp_path: Path) -> Loader:
    """load(text, files=..., env=..., **kw) -> LoadedConfig (env defaults to empty)."""

    def _load(
        text: str,
        files: Mapping[str, str | bytes] | None = None,
        env: Mapping[str, str] | None = None,
        **kw: object,
    ) -> LoadedConfig:
        path = write(text, files)
        return load_config(path, env=env or {}, rootdir=tmp_path, **kw)  # type: ignore[arg-type]

    return _load
