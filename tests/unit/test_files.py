"""Atomic writes leave ordinary files (not mkstemp's 0600) and no temp files behind."""

from __future__ import annotations

import os
import stat

import pytest

from pytest_cfgateway._files import _file_mode, atomic_write_text


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX modes only")
def test_written_file_has_the_umask_mode(tmp_path):
    target = tmp_path / "sub" / "snap.yaml"
    atomic_write_text(target, "a: 1\n")
    assert target.read_text() == "a: 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == _file_mode()
    assert _file_mode() & 0o044  # group/other can read under the usual umasks
    assert [p.name for p in target.parent.iterdir()] == ["snap.yaml"]


def test_replacing_keeps_one_file(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "1")
    atomic_write_text(target, "2")
    assert target.read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_write_that_need_not_survive_power_loss_skips_the_fsync(tmp_path, monkeypatch):
    def no_fsync(fd: int) -> None:
        raise AssertionError("fsync called")

    monkeypatch.setattr(os, "fsync", no_fsync)
    target = tmp_path / "snap.yaml"
    atomic_write_text(target, "1", durable=False)
    atomic_write_text(target, "2", durable=False)
    assert target.read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["snap.yaml"]
    with pytest.raises(AssertionError, match="fsync called"):
        atomic_write_text(target, "3")  # durable by default
    assert target.read_text() == "2"
