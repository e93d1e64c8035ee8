"""HTML and XML assertions: is-html, contains-html, is-xml, contains-xml.

- ``contains-html``: promptfoo's indicator heuristic -- paired tags, self-closing tags,
  entities, a DOCTYPE, comments, attributes and well-known tag names each add points; two or
  more points means HTML (so ``a < b`` or a lone ``<example>`` is not HTML).
- ``is-html``: the whole (trimmed) output is HTML: no text outside elements unless the output
  supplies its own ``<body>``, at least one recognised HTML5 element (or custom element with a
  hyphen), and not an XML document.
- ``is-xml``: well-formed XML (``xml.etree``/expat). A DOCTYPE with an internal subset (a
  ``[`` outside quotes) or a malformed external id (promptfoo: a ``#`` in the system id) and
  ``<!ENTITY`` declarations are rejected before parsing (no entity expansion, no fetches).
  ``requiredElements`` (``value: {requiredElements: [...]}``, a list, or a comma-separated
  string) are dotted paths in fast-xml-parser's shape: the first segment is the root tag
  (with its prefix, if any), repeated elements form a list (index with a number), attributes
  are ``@_name``.
- ``contains-xml``: promptfoo 0.123.1's candidates (:func:`xml_candidates`): runs of sibling
  elements joined, then outermost elements; an element nested in a balanced one is not tried
  alone. Candidates are read leniently, like fast-xml-parser (a bare ``&``, boolean
  attributes); passes if one has the required elements.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

from ._helpers import binary, describe_value, js_string, output_text, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult

# --- contains-html -----------------------------------------------------------------------

_OPEN_TAG = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?>")
_CLOSE_TAG = re.compile(r"</[a-zA-Z][a-zA-Z0-9-]*\s*>")
_SELF_CLOSING = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?/>")
_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);")
_DOCTYPE = re.compile(r"<!DOCTYPE\s+html", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ATTRIBUTE = re.compile(r"\s[a-zA-Z-]+=\s*[\"'][^\"']*[\"']")
_COMMON_TAG = re.compile(
    r"<(?:html|head|body|div|span|p|a|img|h[1-6]|ul|ol|li|table|tr|td|th|form|input|button|"
    r"script|style|link|meta|br|hr)\b",
    re.IGNORECASE,
)
_MAX_MARKUP = 10 * 1024 * 1024


def html_indicators(text: str) -> int:
    """How strongly ``text`` looks like HTML (promptfoo's points; >= 2 means HTML)."""
    if len(text) > _MAX_MARKUP:
        return 0
    points = 0
    has_open, has_close = bool(_OPEN_TAG.search(text)), bool(_CLOSE_TAG.search(text))
    points += 2 if has_open and has_close else 1 if has_open or has_close else 0
    points += 1 if _SELF_CLOSING.search(text) else 0
    points += 1 if _ENTITY.search(text) else 0
    points += 2 if _DOCTYPE.search(text) else 0
    points += 1 if _COMMENT.search(text) else 0
    points += 1 if _ATTRIBUTE.search(text) else 0
    points += 2 if _COMMON_TAG.search(text) else 0
    return points


def handle_contains_html(call: AssertionCall) -> GradingResult:
    """``contains-html``: the output contains HTML (two or more indicators)."""
    return binary(
        call,
        html_indicators(output_text(call.output)) >= 2,
        "Expected output to contain HTML content",
        "Expected output to not contain HTML content",
    )


# --- is-html -----------------------------------------------------------------------------

HTML_ELEMENTS = frozenset(
    """
        html head title base link meta style body article section nav aside h1 h2 h3 h4 h5 h6
        header footer address p hr pre blockquote ol ul li dl dt dd figure figcaption main div a
        em strong small s cite q dfn abbr ruby rt rp data time code var samp kbd sub sup i b u
        mark bdi bdo span br wbr img iframe embed object param picture source video audio track
        map area svg math script noscript canvas ins del table caption colgroup col tbody thead
        tfoot tr td th form label input button select datalist optgroup option textarea output
        progress meter fieldset legend details summary dialog menu slot template
        """.split()  # noqa: SIM905
)
_VOID = frozenset(
    """
        area base br col embed hr img input link meta source track wbr param
        """.split()  # noqa: SIM905
)


class _HtmlShape(HTMLParser):
    """Collects what is-html needs: stray top-level text and recognised elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.stray_text = False
        self.recognised = False
        self.saw_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HTML_ELEMENTS or "-" in tag:
            self.recognised = True
        if tag == "body":
            self.saw_body = True
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HTML_ELEMENTS or "-" in tag:
            self.recognised = True

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        outside = not self.stack or self.stack == ["html"]
        if data.strip() and outside:
            self.stray_text = True


def validate_html(text: str) -> tuple[bool, str]:
    """(is the whole output HTML?, reason)."""
    trimmed = text.strip()
    if not trimmed:
        return False, "Output is empty"
    if len(trimmed) > _MAX_MARKUP:
        return False, "Output exceeds maximum size limit"
    if re.match(r"<\?xml", trimmed, re.IGNORECASE):
        return False, "Output appears to be XML, not HTML"
    shape = _HtmlShape()
    shape.feed(trimmed)
    shape.close()
    if shape.stray_text and not shape.saw_body:
        return False, "Output must be wrapped in HTML tags"
    if not shape.recognised:
        return False, "Output does not contain recognized HTML elements"
    return True, "Output is valid HTML"


def handle_is_html(call: AssertionCall) -> GradingResult:
    """``is-html``: the whole output is an HTML document or fragment."""
    ok, reason = validate_html(output_text(call.output))
    return binary(call, ok, reason, "Expected output to not be HTML")


# --- XML ---------------------------------------------------------------------------------


def _required_elements(call: AssertionCall) -> list[str]:
    """promptfoo's value forms: a comma-separated string, a list, or
    ``{requiredElements: [...]}``; nothing (or an empty list/object) requires nothing."""
    value = call.value
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list):
        return [describe_path(v) for v in value]
    if isinstance(value, dict):
        if not value:
            return []
        unknown = set(value) - {"requiredElements"}
        req = value.get("requiredElements")
        if unknown or not isinstance(req, list):
            raise AssertionConfigError(
                f'"{type_name(call)}" value must be a string, a list, or an object with a '
                f"requiredElements list; got {describe_value(value)}. "
                'Fix: `value: {requiredElements: ["root.child"]}`.'
            )
        return [describe_path(v) for v in req]
    raise AssertionConfigError(
        f'"{type_name(call)}" value must be a string, a list, or an object with '
        f"requiredElements; got {describe_value(value)}. Fix: `value: {{requiredElements: "
        '["root.child"]}}`.'
    )


def describe_path(value: Any) -> str:
    """A required-element entry as text (JavaScript's ``toString``: ``1`` -> "1")."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_string(value)
    raise AssertionConfigError(
        f"a requiredElements entry must be a dotted element path; got {describe_value(value)}"
    )


# --- XML names and tags (XML 1.0 name characters, as promptfoo's scanner reads them) -------

_NAME_START_RANGES = (
    (0x3A, 0x3A), (0x5F, 0x5F), (0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6),
    (0xF8, 0x2FF), (0x370, 0x37D), (0x37F, 0x1FFF), (0x200C, 0x200D), (0x2070, 0x218F),
    (0x2C00, 0x2FEF), (0x3001, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFFD), (0x10000, 0xEFFFF),
)  # fmt: skip
_NAME_EXTRA_RANGES = ((0x2D, 0x2E), (0x30, 0x39), (0xB7, 0xB7), (0x300, 0x36F), (0x203F, 0x2040))


def _name_start(ch: str) -> bool:
    c = ord(ch)
    return any(lo <= c <= hi for lo, hi in _NAME_START_RANGES)


def _name_char(ch: str) -> bool:
    c = ord(ch)
    return _name_start(ch) or any(lo <= c <= hi for lo, hi in _NAME_EXTRA_RANGES)


def read_xml_name(text: str, start: int) -> int:
    """End index of the XML name starting at ``start`` (``start`` itself when there is none)."""
    if start >= len(text) or not _name_start(text[start]):
        return start
    end = start + 1
    while end < len(text) and _name_char(text[end]):
        end += 1
    return end


def _tag_end(text: str, start: int) -> int:
    """Index of the ``>`` closing the tag at ``start`` (quotes respected), -1 if a ``<`` or the
    end of the text comes first."""
    quote = ""
    for i in range(start + 1, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "<":
            return -1
        elif ch == ">":
            return i
    return -1


def _declaration_end(text: str, start: int) -> int:
    """End index (inclusive) of a ``<!...>`` or ``<?...?>`` construct at ``start``."""
    for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")):
        if text.startswith(opener, start):
            found = text.find(closer, start + len(opener))
            return len(text) - 1 if found == -1 else found + len(closer) - 1
    quote, depth = "", 0
    for i in range(start + 2, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]" and depth > 0:
            depth -= 1
        elif ch == ">" and depth == 0:
            return i
    return len(text) - 1


def _read_tag(text: str, start: int) -> tuple[str, int, str] | None:
    """(kind, end, name) of the tag at ``text[start] == '<'``; kind is "decl", "close",
    "open" or "empty" (self-closing). None when it is not a tag."""
    nxt = text[start + 1 : start + 2]
    if not nxt:
        return None
    if nxt in "!?":
        return "decl", _declaration_end(text, start), ""
    closing = nxt == "/"
    name_at = start + 2 if closing else start + 1
    name_end = read_xml_name(text, name_at)
    if name_end == name_at:
        return None
    end = _tag_end(text, start)
    if end == -1:
        return None
    name = text[name_at:name_end]
    if closing:
        return "close", end, name
    return ("empty" if text[start + 1 : end].rstrip().endswith("/") else "open"), end, name


def xml_candidates(text: str) -> list[tuple[int, int]]:
    """Spans of the XML candidates in ``text``, in the order contains-xml tries them.

    Balanced elements are found with a stack (a mismatched closing tag forgets all open
    ones). Elements whose parent element is itself balanced are not tried alone; runs of
    sibling elements (at the top level, or under an unbalanced parent) are first tried
    joined, text between them included; then every outermost element, earliest first."""
    stack: list[tuple[str, int]] = []
    found: list[tuple[int, int, int | None]] = []  # (start, end, parent start)
    i = 0
    while i < len(text):
        if text[i] != "<":
            i += 1
            continue
        tag = _read_tag(text, i)
        if tag is None:
            i += 1
            continue
        kind, end, name = tag
        parent = stack[-1][1] if stack else None
        if kind == "empty":
            found.append((i, end + 1, parent))
        elif kind == "open":
            stack.append((name, i))
        elif kind == "close":
            if stack and stack[-1][0] == name:
                _, start = stack.pop()
                found.append((start, end + 1, stack[-1][1] if stack else None))
            else:
                stack.clear()
        i = end + 1
    starts = {start for start, _, _ in found}
    ordered: list[tuple[int, int]] = []
    by_parent: dict[int | None, list[tuple[int, int]]] = {}
    for start, end, parent in found:
        by_parent.setdefault(parent, []).append((start, end))
    for parent, siblings in by_parent.items():
        if len(siblings) <= 1 or (parent is not None and parent in starts):
            continue
        siblings.sort()
        ordered.append((siblings[0][0], siblings[-1][1]))
    outermost = sorted(
        ((start, end) for start, end, parent in found if parent is None or parent not in starts),
        key=lambda span: (span[0], -span[1]),
    )
    for span in outermost:
        if span not in ordered:
            ordered.append(span)
    return ordered


# --- lenient reading into fast-xml-parser's data shape -----------------------------------

_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


def _attr_value(raw: str) -> Any:
    return _scalar(raw) if raw.strip() else raw


def _lenient_data(text: str) -> dict[str, Any]:
    """``text`` (possibly several elements with text between) as fast-xml-parser would give
    it: children by tag name, repeated tags as lists, attributes as ``@_name``, leaf text as
    a scalar. Tags are assumed balanced (they come from :func:`xml_candidates`)."""
    root: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any], list[str]]] = [("", root, [])]

    def add(parent: dict[str, Any], key: str, value: Any) -> None:
        if key in parent:
            old = parent[key]
            parent[key] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            parent[key] = value

    def finish(node: dict[str, Any], texts: list[str]) -> Any:
        body = "".join(texts).strip()
        if not node:
            return _scalar(body) if body else ""
        if body:
            node["#text"] = _scalar(body)
        return node

    i = 0
    while i < len(text):
        lt = text.find("<", i)
        if lt == -1:
            stack[-1][2].append(text[i:])
            break
        stack[-1][2].append(text[i:lt])
        tag = _read_tag(text, lt)
        if tag is None:
            stack[-1][2].append("<")
            i = lt + 1
            continue
        kind, end, name = tag
        if kind == "decl":
            if text.startswith("<![CDATA[", lt):
                stack[-1][2].append(text[lt + 9 : max(lt + 9, end - 2)])
            i = end + 1
            continue
        if kind == "close":
            if len(stack) > 1:
                tag_name, closed, texts = stack.pop()
                add(stack[-1][1], tag_name, finish(closed, texts))
            i = end + 1
            continue
        attrs_text = text[lt + 1 + len(name) : end]
        if kind == "empty":
            attrs_text = attrs_text.rstrip()[:-1]
        node: dict[str, Any] = {}
        for m in _ATTR.finditer(attrs_text):
            raw = next((g for g in m.groups()[1:] if g is not None), None)
            node[f"@_{m.group(1)}"] = True if raw is None else _attr_value(raw)
        if kind == "empty":
            add(stack[-1][1], name, node or "")
        else:
            stack.append((name, node, []))
        i = end + 1
    return root


