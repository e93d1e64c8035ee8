"""``file://`` references: promptfoo's path rules, globs, and reading data files with lines."""

from __future__ import annotations

import dataclasses
import glob as globmod
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, Ctx, Source, did_you_mean, display_path, join_path
from .yaml12 import load_yaml

#: promptfoo's VALID_FILE_EXTENSIONS (src/prompts/constants.ts)
VALID_FILE_EXTENSIONS = (
    ".cjs",
    ".cts",
    ".js",
    ".json",
    ".jsonl",
    ".mjs",
    ".mts",
    ".py",
    ".ts",
    ".txt",
    ".yaml",
    ".yml",
)
JS_EXTENSIONS = (".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".jsx", ".tsx")
_GLOB_CHARS = re.compile(r"[*?{}\[\]]")
_FUNCTION_SUFFIX = re.compile(r"^(?P<path>.+?\.(?:py|js|cjs|mjs|ts|cts|mts))(?::(?P<fn>[\w.]+))$")


def maybe_file_path(text: str) -> bool:
    """promptfoo's ``maybeFilePath``: could this prompt string be a file reference?"""
    if "\n" in text or any(s in text for s in ("portkey://", "langfuse://", "helicone://")):
        return False
    tokens = text.split(":")
    return (
        text.startswith("file://")
        or any(
            tokens[-1].endswith(ext) or (len(tokens) > 1 and tokens[-2].endswith(ext))
            for ext in VALID_FILE_EXTENSIONS
        )
        or (len(text) >= 3 and text[-3] == ".")
        or (len(text) >= 4 and text[-4] == ".")
        or "*" in text
        or "/" in text
        or "\\" in text
    )


def strip_file_prefix(ref: str) -> str:
    """``file://x`` -> ``x`` (other strings unchanged)."""
    return ref[len("file://") :] if ref.startswith("file://") else ref


def split_function(ref: str) -> tuple[str, str | None]:
    """``x.py:fn`` -> (``x.py``, ``fn``); other refs -> (ref, None)."""
    m = _FUNCTION_SUFFIX.match(ref)
    if m:
        return m.group("path"), m.group("fn")
    return ref, None


def is_glob(ref: str) -> bool:
    """True when the path contains glob syntax (``* ? [ ] { }``)."""
    return bool(_GLOB_CHARS.search(ref))


def _expand_braces(pattern: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out: list[str] = []
    for choice in m.group(1).split(","):
        out.extend(_expand_braces(pattern[: m.start()] + choice + pattern[m.end() :]))
    return out


def glob_paths(base_dir: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` (relative to ``base_dir``), sorted, ``**`` and ``{a,b}`` ok."""
    found: set[Path] = set()
    for pat in _expand_braces(pattern):
        full = pat if Path(pat).is_absolute() else str(base_dir / pat)
        for hit in globmod.glob(full, recursive=True):
            p = Path(hit)
            if p.is_file():
                found.add(p)
    return sorted(found, key=lambda p: p.as_posix())


@dataclasses.dataclass
class Session:
    """State of one ``load_config`` call: base dir, env for templates, warnings."""

    config_path: Path
    base_dir: Path
    rootdir: Path | None
    env: Mapping[str, str]
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: ``nunjucksFilters``: name -> absolute path of the filter's JavaScript file
    nunjucks_filters: dict[str, str] = dataclasses.field(default_factory=dict)
    _warned: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)

    def warn_once(self, ctx: Ctx, kind: str, key: str, message: str) -> None:
        """Add ``message`` to the warnings once per (file, kind, key)."""
        mark = (ctx.src.display, kind, key)
        if mark not in self._warned:
            self._warned.add(mark)
            self.warnings.append(message)

    def unknown_key(self, ctx: Ctx, key: Any, what: str, known: Sequence[str]) -> None:
        """An unknown ``what`` key: warned about once per file and key, then ignored (as
        promptfoo, whose config schema is not strict, ignores it)."""
        hint = did_you_mean(str(key), known)
        kctx = ctx.at(str(key))
        line = kctx.line or ctx.line
        where = f"{ctx.src.display}:{line}" if line else ctx.src.display
        self.warn_once(
            ctx,
            what,
            str(key),
            f"{where}: {kctx.key_path}: unknown {what} key {str(key)!r} is ignored "
            f"(promptfoo ignores it too).{hint}".rstrip("."),
        )

    def display(self, path: Path) -> str:
        """Path as shown in messages and names: POSIX, relative to the rootdir."""
        return display_path(path, self.rootdir)

    def rel(self, path: Path) -> str:
        """Path relative to the config's directory (POSIX), as promptfoo labels show it."""
        try:
            return path.resolve().relative_to(self.base_dir.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    def source(self, path: Path, lines: Mapping[str, int] | None = None) -> Source:
        """A Source for messages about ``path``."""
        return Source(path, lines or {}, self.display(path))

    def resolve(self, ref: str) -> Path:
        """A ``file://`` or plain path, relative to the config directory."""
        p = Path(strip_file_prefix(ref)).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def require_file(self, ref: str, ctx: Ctx, what: str = "file") -> Path:
        """The resolved path of ``ref``; a ConfigError naming it when it does not exist."""
        path = self.resolve(ref)
        if not path.is_file():
            shown = self.display(path)
            if path.is_dir():
                raise ctx.error(
                    f"{what} {ref!r} is a directory ({shown}), not a file",
                    "point it at a file, or use a glob such as 'file://dir/*.yaml'",
                )
            raise ctx.error(
                f"{what} {ref!r} not found (looked for {shown})",
                "check the path; relative paths are resolved against the config's directory",
            )
        return path

    def read_text(self, path: Path, ctx: Ctx) -> str:
        """File text (UTF-8, BOM stripped) or a ConfigError."""
        try:
            return path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ctx.error(
                f"file not found: {self.display(path)}",
                "check the path; relative paths are resolved against the config's directory",
            ) from None
        except UnicodeDecodeError as exc:
            raise ctx.error(
                f"{self.display(path)} is not UTF-8 text ({exc.reason})",
                "save the file as UTF-8",
            ) from None
        except OSError as exc:
            raise ctx.error(f"cannot read {self.display(path)}: {exc.strerror}", "") from None

    def load_data(self, path: Path, ctx: Ctx) -> tuple[Any, Ctx]:
        """Parse a .yaml/.yml/.json/.jsonl file; return the data and a Ctx at its root."""
        text = self.read_text(path, ctx)
        suffix = path.suffix.lower()
        shown = self.display(path)
        if suffix in (".yaml", ".yml"):
            data, lines = load_yaml(text, path, shown)
            return data, Ctx(Source(path, lines, shown))
        if suffix == ".json":
            try:
                return json.loads(text), Ctx(Source(path, {"": 1}, shown))
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"invalid JSON: {exc.msg}",
                    path=path,
                    line=exc.lineno,
                    fix=f"correct the JSON near line {exc.lineno}, column {exc.colno}",
                    display_path=shown,
                ) from None
        if suffix == ".jsonl":
            items: list[Any] = []
            lines_map: dict[str, int] = {"": 1}
            for lineno, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(
                        f"invalid JSON on line {lineno}: {exc.msg}",
                        path=path,
                        line=lineno,
                        fix="each line of a .jsonl file must be one complete JSON value",
                        display_path=shown,
                    ) from None
                lines_map[join_path("", len(items) - 1)] = lineno
            return items, Ctx(Source(path, lines_map, shown))
        raise ctx.error(
            f"cannot read data from {shown}: unsupported file type {suffix or '(none)'!r}",
            "use a .yaml, .yml, .json or .jsonl file",
        )
