"""ConfigError and the location helpers every config module uses to report bad input."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path


class ConfigWarning(UserWarning):
    """Something in a promptfoo config that pytest-cfgateway ignores or does not run (the
    config still runs). Filter it like any warning, e.g.
    ``-W ignore::pytest_cfgateway.config.ConfigWarning``."""


class ConfigError(Exception):
    """A promptfoo config problem: names the file, the key path, the line and the fix.

    ``str(err)`` reads ``path:line: key_path: message. Fix: fix`` (line and key path are left
    out when unknown).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        key_path: str = "",
        line: int | None = None,
        fix: str = "",
        display_path: str | None = None,
    ) -> None:
        self.message = message.rstrip().rstrip(".")
        self.path = Path(path) if path is not None else None
        self.key_path = key_path
        self.line = line
        self.fix = fix.strip()
        self.display_path = display_path or (self.path.as_posix() if self.path else "<config>")
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.display_path
        if self.line is not None:
            where = f"{where}:{self.line}"
        parts = [where]
        if self.key_path:
            parts.append(self.key_path)
        end = "" if self.message.endswith(("?", "!")) else "."
        text = ": ".join(parts) + f": {self.message}{end}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def __reduce__(self) -> tuple[object, ...]:  # keep it picklable (xdist ships errors)
        return (
            _rebuild,
            (self.message, self.path, self.key_path, self.line, self.fix, self.display_path),
        )


def _rebuild(
    message: str,
    path: Path | None,
    key_path: str,
    line: int | None,
    fix: str,
    display_path: str,
) -> ConfigError:
    return ConfigError(
        message, path=path, key_path=key_path, line=line, fix=fix, display_path=display_path
    )


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` (leading space) for the closest choice, or ``""``."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def display_path(path: Path, rootdir: Path | None) -> str:
    """``path`` relative to ``rootdir`` (or the cwd) in POSIX form when it lies below it."""
    base = rootdir if rootdir is not None else Path.cwd()
    try:
        return (
            Path(os.path.relpath(path, base)).as_posix()
            if _is_below(path, base)
            else (path.as_posix())
        )
    except ValueError:  # different drives on Windows
        return path.as_posix()


def _is_below(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return True


class Source:
    """One file that config data came from, with the line of every key path in it."""

    def __init__(self, path: Path, lines: Mapping[str, int], display: str) -> None:
        self.path = path
        self.lines = lines
        self.display = display

    def line_for(self, key_path: str) -> int | None:
        """The line of ``key_path``, or of its nearest ancestor that has one."""
        probe = key_path
        while True:
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return None
            probe = parent_path(probe)


def join_path(base: str, key: str | int) -> str:
    """``tests`` + 2 -> ``tests[2]``; ``tests[2]`` + ``assert`` -> ``tests[2].assert``."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def parent_path(key_path: str) -> str:
    """The key path one level up (``tests[2].assert`` -> ``tests[2]`` -> ``tests``)."""
    if key_path.endswith("]"):
        return key_path[: key_path.rindex("[")]
    if "." in key_path:
        return key_path[: key_path.rindex(".")]
    return ""


class Ctx:
    """Where a value sits: its source file and key path. Builds located ConfigErrors."""

    __slots__ = ("key_path", "src")

    def __init__(self, src: Source, key_path: str = "") -> None:
        self.src = src
        self.key_path = key_path

    def at(self, key: str | int) -> Ctx:
        """The context of a child value."""
        return Ctx(self.src, join_path(self.key_path, key))

    @property
    def line(self) -> int | None:
        """Line of this value in its file, where known."""
        return self.src.line_for(self.key_path)

    def error(self, message: str, fix: str = "") -> ConfigError:
        """A ConfigError located at this value."""
        return ConfigError(
            message,
            path=self.src.path,
            key_path=self.key_path,
            line=self.line,
            fix=fix,
            display_path=self.src.display,
        )
