"""`legacy_pool`: the older cassettes of a test's folders, searched by fingerprint, built
once per session and folder pair (not once per test), without the test's own file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.location import PyTestLocation

from pytest_cfgateway.snapshots import extension
from pytest_cfgateway.snapshots.cassette import Cassette, Exchange
from pytest_cfgateway.snapshots.extension import GatewaySnapshotExtension, legacy_pool


class _Item:
    """What syrupy's PyTestLocation reads of a collected item."""

    def __init__(self, source: Path, name: str) -> None:
        self.path = source
        self.name = name
        self.nodeid = f"{source.name}::{name}"

        def test() -> None: ...

        self.obj = test


def _cassette(fingerprint: str) -> str:
    exchange = Exchange(
        fingerprint=fingerprint,
        occurrence=0,
        request={"provider": "openai", "route": "chat/completions", "model": "m", "body": {}},
        status=200,
        headers={},
        body={"choices": [{"message": {"content": f"answer {fingerprint}"}}]},
        output_text=f"answer {fingerprint}",
    )
    return Cassette(exchanges=[exchange], write=True).to_text()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(extension, "_pools", {})
    monkeypatch.setattr(extension, "_shared_pools", {})
    source = tmp_path / "evals.yaml"
    source.write_text("tests: []\n")
    location = PyTestLocation(_Item(source, "old_a"))  # type: ignore[arg-type]
    folder = Path(GatewaySnapshotExtension.dirname(test_location=location))
    folder.mkdir(parents=True)
    (folder / "old_a.yaml").write_text(_cassette("a" * 64))
    (folder / "old_b.yaml").write_text(_cassette("b" * 64))
    return source


def _pool(source: Path, name: str) -> Cassette | None:
    return legacy_pool(PyTestLocation(_Item(source, name)))  # type: ignore[arg-type]


def test_tests_without_a_cassette_share_one_pool(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Any] = []
    real = extension._folder_cassettes
    monkeypatch.setattr(extension, "_folder_cassettes", lambda f: reads.append(f) or real(f))
    first = _pool(folder, "new_1")
    assert first is not None and first.pool
    assert sorted(ex.fingerprint[0] for ex in first) == ["a", "b"]
    assert {Path(str(ex.origin)).name for ex in first} == {"old_a.yaml", "old_b.yaml"}
    reads.clear()
    second = _pool(folder, "new_2")
    assert second is first  # built once: no copy of every exchange per test
    assert reads == []


def test_a_tests_own_file_is_left_out_of_its_pool(folder: Path) -> None:
    shared = _pool(folder, "new_1")
    own = _pool(folder, "old_a")
    assert own is not None and own is not shared
    assert [ex.fingerprint[0] for ex in own] == ["b"]
    assert shared is not None and len(shared) == 2  # the shared pool is untouched