def _scalar(text: str) -> Any:
    t = text.strip()
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def _has_path(data: Any, path: list[str]) -> bool:
    current = data
    for key in path:
        if isinstance(current, list):
            if not key.isdigit() or str(int(key)) != key or int(key) >= len(current):
                return False
            current = current[int(key)]
        elif isinstance(current, dict):
            if key not in current:
                return False
            current = current[key]
        else:
            return False
    return True


def _missing(data: Any, required: list[str]) -> list[str]:
    return [r for r in required if not _has_path(data, r.split("."))]


# --- is-xml: well-formedness, DOCTYPE rules -----------------------------------------------

_WS = " \t\r\n"
_PUBLIC_ID = re.compile(r"^[\x20\r\na-zA-Z0-9'()+,./:=?;!*#@$_%-]*$")


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _quoted(text: str, i: int) -> tuple[str, int] | None:
    if i >= len(text) or text[i] not in "\"'":
        return None
    close = text.find(text[i], i + 1)
    return None if close == -1 else (text[i + 1 : close], close + 1)


def _system_literal_ends(text: str, i: int) -> bool:
    at = _skip_ws(text, i)
    if at == i:
        return False
    lit = _quoted(text, at)
    return bool(lit and "#" not in lit[0] and _skip_ws(text, lit[1]) == len(text))


