"""Writing files the way every writer of the plugin must: atomically, with ordinary modes."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path


def atomic_write_text(path: str | Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` to a temp file beside ``path``, fsync, then ``os.replace``: a reader
    (or a crash) sees the old file or the new one, never half of one.

    ``durable=False`` leaves out the fsync (3.5 ms per file on this project's machines, and
    pytest's thread waits for it): readers and a killed process still see the old file or
    the new one, as the rename is atomic; only an operating-system crash or power loss
    right after the write may leave the file empty. Snapshot cassettes are written so
    (committed to git, re-recorded by one command); result files keep the fsync.

    Four system calls when the folder exists (open, write, close, rename): a record run
    writes one file per test from pytest's thread, and each system call there gives up the
    GIL to the thread making the calls and waits to get it back. The temp file is
    ``.<name>.<pid>-<n>.tmp``, created exclusively with mode 0666 less the umask (what
    ``open()`` gives a new file)."""
    data = text.encode("utf-8")
    fd, tmp = _open_temp(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_names = itertools.count()


def _open_temp(path: str | Path) -> tuple[int, str]:
    """Create and open a temp file beside ``path`` that no other writer uses: this
    process's id and a counter, created exclusively (``O_EXCL``: a leftover of an earlier
    process that had the same id makes it take the next number); the folder is made when
    it does not exist."""
    folder, name = os.path.split(os.fspath(path))
    made = False
    while True:
        tmp = os.path.join(folder, f".{name}.{os.getpid()}-{next(_names)}.tmp")
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            if made:
                raise
            Path(folder).mkdir(parents=True, exist_ok=True)
            made = True
