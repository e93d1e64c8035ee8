"""Run promptfoo ``regex`` values (JavaScript ``new RegExp(source)``, no flags), bounded in time.

Patterns are compiled with the ``regex`` package (``VERSION0``, which reads ``re`` syntax) for
its matching time limit: a pattern such as ``^(a|a)+$`` on a long near-match backtracks for
ever, and no other engine here could be stopped. `BoundedPattern.search` gives up after the
context's user-code limit (``evaluateOptions.timeoutMs``, else the executor's default; see
`pytest_cfgateway.usercode.current_limit`) with `usercode.UserCodeTimeout` naming the
pattern, which makes the item an error. The ``regex`` package checks its clock between
steps, so the stop comes late on a loaded machine (seen: up to a few times the limit).

promptfoo builds ``new RegExp(value)`` and calls ``.test(output)``: a search anywhere, no
flags (``/pattern/i`` literal syntax is *not* special: it matches the text ``/pattern/i``).
`translate_js_regex` rewrites the JavaScript source so that Python matches the same strings.

Differences handled (outside and inside character classes as noted):

- ``(?<name>...)`` -> ``(?P<name>...)``; ``\\k<name>`` -> ``(?P=name)``.
- ``$`` means end of input in JS (no ``m`` flag); Python's ``$`` also matches before a final
  newline, so ``$`` -> ``\\Z`` (outside classes).
- ``.`` excludes ``\\n``, ``\\r``, ``\\u2028``, ``\\u2029`` in JS (Python: only ``\\n``).
- ``\\d``, ``\\w``, ``\\b`` are ASCII in JS: the pattern is compiled with ``re.ASCII``; ``\\s``/
  ``\\S`` are Unicode in JS, so they are spelled out as the JS whitespace set.
- Identity escapes: JS (non-``u`` mode) reads ``\\A``, ``\\Z``, ``\\a``, ``\\e``, ``\\z``, ``\\p``,
  ``\\q``... as the bare letter; Python treats some as anchors and rejects the rest. They become
  the literal letter. ``\\x`` and ``\\u`` without enough hex digits become ``x``/``u``;
  ``\\cX`` becomes the control character.
- ``[^]`` (any character) -> ``[\\s\\S]``; ``[]`` (never matches) -> ``(?!)``.
- Inside classes ``[``, ``&``, ``~``, ``|`` are escaped (Python warns about nested sets and set
  operations there) and ``\\b`` means backspace in both.
- ``x{,3}`` is literal text in JS; Python would read a quantifier, so ``{`` is escaped there.

Not handled (documented limits): case-insensitive matching under ``(?i)`` is ASCII-only with
``re.ASCII``; Python accepts some syntax JS rejects (``(?i)``, ``(?#...)``, ``(?P<n>``) and
rejects variable-width lookbehind that modern JS allows -- that raises ``re.error``, which the
``regex`` handler reports as a config error.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .. import usercode

# JavaScript's \s: WhiteSpace + LineTerminator code points (ECMA-262).
_JS_SPACE = (
    "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_JS_DOT = "[^\\n\\r\\u2028\\u2029]"
_KNOWN_ESCAPES = set("dDwWsSbBnrtvf0")
_HEX = set("0123456789abcdefABCDEF")


def translate_js_regex(source: str) -> str:
    """Rewrite a JavaScript RegExp source into an equivalent Python pattern (see module doc)."""
    out: list[str] = []
    i, n = 0, len(source)
    in_class = False
    class_start = -1
    while i < n:
        ch = source[i]
        if ch == "\\":
            piece, i = _escape(source, i, in_class)
            out.append(piece)
            continue
        if in_class:
            if ch == "]":
                in_class = False
                out.append("]")
            elif ch in "[&~|":
                out.append("\\" + ch)
            elif ch == "-" and i > class_start and source[i - 1] == "-":
                out.append("\\-")
            else:
                out.append(ch)
            i += 1
            continue
        if ch == "[":
            if source.startswith("[^]", i):
                out.append("[\\s\\S]")
                i += 3
                continue
            if source.startswith("[]", i):
                out.append("(?!)")
                i += 2
                continue
            in_class = True
            out.append("[")
            i += 1
            if i < n and source[i] == "^":
                out.append("^")
                i += 1
            class_start = i
            if i < n and source[i] == "]":
                # unreachable for JS ("[]" handled above) but keep "]" literal if it appears
                out.append("\\]")
                i += 1
            continue
        if ch == "(" and source.startswith("(?<", i) and i + 3 < n and source[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        if ch == "$":
            out.append("\\Z")
        elif ch == ".":
            out.append(_JS_DOT)
        elif ch == "{" and source.startswith("{,", i):
            out.append("\\{")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _escape(source: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape sequence starting at ``source[i] == '\\\\'``."""
    n = len(source)
    if i + 1 >= n:
        return "\\\\", i + 1  # trailing backslash: JS syntax error; Python too -> keep literal
    nxt = source[i + 1]
    if nxt == "s":
        return (_JS_SPACE if in_class else f"[{_JS_SPACE}]"), i + 2
    if nxt == "S":
        if in_class:
            # [^...] cannot be nested inside a class; \S inside a class is rare: approximate
            return "\\S", i + 2
        return f"[^{_JS_SPACE}]", i + 2
    if nxt == "k" and not in_class and i + 2 < n and source[i + 2] == "<":
        end = source.find(">", i + 3)
        if end > 0:
            return f"(?P={source[i + 3 : end]})", end + 1
        return "k", i + 2
    if nxt == "x":
        hexpart = source[i + 2 : i + 4]
        if len(hexpart) == 2 and set(hexpart) <= _HEX:
            return "\\x" + hexpart, i + 4
        return "x", i + 2
    if nxt == "u":
        hexpart = source[i + 2 : i + 6]
        if len(hexpart) == 4 and set(hexpart) <= _HEX:
            return "\\u" + hexpart, i + 6
        return "u", i + 2
    if nxt == "c":
        if i + 2 < n and source[i + 2].isascii() and source[i + 2].isalpha():
            return f"\\x{ord(source[i + 2]) % 32:02x}", i + 3
        return "\\\\c", i + 2
    if nxt.isdigit():
        j = i + 1
        while j < n and source[j].isdigit():
            j += 1
        return source[i:j], j
    if nxt.isascii() and nxt.isalpha():
        if nxt in _KNOWN_ESCAPES:
            return "\\" + nxt, i + 2
        return nxt, i + 2  # identity escape: \A -> A, \Z -> Z, \p -> p ...
    # punctuation and non-ASCII: escaped literal in both dialects
    return re.escape(nxt), i + 2