def doctype_problem(doctype: str) -> str | None:
    """Why a DOCTYPE body (the text after ``<!DOCTYPE``) is refused, or None."""
    quote = ""
    for ch in doctype:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            return "DTD internal subsets are not supported by is-xml validation"
    i = _skip_ws(doctype, 0)
    name_end = read_xml_name(doctype, i)
    ok = i > 0 and name_end > i
    if ok:
        at = _skip_ws(doctype, name_end)
        if at == len(doctype):
            return None
        if at == name_end:
            ok = False
        elif doctype.startswith("SYSTEM", at):
            ok = _system_literal_ends(doctype, at + 6)
        elif doctype.startswith("PUBLIC", at):
            lit_at = _skip_ws(doctype, at + 6)
            lit = _quoted(doctype, lit_at) if lit_at > at + 6 else None
            ok = bool(lit and _PUBLIC_ID.match(lit[0]) and _system_literal_ends(doctype, lit[1]))
        else:
            ok = False
    return None if ok else "XML parsing failed: Malformed DOCTYPE declaration"


_DOCTYPE_AT = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ENTITY_REF = re.compile(r"&([^\s&;#<>]+);")
_PREDEFINED = frozenset({"lt", "gt", "amp", "quot", "apos"})
_STANDALONE_YES = re.compile(r"<\?xml[^>]*\bstandalone\s*=\s*[\"']yes[\"']")


