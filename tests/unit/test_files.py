"""Atomic writes leave ordinary files (mode 0666 less the umask) and no temp files behind."""

from __future__ import annotations

import itertools
import os
import stat

import pytest

from pytest_cfgateway import _files
from pytest_cfgateway._files import atomic_write_text


def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes only")
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


def test_a_leftover_temp_name_is_skipped_not_overwritten(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "_names", itertools.count())
    leftover = tmp_path / f".snap.yaml.{os.getpid()}-0.tmp"
    leftover.write_text("an earlier writer's")
    atomic_write_text(tmp_path / "snap.yaml", "new", durable=False)
    assert (tmp_path / "snap.yaml").read_text() == "new"
    assert leftover.read_text() == "an earlier writer's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [leftover.name, "snap.yaml"]


def test_a_folder_removed_between_writes_is_made_again(tmp_path):
    target = tmp_path / "a" / "b" / "snap.yaml"
    atomic_write_text(target, "1", durable=False)
    target.unlink()
    target.parent.rmdir()
    atomic_write_text(target, "2", durable=False)
    assert target.read_text() == "2"


def test_a_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    target = tmp_path / "snap.yaml"
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "x", durable=False)
    assert list(tmp_path.iterdir()) == []


def test_text_is_written_as_utf8_bytes_unchanged(tmp_path):
    target = tmp_path / "snap.yaml"
    text = "line\r\nnext\n\u00e9\u2028\U0001f600\n" * 20000  # CRLF kept; > one write
    atomic_write_text(target, text)
    assert target.read_bytes() == text.encode("utf-8")