class BoundedPattern:
    """A compiled JavaScript regex whose `search` stops at the context's time limit."""

    def __init__(self, source: str, compiled: Any) -> None:
        self.source = source
        self.pattern: Any = compiled

    def search(self, text: str) -> Any:
        """The first match anywhere in ``text`` (a ``regex`` match object) or None."""
        limit = usercode.current_limit()
        try:
            return self.pattern.search(text, timeout=limit)
        except TimeoutError:
            what = (
                f"did not finish matching {len(text)} characters within "
                f"{limit * 1000:.0f} ms (catastrophic backtracking?)"
            )
            # the regex ran on the case's own thread, so the case's time limit may expire
            # while it ran (its clock is checked late on a loaded machine): named either way
            usercode.note_aborted(f"regex {self.source!r} {what}")
            raise usercode.UserCodeTimeout(f"regex {self.source!r}", what) from None


@functools.lru_cache(maxsize=256)
def compile_js_regex(source: str) -> BoundedPattern:
    """Compile a JavaScript RegExp source for ``.search``; raises ``re.error`` when invalid."""
    import regex  # the regex package: imported by the first pattern, not at start-up

    try:
        compiled = regex.compile(translate_js_regex(source), regex.ASCII | regex.VERSION0)
    except regex.error as exc:
        raise re.error(str(exc)) from None
    return BoundedPattern(source, compiled)