def _external_id(text: str, doctype: re.Match[str]) -> bool:
    """The DOCTYPE at ``doctype`` names an external DTD (SYSTEM or PUBLIC)."""
    body = text[doctype.end() : _declaration_end(text, doctype.start())]
    at = _skip_ws(body, read_xml_name(body, _skip_ws(body, 0)))
    return body.startswith(("SYSTEM", "PUBLIC"), at)


def _for_expat(text: str, *, external_dtd: bool) -> str:
    """``text`` adjusted where expat and promptfoo's XML reader (saxes) disagree: names with
    characters beyond U+FFFF (XML 1.0 fifth edition) are allowed; with an external DTD and no
    ``standalone="yes"``, undeclared entity references are left alone, as promptfoo does."""
    text = _ASTRAL.sub("a", text)
    if external_dtd and not _STANDALONE_YES.match(text.lstrip("\ufeff")):
        text = _ENTITY_REF.sub(lambda m: m.group(0) if m.group(1) in _PREDEFINED else "", text)
    return text


_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)


def validate_xml(text: str, required: list[str]) -> tuple[bool, str]:
    """(the whole text is well-formed XML with the required elements?, reason)."""
    m = _DOCTYPE_AT.search(text)
    if m:
        end = _declaration_end(text, m.start())
        problem = doctype_problem(text[m.end() : end])
        if problem:
            return False, problem
    if _ENTITY_DECL.search(text):
        return False, "DTD internal subsets are not supported by is-xml validation"
    try:
        ET.fromstring(_for_expat(text, external_dtd=m is not None and _external_id(text, m)))
    except ET.ParseError as exc:
        return False, f"XML parsing failed: {exc}"
    missing = _missing(_lenient_data(text), required)
    if missing:
        return False, f"XML is missing required elements: {', '.join(missing)}"
    return True, "XML is valid and contains all required elements"


