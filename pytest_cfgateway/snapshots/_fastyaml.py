"""A fast reader for the YAML that `yamlio.dump_yaml` writes (the committed cassettes).

Replay reads one cassette per test, and PyYAML builds a node object per scalar before our
builder walks them (about 0.2 ms a cassette, a tenth of a replayed item's time). This
reader parses the block style our dumper emits line by line, straight into plain data:

- mappings (``key: value`` / ``key:`` with a nested block), block sequences (``- ``,
  indentless under a key, entries that are mappings), literal blocks (``|``, ``|-``,
  ``|+``), one-line single- or double-quoted scalars (double ones without escapes), flow
  lists of plain scalars (``[1, 2.5]``), ``[]`` and ``{}``;
- plain scalars are resolved and built exactly as the safe loader does (same resolver,
  same constructors), so ``1``, ``1.0``, ``true``, ``null``, ``1e3``... come out the same.

It is strict: anything else (comments, blank lines outside a literal block, anchors,
tags such as ``!lines``, escapes, multi-line plain or quoted scalars, tabs, explicit
indentation indicators, non-printable characters, unusual indentation...) returns
`NOT_FAST`, and the caller parses the text with PyYAML (which also produces the errors).
A test compares both readers on generated and hand-written documents.
"""

from __future__ import annotations

import itertools
import operator
import re
from typing import Any

import yaml

#: Returned when the text is not in the subset this reader handles.
NOT_FAST: Any = object()

#: Characters whose presence sends the text to PyYAML: anything outside plain printable
#: text (tabs, CR, NEL, the Unicode line separators, BOM, controls, surrogates...).
_UNUSUAL = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
#: First characters of a plain scalar that make it something else (or need care).
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")
_MAX_DEPTH = 60
#: first characters of a value that `_Reader.value` treats as more than a plain scalar
_NOT_PLAIN_START = frozenset(" |'\"[{")
#: the bytes of ASCII text `_UNUSUAL` allows (line breaks and printable characters)
_USUAL_ASCII = bytes([10, *range(0x20, 0x7F)])

_STR = "tag:yaml.org,2002:str"


class _NotFast(Exception):
    pass


_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()
_CONSTRUCTORS = yaml.constructor.SafeConstructor.yaml_constructors
_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    }
)
#: plain scalar -> its value, for short scalars whose value is immutable (memoized: keys and
#: small numbers repeat in every cassette)
_plain_memo: dict[str, Any] = {}
_MEMO_MAX_LEN = 40
_MEMO_MAX_SIZE = 8192


def _plain(text: str) -> Any:
    """A plain scalar's value, as the safe loader builds it."""
    found = _plain_memo.get(text, _plain_memo)
    if found is not _plain_memo:
        return found
    if not text or text[0] in _INDICATORS or text[-1] == ":" or text[-1] == " ":
        raise _NotFast
    if text[0] == "-" and (len(text) == 1 or text[1] == " "):
        raise _NotFast
    if ": " in text or " #" in text:
        raise _NotFast
    if text.startswith(("---", "...")):
        raise _NotFast
    tag = _resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag == _STR:
        value: Any = text
    elif tag in _SCALAR_TAGS:  # the safe loader's own constructors (the tag names them)
        value = _CONSTRUCTORS[tag](_constructor, yaml.ScalarNode(tag, text))
    else:
        raise _NotFast  # (timestamps, merge keys and the like are left to PyYAML)
    if len(text) <= _MEMO_MAX_LEN and len(_plain_memo) < _MEMO_MAX_SIZE:
        _plain_memo[text] = value
    return value


def _quoted(text: str) -> tuple[str, str]:
    """A one-line quoted scalar at the start of ``text``: (value, rest of the line)."""
    quote = text[0]
    if quote == "'":
        end = 1
        parts = []
        while True:
            at = text.find("'", end)
            if at < 0:
                raise _NotFast  # continues on the next line
            if text.startswith("''", at):
                parts.append(text[end:at] + "'")
                end = at + 2
                continue
            parts.append(text[end:at])
            return "".join(parts), text[at + 1 :]
    at = text.find('"', 1)
    if at < 0 or "\\" in text[1:at]:
        raise _NotFast  # escapes, or continues on the next line
    return text[1:at], text[at + 1 :]


