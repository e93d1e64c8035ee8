"""Secret scrubbing: every value that came from a key, token or secret env var is replaced by
``<secret:NAME>`` before anything is fingerprinted or written.

Three layers keep secrets out of what users see:

- `Secrets` scrubs text and data (the raw value and its HTML/JSON-escaped forms), and finds
  fragments of a value (a repr cut in the middle) for the last-resort scrub of failure reports.
- `Secret` is a ``str`` whose ``repr`` is redacted: header values that carry a key or token
  are stored as `Secret`, so a request, a headers mapping or a frame's locals printed in a
  traceback (pytest ``-l``, ``--tb=long`` function arguments) never show the value.
- `check_header_value` refuses a value that cannot be sent (a pasted smart quote, a newline)
  with a message naming where it came from, before the HTTP layer would print it.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Env var names whose values count as secrets (with at least MIN_SECRET_LEN characters).
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
#: Provider config keys (besides `SECRET_CONFIG_KEYS`) whose string values are secrets.
SECRET_CONFIG_NAME = re.compile(
    r"(api_?key|secret|password|passwd|access_?token|auth_?token|credentials?)$", re.IGNORECASE
)
MIN_SECRET_LEN = 8
#: Shortest piece of a secret that the fragment scan (`Secrets.scrub_fragments`) looks for.
MIN_FRAGMENT_LEN = 8
#: Shortest secret whose pieces the fragment scan looks for (keys and tokens are longer).
MIN_FRAGMENT_SECRET_LEN = 16
#: Provider config keys whose (string) values are secrets.
SECRET_CONFIG_KEYS = frozenset({"apiKey", "cfAigToken"})
#: Request headers that never carry a secret (their values are not treated as secrets).
PUBLIC_HEADERS = frozenset(
    {
        "accept",
        "content-type",
        "user-agent",
        "anthropic-version",
        "anthropic-beta",
        "openai-beta",
        "x-stainless-lang",
    }
)


class Secret(str):
    """A string holding a secret: behaves as the value, but ``repr`` never shows it.

    ``str(s)``, f-strings and ``.encode()`` give the value (what is sent); ``repr(s)`` (what
    tracebacks, ``-l`` locals, pprint and dataclass reprs use) gives ``'<secret>'``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<secret>'"

    def __reduce__(self) -> tuple[Any, ...]:  # pickling keeps the type (xdist never sends it)
        return (Secret, (str(self),))


def secret(value: str) -> Secret:
    """``value`` as a `Secret` (idempotent)."""
    return value if isinstance(value, Secret) else Secret(value)


def _variants(value: str) -> set[str]:
    """The forms a value takes once written: raw, HTML-escaped, JSON-escaped."""
    out = {value, html.escape(value, quote=True), html.escape(value, quote=False)}
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])
    out.add(json.dumps(value)[1:-1])
    return {v for v in out if v}