def handle_is_xml(call: AssertionCall) -> GradingResult:
    """``is-xml``: the whole output is well-formed XML with the required elements."""
    required = _required_elements(call)
    ok, reason = validate_xml(output_text(call.output), required)
    return binary(call, ok, reason, "Expected output to not be valid XML")


def handle_contains_xml(call: AssertionCall) -> GradingResult:
    """``contains-xml``: some XML candidate (see :func:`xml_candidates`) has the required
    elements. Candidates are read leniently, as promptfoo reads them (a bare ``&`` or a
    boolean attribute is fine); one inside an already-tried candidate is skipped."""
    required = _required_elements(call)
    text = output_text(call.output)
    candidates = xml_candidates(text)
    if not candidates:
        return binary(
            call, False, "No XML content found in the output", "Expected output to not contain XML"
        )
    tried: list[tuple[int, int]] = []
    for start, end in candidates:
        if any(a <= start and end <= b for a, b in tried):
            continue
        if not _missing(_lenient_data(text[start:end]), required):
            return binary(call, True, "", "Expected output to not contain valid XML")
        tried.append((start, end))
    return binary(
        call,
        False,
        "No valid XML content found matching the requirements",
        "Expected output to not contain valid XML",
    )


HANDLERS: dict[str, BuiltinHandler] = {
    "is-html": handle_is_html,
    "contains-html": handle_contains_html,
    "is-xml": handle_is_xml,
    "contains-xml": handle_contains_xml,
}
