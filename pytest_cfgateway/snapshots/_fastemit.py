"""A fast writer of the YAML that `yamlio.dump_yaml` writes (the committed cassettes).

Record writes one cassette per test, and PyYAML's dump (the representer's node objects in
Python, then libyaml's emitter) takes about 0.25 ms a cassette, the largest part of what a
recorded item costs beyond a live one. This writer produces the same bytes straight from
the plain data, for the shapes cassettes hold: mappings with string keys, lists, tuples,
``str``/``int``/``float``/``bool``/``None``; literal blocks and ``!lines`` for multi-line
strings (`yamlio`'s representers), flow lists of numbers.

The bytes are those of PyYAML's C emitter (libyaml 0.2.5, the one `dump_yaml` uses), whose
rules are followed here one by one: which single-line strings are plain, single- or
double-quoted (`_analysis` mirrors ``yaml_emitter_analyze_scalar`` and
``yaml_emitter_select_scalar_style``), the ``|``/``|-``/``|+``/``|2-`` headers of literal
blocks, the indentation of nested blocks, the ``...`` that ends a document whose last literal
block keeps its trailing line breaks. Whatever it does not handle exactly (another type,
a subclass, a key that is not a short one-line string, a one-line string with a Unicode line
separator, nesting deeper than `_MAX_DEPTH`...) returns `NOT_FAST`, and the caller dumps the
data with PyYAML. tests/unit/snapshots/test_fastemit.py compares both writers byte for byte.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

#: Returned when the data is not in the subset this writer handles.
NOT_FAST: Any = object()

_MAX_DEPTH = 100
#: libyaml writes a key longer than this (in UTF-8 bytes) as a complex key (``? key``)
_MAX_SIMPLE_KEY_BYTES = 128

#: Characters libyaml does not print as they are (its ``IS_PRINTABLE``: tab, CR, NEL, other
#: controls, the BOM, U+FFFE/U+FFFF, surrogates and everything beyond the BMP): a string
#: holding one is written double-quoted, with escapes. (``\n`` is printable.)
_SPECIAL = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
#: Line breaks other than ``\n`` (libyaml's ``IS_BREAK``).
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
#: Characters a one-line string may not start with to be written plain.
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")
_SURROGATES = re.compile("[\ud800-\udfff]")

#: libyaml's escapes in double-quoted scalars (the rest: \\xXX, \\uXXXX, \\UXXXXXXXX)
_ESCAPES = {
    "\0": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
#: what a double-quoted scalar escapes: libyaml's non-printables, breaks, quote, backslash
_TO_ESCAPE = re.compile('[^\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]|["\\\\\u2028\u2029]')

_resolver = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"

#: one-line string -> its rendering (short ones: keys and values every cassette repeats)
_memo: dict[str, str] = {}
#: key -> its rendering (only keys that can be simple keys)
_key_memo: dict[str, str] = {}
_MEMO_MAX_LEN = 64
_MEMO_MAX_SIZE = 8192


class _NotFast(Exception):
    pass


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    found = _ESCAPES.get(ch)
    if found is not None:
        return found
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _double_quoted(text: str) -> str:
    if _SURROGATES.search(text) is not None:
        raise _NotFast  # not encodable: PyYAML raises its own error
    return '"' + _TO_ESCAPE.sub(_escape, text) + '"'


def _plain_allowed(s: str) -> bool:
    """libyaml's ``block_plain_allowed`` for a non-empty one-line string of printable
    characters (no line break, no tab)."""
    first = s[0]
    if first == " " or s[-1] == " " or first in _FIRST_INDICATORS:
        return False
    if first in "?:-" and (len(s) == 1 or s[1] == " "):
        return False
    if s.startswith(("---", "...")):
        return False
    return ": " not in s and " #" not in s and s[-1] != ":"


def _one_line(s: str) -> str:
    """The rendering of a string without ``\\n`` (a key or a value in block context; both
    come out the same for one-line strings)."""
    found = _memo.get(s)
    if found is not None:
        return found
    if _SPECIAL.search(s) is not None:
        out = _double_quoted(s)
    elif _OTHER_BREAKS.search(s) is not None:
        raise _NotFast  # U+2028/U+2029: a single-quoted scalar with a line break
    elif not s:
        out = "''"
    elif _plain_allowed(s) and _resolver.resolve(yaml.ScalarNode, s, (True, False)) == _STR:  # type: ignore[no-untyped-call]
        out = s
    else:
        out = "'" + s.replace("'", "''") + "'"
    if len(s) <= _MEMO_MAX_LEN and len(_memo) < _MEMO_MAX_SIZE:
        _memo[s] = out
    return out


def _key(key: Any) -> str:
    """A mapping key: a one-line string short enough for libyaml's simple keys."""
    if key.__class__ is not str:
        raise _NotFast
    found = _key_memo.get(key)
    if found is not None:
        return found
    if "\n" in key or _OTHER_BREAKS.search(key) is not None:
        raise _NotFast  # a multi-line key is a complex key (``? key``)
    if len(key.encode("utf-8", "surrogatepass")) > _MAX_SIMPLE_KEY_BYTES:
        raise _NotFast
    out = _one_line(key)
    if len(key) <= _MEMO_MAX_LEN and len(_key_memo) < _MEMO_MAX_SIZE:
        _key_memo[key] = out
    return out