class Secrets:
    """A set of named secret values. Longest values are replaced first."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._by_value: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._fragments: re.Pattern[str] | None = None
        self._variant_names: dict[str, str] = {}
        if items:
            self.update(items)

    def __repr__(self) -> str:
        return f"Secrets({len(self._by_value)} values: {', '.join(sorted(set(self.names())))})"

    def names(self) -> list[str]:
        return list(self._by_value.values())

    def values(self) -> list[str]:
        """The secret values (for tests and the write-time scans; never print them)."""
        return list(self._by_value)

    def add(self, name: str, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LEN and value not in self._by_value:
            self._by_value[str(value)] = name
            self._pattern = self._fragments = None

    def update(self, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            self.add(name, value)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        """Values of env vars whose names look secret (KEY, TOKEN, SECRET, PASSWORD)."""
        env = os.environ if env is None else env
        return cls({k: v for k, v in env.items() if SECRET_NAME.search(k)})

    def __contains__(self, value: object) -> bool:
        return value in self._by_value

    def __len__(self) -> int:
        return len(self._by_value)

    def __bool__(self) -> bool:
        return bool(self._by_value)

    def merged(self, other: Mapping[str, str] | Secrets | None) -> Secrets:
        out = Secrets()
        out._by_value = dict(self._by_value)
        if isinstance(other, Secrets):
            for value, name in other._by_value.items():
                out.add(name, value)
        elif other:
            out.update(other)
        return out

    def including(self, other: Mapping[str, str] | Secrets | None) -> Secrets:
        """These secrets and ``other``'s, for reading (scrubbing): ``self`` itself when
        ``other`` adds no value (the usual case: a request without literal keys), so its
        compiled pattern and the fingerprint memo keyed on it are reused; else a `merged`
        copy. Never ``add`` to the result."""
        if not other:
            return self
        values = other._by_value if isinstance(other, Secrets) else other.values()
        if all(v in self._by_value or not v or len(v) < MIN_SECRET_LEN for v in values):
            return self
        return self.merged(other)

    def _regex(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._by_value:
            self._variant_names = {
                form: name for value, name in self._by_value.items() for form in _variants(value)
            }
            forms = sorted(self._variant_names, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in forms))
        return self._pattern

    def scrub_text(self, text: str) -> str:
        """``text`` with every secret (raw, HTML- or JSON-escaped) as ``<secret:NAME>``."""
        rx = self._regex()
        if rx is None:
            return text
        names = self._variant_names
        return rx.sub(lambda m: f"<secret:{names[m.group(0)]}>", text)

    def scrub(self, data: Any) -> Any:
        """Deep copy of ``data`` with every secret in every string (keys too) replaced."""
        if not self._by_value:
            return data
        if isinstance(data, str):
            return self.scrub_text(data)
        if isinstance(data, Mapping):
            return {self.scrub(k): self.scrub(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.scrub(v) for v in data]
        return data

    def scrub_fresh(self, data: Any) -> Any:
        """`scrub` for JSON-compatible data the caller just made and owns: one search of its
        JSON text first, and ``data`` itself (not a copy) when no secret occurs in it. JSON
        escapes character by character, so a secret in any string (or key) shows in the text
        in one of its forms (`_variants`)."""
        rx = self._regex()
        if rx is None:
            return data
        try:
            text = json.dumps(data, ensure_ascii=False)
        except (TypeError, ValueError):
            return self.scrub(data)
        return data if rx.search(text) is None else self.scrub(data)

    def find_in(self, text: str) -> str | None:
        """The name of a secret that occurs in ``text`` (raw or escaped), or None (the
        pre-write scan)."""
        rx = self._regex()
        if rx is None:
            return None
        m = rx.search(text)
        return self._variant_names[m.group(0)] if m else None

    # --- fragments (the last line of defence for failure reports) -----------------------

    def _fragment_regex(self) -> re.Pattern[str] | None:
        if self._fragments is None and self._by_value:
            pieces: set[str] = set()
            for value in self._by_value:
                if value.startswith(("/", "~", ".")) or "://" in value:
                    continue  # a path or URL: pieces of it are everywhere in tracebacks
                if len(value) < MIN_FRAGMENT_SECRET_LEN or not any(c.isdigit() for c in value):
                    # short or word-like values (a `client-id: promptfoo-app` header) share
                    # pieces with ordinary text such as file names; their whole-value matches
                    # are still scrubbed, only truncated pieces of them are not looked for
                    continue
                n = max(MIN_FRAGMENT_LEN, len(value) // 3)
                if len(value) <= n:
                    continue
                pieces.update(value[i : i + n] for i in range(len(value) - n + 1))
            if not pieces:
                return None
            self._fragments = re.compile("|".join(re.escape(p) for p in sorted(pieces)))
        return self._fragments

    def scrub_fragments(self, text: str) -> str:
        """`scrub_text`, then any run of a secret's characters at least a third of it long
        (and at least `MIN_FRAGMENT_LEN`) as ``<secret-part>``: what a truncated repr
        (``'Bearer sk-ab...ef-1234'``) leaves of a value."""
        text = self.scrub_text(text)
        rx = self._fragment_regex()
        if rx is None or not rx.search(text):
            return text
        spans: list[tuple[int, int]] = []
        for m in rx.finditer(text):
            start, end = m.start(), m.end()
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        out, last = [], 0
        for start, end in spans:
            out.append(text[last:start])
            out.append("<secret-part>")
            last = end
        out.append(text[last:])
        return "".join(out)


def url_secrets(url: str, where: str) -> dict[str, str]:
    """The password (and user) and query values of a URL, named after ``where``."""
    out: dict[str, str] = {}
    try:
        parts = urlsplit(url.strip())
        password, username = parts.password, parts.username
    except ValueError:
        return out
    if password:
        out[f"{where} password"] = password
    if username and password:
        out[f"{where} user:password"] = f"{username}:{password}"
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        out[f"{where} ?{key}"] = value
    if parts.query:
        out[f"{where} query"] = parts.query
    if parts.fragment:
        out[f"{where} fragment"] = parts.fragment
    return out


def safe_url(url: str | None) -> str | None:
    """``url`` without credentials, query or fragment (for messages and reprs)."""
    if not url:
        return url
    try:
        parts = urlsplit(url.strip())
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def config_secrets(config: Any, where: str = "config") -> dict[str, str]:
    """Secret literals of a provider config: ``apiKey``, ``cfAigToken``, values of
    ``headers:`` (except public ones such as content-type), keys whose names look secret,
    credentials in ``gatewayUrl``; fallbacks too."""
    out: dict[str, str] = {}
    if not isinstance(config, Mapping):
        return out
    for key, value in config.items():
        name = f"{where}.{key}"
        if key == "headers" and isinstance(value, Mapping):
            for hname, hvalue in value.items():
                if isinstance(hvalue, str) and str(hname).lower() not in PUBLIC_HEADERS:
                    out[f"{where}.headers[{hname}]"] = hvalue
        elif key == "fallbacks" and isinstance(value, list):
            for i, entry in enumerate(value):
                if isinstance(entry, Mapping):
                    out.update(config_secrets(entry.get("config"), f"{where}.fallbacks[{i}]"))
                    out.update(config_secrets(entry, f"{where}.fallbacks[{i}]"))
        elif key == "gatewayUrl" and isinstance(value, str):
            out.update(url_secrets(value, name))
        elif isinstance(value, str) and (
            key in SECRET_CONFIG_KEYS or SECRET_CONFIG_NAME.search(str(key))
        ):
            out[name] = value
    return out


#: what an HTTP header value may hold: visible ASCII, space and tab
_HEADER_SAFE = re.compile(r"[\t\x20-\x7e]*")


def check_header_value(value: str, what: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, naming ``what`` (e.g. "the key
    in OPENAI_API_KEY") and never the value; None when it is fine."""
    if _HEADER_SAFE.fullmatch(value):  # the usual case, in one C-level scan
        return None
    for i, ch in enumerate(value):
        if ch in "\r\n\x00":
            return (
                f"{what} contains a line break or NUL character (at position {i}); remove it "
                "(copy the value again without the trailing newline)"
            )
        if ord(ch) > 0x7E or (ord(ch) < 0x20 and ch != "\t"):
            return (
                f"{what} contains the non-ASCII character U+{ord(ch):04X} at position {i} "
                "(a pasted smart quote or invisible character?); HTTP headers are ASCII: "
                "re-copy the value as plain text"
            )
    return None


def literal_secrets(data: Any) -> dict[str, str]:
    """Secret literals written in a promptfoo config (its parsed data): every provider
    ``config:`` (see `config_secrets`), ``apiKey``/``cfAigToken`` wherever they appear, and
    values of the config's ``env:`` whose names look secret."""
    out: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(data, "config")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                name = f"{where}.{key}"
                if key == "config" and isinstance(value, Mapping):
                    out.update(config_secrets(value, name))
                elif key == "env" and isinstance(value, Mapping):
                    for k, v in value.items():
                        if isinstance(v, str) and SECRET_NAME.search(str(k)):
                            out[f"env {k}"] = v
                elif key in SECRET_CONFIG_KEYS and isinstance(value, str):
                    out[name] = value
                if isinstance(value, Mapping | list):
                    stack.append((value, name))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
    return out
