"""Fenced code blocks of the documentation, and the convention that says how each one is run.

A block is run according to its language, unless the line just before it is a marker:

    <!-- docs-test: skip <reason> -->      not run (the reason is required)
    <!-- docs-test: file <path> -->        written to <path> (relative to the page's working
                                           directory) for the page's later commands
    <!-- docs-test: fails <reason> -->     a shell block that must exit non-zero
    <!-- docs-test: background -->         a shell command that serves (the emulator): started,
                                           waited for on its --port, stopped after the page

Without a marker: ``bash``/``sh`` blocks run in one shell session per page (exports and ``cd``
carry over from block to block), ``python`` blocks run as scripts, ``yaml`` blocks must parse
(a ``--8<-- "path"`` include is read from docs/ first) and ``ini`` blocks must parse. Blocks
without a language, or in ``text``/``json``/``csv``/``console`` output, are shown output, not
code. Any other language is an error, so a new kind of block cannot slip through unrun.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"

RUN_LANGS = frozenset({"bash", "sh", "python", "yaml", "ini"})
SHOWN_LANGS = frozenset({"", "text", "json", "csv", "console"})
KINDS = frozenset({"skip", "file", "fails", "background"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>[\w-]+)\s*(?P<arg>.*?)\s*-->\s*$")


@dataclasses.dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, from 1
    lang: str
    body: str
    kind: str | None = None  # the marker's kind, if any
    arg: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUN_LANGS and self.kind != "skip"


def pages() -> list[Path]:
    """Every page whose blocks are run: the docs site, the README and the example's README."""
    return [
        *sorted(DOCS.rglob("*.md")),
        ROOT / "README.md",
        ROOT / "example_project" / "README.md",
    ]


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        if j == len(lines):
            raise ValueError(f"{page}:{i + 1}: code fence is never closed")
        body = "".join(ln.removeprefix(indent) + "\n" for ln in lines[i + 1 : j])
        mark = _MARK.match(lines[i - 1]) if i else None
        out.append(
            Block(
                page,
                i + 1,
                m["lang"].lower(),
                body,
                mark["kind"] if mark else None,
                mark["arg"] if mark else "",
            )
        )
        i = j + 1
    return out


def problems(block: Block) -> list[str]:
    """What is wrong with a block's language or marker (empty when it is fine)."""
    where = block.where
    if block.lang not in RUN_LANGS | SHOWN_LANGS:
        return [f"{where}: language {block.lang!r} is neither run nor known as output"]
    if block.kind is None:
        return []
    if block.kind not in KINDS:
        return [f"{where}: unknown docs-test marker {block.kind!r} (use one of {sorted(KINDS)})"]
    if block.kind in ("skip", "fails", "file") and not block.arg:
        return [f"{where}: docs-test: {block.kind} needs a reason or a path"]
    if block.kind in ("fails", "background") and block.lang not in ("bash", "sh"):
        return [f"{where}: docs-test: {block.kind} is for shell blocks"]
    return []


def include(body: str) -> str:
    """Resolve a pymdownx.snippets include (``--8<-- "path"``, relative to docs/)."""
    m = re.fullmatch(r'\s*--8<--\s+"([^"]+)"\s*', body)
    return (DOCS / m[1]).read_text(encoding="utf-8") if m else body