def _number(value: Any) -> str:
    """``int``/``float``/``bool``/``None`` as PyYAML's safe representer writes them."""
    cls = value.__class__
    if cls is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if cls is int:
        return str(value)  # (always ``-?[0-9]+`` without leading zeros: a YAML int)
    if cls is float:
        if value != value:
            return ".nan"
        if value == float("inf"):
            return ".inf"
        if value == float("-inf"):
            return "-.inf"
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
        # (always a YAML float for Python's reprs; checked so a surprise falls back)
        if _resolver.resolve(yaml.ScalarNode, text, (True, False)) != _FLOAT:  # type: ignore[no-untyped-call]
            raise _NotFast
        return text
    raise _NotFast


#: Characters a literal block does not reproduce exactly: tab, CR, NEL, the Unicode line
#: separators, the BOM, other controls, surrogates, U+FFFE/U+FFFF (``\n`` is the line break).
_NOT_IN_BLOCK = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]"
)


def literal_block_ok(text: str) -> bool:
    """Whether ``text`` (multi-line) can be written as a literal block and read back exactly
    (no trailing spaces on a line, none of `_NOT_IN_BLOCK`)."""
    if text.endswith(" ") or " \n" in text:
        return False
    return _NOT_IN_BLOCK.search(text) is None


class _Writer:
    def __init__(self) -> None:
        self.out: list[str] = []
        #: the last literal block written keeps its final line breaks (``|+``): libyaml
        #: then ends the document with ``...``
        self.open_ended = False

    def literal(self, text: str, indent: int) -> str:
        """The header of a literal block holding ``text``, its lines written to `out`."""
        hint = "2" if text[0] in " \n" else ""
        if not text.endswith("\n"):
            chomp = "-"
            body = text
        else:
            body = text[:-1]
            chomp = "+" if (len(text) == 1 or text[-2] == "\n") else ""
        self.open_ended = chomp == "+"
        pad = " " * indent
        self.out.extend(f"{pad}{line}\n" if line else "\n" for line in body.split("\n"))
        return f"|{hint}{chomp}\n"

    def value(self, v: Any, indent: int, depth: int) -> None:
        """A mapping's value, after its ``key:`` (the mapping is at ``indent``)."""
        out = self.out
        cls = v.__class__
        if cls is str:
            if "\n" not in v:
                out.append(f" {_one_line(v)}\n")
                return
            self.multi_line(v, indent, depth, " ")
            return
        if cls is dict:
            if not v:
                out.append(" {}\n")
                return
            out.append("\n")
            self.mapping(v, indent + 2, depth + 1, None)
            return
        if cls is list or cls is tuple:
            flow = self.flow(v)
            if flow is not None:
                out.append(f" {flow}\n")
                return
            out.append("\n")
            self.sequence(v, indent, depth + 1, None)  # indentless, as PyYAML writes it
            return
        out.append(f" {_number(v)}\n")

    def multi_line(self, v: str, indent: int, depth: int, lead: str) -> None:
        """A string with ``\\n``: a literal block (or double-quoted, when libyaml finds a
        character it does not print), else ``!lines``; ``lead`` is what separates it from
        the ``key:`` or ``-`` before it."""
        out = self.out
        if literal_block_ok(v):
            if _SPECIAL.search(v) is not None:
                out.append(f"{lead}{_double_quoted(v)}\n")
                return
            at = len(out)
            out.append("")
            out[at] = lead + self.literal(v, indent + 2)
            return
        lines = v.split("\n")
        out.append(f"{lead}!lines\n")
        if lead == " ":  # a mapping's value: indentless
            self.sequence(lines, indent, depth + 1, None)
        else:  # a sequence's item: the sequence is indented under it
            self.sequence(lines, indent + 2, depth + 1, None)

    @staticmethod
    def flow(v: list[Any] | tuple[Any, ...]) -> str | None:
        """``[]``, or a flow list of numbers (`yamlio._represent_list`), else None."""
        if not v:
            return "[]"
        for item in v:
            if item.__class__ is not int and item.__class__ is not float:
                return None
        return "[" + ", ".join(_number(item) for item in v) + "]"

    def mapping(self, d: dict[Any, Any], indent: int, depth: int, first: str | None) -> None:
        """A block mapping at ``indent``; ``first``: the text before its first key when the
        key goes on the current line (after ``- ``), else None."""
        if depth > _MAX_DEPTH:
            raise _NotFast
        out = self.out
        pad = " " * indent
        lead = first if first is not None else pad
        keys = _key_memo
        strings = _memo
        for key, v in d.items():
            k = keys.get(key) if key.__class__ is str else None
            if k is None:
                k = _key(key)
            cls = v.__class__
            # the common one-line values inline (`value` does the same, with a call more)
            if cls is str and "\n" not in v:
                text = strings.get(v)
                out.append(f"{lead}{k}: {_one_line(v) if text is None else text}\n")
            elif cls is int:
                out.append(f"{lead}{k}: {v}\n")
            else:
                out.append(f"{lead}{k}:")
                self.value(v, indent, depth)
            lead = pad

    def sequence(
        self, items: list[Any] | tuple[Any, ...], indent: int, depth: int, first: str | None
    ) -> None:
        """A block sequence whose ``-`` are at ``indent``; ``first``: the text before its
        first ``-`` when it goes on the current line, else None."""
        if depth > _MAX_DEPTH:
            raise _NotFast
        out = self.out
        pad = " " * indent
        lead = first if first is not None else pad
        inner = indent + 2
        for v in items:
            prefix = f"{lead}- "
            lead = pad
            cls = v.__class__
            if cls is str:
                if "\n" not in v:
                    out.append(f"{prefix}{_one_line(v)}\n")
                else:
                    self.multi_line(v, indent, depth, prefix)
            elif cls is dict:
                if not v:
                    out.append(f"{prefix}{{}}\n")
                else:
                    self.mapping(v, inner, depth + 1, prefix)
            elif cls is list or cls is tuple:
                flow = self.flow(v)
                if flow is not None:
                    out.append(f"{prefix}{flow}\n")
                else:
                    self.sequence(v, inner, depth + 1, prefix)
            else:
                out.append(f"{prefix}{_number(v)}\n")


def fast_dump(data: Any) -> Any:
    """The text `yamlio.dump_yaml` writes for ``data`` (a ``dict``), or `NOT_FAST`."""
    if data.__class__ is not dict:
        return NOT_FAST
    if not data:
        return "{}\n"
    writer = _Writer()
    try:
        writer.mapping(data, 0, 0, None)
    except (_NotFast, ValueError, RecursionError):
        return NOT_FAST  # (ValueError: an int too long for str(); PyYAML says so itself)
    text = "".join(writer.out)
    if writer.open_ended:
        text += "...\n"
    return text
