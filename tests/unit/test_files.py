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
