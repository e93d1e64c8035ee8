"""HTML and XML assertions: is-html, contains-html, is-xml, contains-xml.

- ``contains-html``: promptfoo's indicator heuristic -- paired tags, self-closing tags,
  entities, a DOCTYPE, comments, attributes and well-known tag names each add points; two or
  more points means HTML (so ``a < b`` or a lone ``<example>`` is not HTML).
- ``is-html``: the whole (trimmed) output is HTML: no text outside elements unless the output
  supplies its own ``<body>``, at least one recognised HTML5 element (or custom element with a
  hyphen), and not an XML document.
- ``is-xml``: well-formed XML (``xml.etree``/expat). DTD internal subsets and ``<!ENTITY``
  declarations are rejected before parsing (no entity expansion, no external fetches).
  ``value: {requiredElements: ["root.child", "root.item.0"]}`` checks dotted paths in
  fast-xml-parser's shape: the first segment is the root tag, repeated elements form a list
  (index with a number), attributes are ``@_name``. Namespaced tags are matched by local name.
- ``contains-xml``: the same checks on balanced ``<tag>...</tag>`` fragments found in the
  text; passes if any fragment is well-formed and has the required elements.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

from ._helpers import binary, describe_value, output_text, type_name
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
    value = call.value
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        unknown = set(value) - {"requiredElements"}
        if unknown:
            raise AssertionConfigError(
                f'"{type_name(call)}" value has unknown keys {sorted(unknown)}. '
                'Fix: `value: {requiredElements: ["root.child"]}`.'
            )
        req = value.get("requiredElements", [])
    elif isinstance(value, list):
        req = value
    else:
        raise AssertionConfigError(
            f'"{type_name(call)}" value must be an object with requiredElements; got '
            f'{describe_value(value)}. Fix: `value: {{requiredElements: ["root.child"]}}`.'
        )
    if not isinstance(req, list) or not all(isinstance(r, str) and r for r in req):
        raise AssertionConfigError(
            f'"{type_name(call)}" requiredElements must be a list of dotted element paths, '
            'e.g. ["analysis.summary"].'
        )
    return list(req)


_DTD_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


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


def _as_data(elem: ET.Element) -> Any:
    """An element in fast-xml-parser's shape (children by tag, lists for repeats)."""
    children = list(elem)
    if not children and not elem.attrib:
        return _scalar(elem.text or "")
    out: dict[str, Any] = {f"@_{_local(k)}": _scalar(v) for k, v in elem.attrib.items()}
    for child in children:
        key = _local(child.tag)
        data = _as_data(child)
        if key in out:
            existing = out[key]
            out[key] = [*existing, data] if isinstance(existing, list) else [existing, data]
        else:
            out[key] = data
    text = (elem.text or "").strip()
    if text:
        out["#text"] = _scalar(text)
    return out


def _has_path(data: Any, path: list[str]) -> bool:
    current = data
    for key in path:
        if isinstance(current, list):
            if not key.isdigit() or int(key) >= len(current):
                return False
            current = current[int(key)]
        elif isinstance(current, dict):
            if key not in current:
                return False
            current = current[key]
        else:
            return False
    return True


def validate_xml(text: str, required: list[str]) -> tuple[bool, str, bool]:
    """(valid with required elements?, reason, well-formed?) for one XML document."""
    if _DTD_SUBSET.search(text) or _ENTITY_DECL.search(text):
        return False, "DTD internal subsets are not supported by is-xml validation", False
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return False, f"XML parsing failed: {exc}", False
    if not required:
        return True, "XML is valid", True
    try:
        data = {_local(root.tag): _as_data(root)}
    except RecursionError:
        return False, "XML is nested too deeply to check required elements", True
    missing = [r for r in required if not _has_path(data, r.split("."))]
    if missing:
        return False, f"XML is missing required elements: {', '.join(missing)}", True
    return True, "XML is valid and contains all required elements", True


# name, then optional attributes starting with whitespace or "/"; every alternative begins with
# a distinct character so the pattern cannot backtrack badly on unclosed tags.
_XML_TAG = re.compile(r"<(/?)([A-Za-z_:][\w.\-:]*)((?:[\s/](?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?)>")


def xml_fragments(text: str) -> list[str]:
    """Balanced ``<tag>...</tag>`` fragments of ``text``, outermost (and earliest) first."""
    stack: list[tuple[str, int]] = []
    spans: list[tuple[int, int]] = []
    for m in _XML_TAG.finditer(text):
        closing, name, attrs = m.groups()
        self_closing = attrs.rstrip().endswith("/")
        if closing:
            if stack and stack[-1][0] == name:
                _, start = stack.pop()
                spans.append((start, m.end()))
            else:
                stack.clear()
        elif self_closing:
            spans.append((m.start(), m.end()))
        else:
            stack.append((name, m.start()))
    spans.sort(key=lambda s: (s[0], -s[1]))
    outer: list[tuple[int, int]] = []
    inner: list[tuple[int, int]] = []
    reach = -1
    for span in spans:  # balanced spans nest or are disjoint: one sweep finds the outermost
        (inner if span[1] <= reach else outer).append(span)
        reach = max(reach, span[1])
    return [text[a:b] for a, b in outer + inner]


def handle_is_xml(call: AssertionCall) -> GradingResult:
    """``is-xml``: the whole output is well-formed XML with the required elements."""
    required = _required_elements(call)
    ok, reason, _ = validate_xml(output_text(call.output), required)
    return binary(call, ok, reason, "Expected output to not be valid XML")


def handle_contains_xml(call: AssertionCall) -> GradingResult:
    """``contains-xml``: some XML fragment in the output is valid with the required elements."""
    required = _required_elements(call)
    fragments = xml_fragments(output_text(call.output))
    if not fragments:
        return binary(
            call, False, "No XML content found in the output", "Expected output to not contain XML"
        )
    first_reason = ""
    for fragment in fragments:
        ok, reason, _ = validate_xml(fragment, required)
        if ok:
            return binary(call, True, reason, "Expected output to not contain valid XML")
        first_reason = first_reason or reason
    return binary(call, False, first_reason, "Expected output to not contain valid XML")


HANDLERS: dict[str, BuiltinHandler] = {
    "is-html": handle_is_html,
    "contains-html": handle_contains_html,
    "is-xml": handle_is_xml,
    "contains-xml": handle_contains_xml,
}