def _flow(text: str) -> Any:
    """``[]``, ``{}`` or a one-line flow list of plain scalars."""
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if not (text.startswith("[") and text.endswith("]")):
        raise _NotFast
    inner = text[1:-1]
    if any(ch in inner for ch in "[]{}'\"#:"):
        raise _NotFast
    return [_plain(part.strip()) for part in inner.split(",")]


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        #: each line without its indentation, and the indentation (-1 past the end)
        self.text: list[str] = list(map(str.lstrip, lines, itertools.repeat(" ", len(lines))))
        self.indents: list[int] = list(map(operator.sub, map(len, lines), map(len, self.text)))
        self.indents.append(-1)
        self.i = 0

    def indent_of(self, i: int) -> int:
        """Indentation of line ``i`` (-1 past the end); blank lines are not handled."""
        if i < len(self.lines) and not self.text[i]:
            raise _NotFast
        return self.indents[i]

    def node(self, indent: int, depth: int) -> Any:
        """The block node whose first line (``self.i``) is indented by ``indent``."""
        if depth > _MAX_DEPTH:
            raise _NotFast
        content = self.text[self.i]
        if content.startswith("- ") or content == "-":
            return self.sequence(indent, depth)
        return self.mapping(indent, content, depth)

    def mapping(self, indent: int, first: str, depth: int) -> dict[Any, Any]:
        """A block mapping at ``indent``; ``first`` is the text of its first entry (which
        may follow a ``- `` on the line)."""
        out: dict[Any, Any] = {}
        content = first
        memo = _plain_memo
        text = self.text
        indents = self.indents
        while True:
            at = content.find(": ")
            if at > 0 and content[0] not in "'\"":
                key = memo.get(content[:at], memo)
                if key is memo or key.__class__ is not str:
                    key, rest = self.key(content)
                else:
                    rest = content[at + 2 :]
            else:
                key, rest = self.key(content)
            self.i += 1
            value = memo.get(rest, memo) if rest else memo
            if value is memo:
                if rest and rest[0] not in _NOT_PLAIN_START:
                    value = _plain(rest)  # (what `value` ends with, without the call)
                else:
                    value = self.value(rest, indent, depth)
            out[key] = value
            i = self.i
            nxt = indents[i]
            if nxt != indent:
                if nxt > indent or (nxt >= 0 and not text[i]):
                    raise _NotFast
                return out
            content = text[i]
            if not content:
                raise _NotFast
            if content.startswith("- ") or content == "-":
                raise _NotFast  # a sequence entry after a scalar value: not ours

    def key(self, content: str) -> tuple[Any, str]:
        """Split ``key: rest`` (rest '' for ``key:``)."""
        if content[0] in "'\"":
            key, after = _quoted(content)
            if after == ":":
                return key, ""
            if after.startswith(": "):
                return key, after[2:]
            raise _NotFast
        at = content.find(": ")
        if at < 0:
            if not content.endswith(":"):
                raise _NotFast
            text, rest = content[:-1], ""
        else:
            text, rest = content[:at], content[at + 2 :]
        key = _plain(text)
        if key.__class__ not in (str, int):
            raise _NotFast  # (float/bool/null keys are left to PyYAML)
        return key, rest

    def value(self, rest: str, indent: int, depth: int) -> Any:
        """The value of an entry whose key line (indented by ``indent``) ended with
        ``rest``; consumes the lines of a nested block."""
        if not rest:
            nxt = self.indent_of(self.i)
            if nxt > indent:
                return self.node(nxt, depth + 1)
            if nxt == indent and self.text[self.i].startswith("- "):
                return self.sequence(indent, depth + 1)
            return None
        if rest[0] == " ":
            raise _NotFast
        first = rest[0]
        if first == "|":
            return self.literal(rest, indent)
        if first in "'\"":
            value, after = _quoted(rest)
            if after:
                raise _NotFast
            return value
        if first in "[{":
            return _flow(rest)
        return _plain(rest)

    def sequence(self, indent: int, depth: int) -> list[Any]:
        out: list[Any] = []
        while True:
            content = self.text[self.i]
            if not content.startswith("- "):
                raise _NotFast  # a bare '-' (a nested block on the next lines)
            item = content[2:]
            if not item or item[0] in " -?:":
                raise _NotFast  # nested sequences and other shapes PyYAML handles
            if self.is_entry(item):
                out.append(self.mapping(indent + 2, item, depth + 1))
            else:
                self.i += 1
                out.append(self.value(item, indent, depth))
            nxt = self.indent_of(self.i)
            if nxt < indent:
                return out
            if nxt > indent:
                raise _NotFast
            if not self.text[self.i].startswith("-"):
                return out  # the next key of the mapping that holds this sequence

    @staticmethod
    def is_entry(item: str) -> bool:
        """Whether a sequence item's text starts a mapping (``key: ...`` / ``key:``)."""
        if item[0] in "'\"":
            _value, after = _quoted(item)
            return after == ":" or after.startswith(": ")
        if item[0] in "[{|":
            return False
        return ": " in item or item.endswith(":")

    def literal(self, header: str, indent: int) -> str:
        """A literal block scalar (``|``, ``|-``, ``|+``) under a line indented by
        ``indent``; its lines are indented by ``indent + 2``, as our dumper writes them."""
        if header not in ("|", "|-", "|+"):
            raise _NotFast  # indentation indicators, folded blocks, comments
        block = indent + 2
        prefix = " " * block
        lines = self.lines
        n = len(lines)
        start = self.i
        if start >= n or not lines[start].startswith(prefix) or lines[start][block] == " ":
            raise _NotFast  # (a leading blank line or a deeper first line)
        body: list[str] = []
        i = start
        while i < n:
            line = lines[i]
            if line.startswith(prefix):
                rest = line[block:]
                if not rest.strip(" "):
                    raise _NotFast  # a line of spaces only
                body.append(rest)
            elif not line:
                body.append("")
            elif not line.strip(" "):
                raise _NotFast  # a line of spaces only
            else:
                break
            i += 1
        self.i = i  # trailing blank lines belong to the scalar (chomping decides)
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        text = "\n".join(body)
        if header == "|-":
            return text
        if header == "|":
            return text + "\n"
        return text + "\n" + "\n" * trailing


def fast_load(text: str) -> Any:
    """The data of ``text`` when it is in the subset described above, else `NOT_FAST`."""
    if not text.endswith("\n"):
        return NOT_FAST
    if text.isascii():  # (the usual case: deleting the usual bytes leaves nothing)
        if text.encode("ascii").translate(None, _USUAL_ASCII):
            return NOT_FAST
    elif _UNUSUAL.search(text) is not None:
        return NOT_FAST
    lines = text.split("\n")
    lines.pop()  # after the final line break
    if not lines or not lines[0] or lines[0][0] in " -#%":
        return NOT_FAST
    reader = _Reader(lines)
    try:
        data = reader.node(0, 0)
    except (_NotFast, IndexError):
        return NOT_FAST
    if reader.i != len(lines):
        return NOT_FAST
    return data
