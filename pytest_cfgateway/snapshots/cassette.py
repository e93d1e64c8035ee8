"""The cassette: every gateway exchange one test made, as stored in its snapshot file.

A cassette is matched by ``(fingerprint, occurrence)``: the request fingerprint and the
index of that fingerprint among the test's calls (0 for the first time the test makes that
exact request, 1 for the second...). Identical requests are interchangeable, so the order in
which concurrent calls (``asyncio.gather``) complete does not matter.

The stored form (``version: 2``) is plain data, written as YAML by `yamlio`, one exchange per
role in the test, in a stable order (a re-recorded exchange keeps its place)::

    version: 2
    exchanges:
    - role: answer                    # answer | grader | moderation | classifier | row |
                                      # webhook ..., then -2, -3 ...
      fingerprint: <sha256 hex>       # what replay matches on
      occurrence: 1                   # only when the same request is made again
      request: {provider, route, model, body}   # plus method/query/repeat/headers when
                                                 # they differ from POST/{}/0/json
      status: 200
      output_text: |                  # the answer's text, a literal block (its only copy)
        ...
      usage: {prompt_tokens: 12, completion_tokens: 40, total_tokens: 52}
      cost: 0.00012                   # null when no price is known
      latency_ms: 812                 # whole ms, kept from the first recording of this answer
      ttft_ms: 120.4                  # streamed calls only: time to first token (0.1 ms);
                                      # the body is then the assembled reply, never chunks
      response:
        headers: {cf-aig-cache-status: MISS}     # cf-aig-* headers, per-call ids left out
        text_at: choices.0.message.content        # where output_text goes back into body
        body: {...}                   # the provider's reply, the text replaced by
                                      # '(output_text)'; rebuilt exactly for replay

Per-call values never churn a file: event/log/request ids and the skip-cache header are not
stored, and an exchange whose answer did not change is kept as it was (its latency, cache
status and the provider body's own ``id``/``created``), so re-recording the same answer
changes no byte. Replayed completions therefore carry no ``log_id`` (there is no gateway log
for a replayed answer).

Version 1 files (one level of fields, full body) are still read; they are rewritten as
version 2 when recorded again or with ``--snapshot-update``.

Everything written passes ``Secrets.scrub`` and then a scan of the final text that refuses
to write (`SecretLeakError`) if any known secret value is still present.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from ..gateway.redact import Secrets
from ..gateway.types import RawResponse
from .yamlio import dump_yaml, load_yaml

CASSETTE_VERSION = 2
#: Older versions still read (and migrated on the next write).
READABLE_VERSIONS = frozenset({1, 2})

#: Stands in for the answer's text inside the stored provider body (see ``text_at``).
TEXT_PLACEHOLDER = "(output_text)"
#: Stored request fields left out when they hold these defaults.
REQUEST_DEFAULTS: dict[str, Any] = {
    "v": 1,
    "method": "POST",
    "query": {},
    "repeat": 0,
    "headers": {"content-type": "application/json"},
}
#: Top-level provider body fields that differ on every call (ids, timestamps, serving
#: fingerprints): ignored when deciding whether an answer changed.
VOLATILE_BODY_FIELDS = frozenset(
    {"id", "created", "created_at", "responseId", "system_fingerprint", "generation_id"}
)

#: Request headers kept in a snapshot (lower-case). Everything else is dropped, so auth
#: headers (authorization, x-api-key, api-key, x-goog-api-key, cf-aig-authorization) and
#: anything unknown never reach disk.
REQUEST_HEADER_ALLOWLIST = frozenset(
    {
        "content-type",
        "accept",
        "anthropic-version",
        "anthropic-beta",
        "api-version",
        "prefer",
        "cf-aig-cache-ttl",
        "cf-aig-skip-cache",
        "cf-aig-cache-key",
        "cf-aig-metadata",
        "cf-aig-byok-alias",
        "cf-aig-request-timeout",
        "cf-aig-max-attempts",
        "cf-aig-retry-delay",
        "cf-aig-backoff",
        "cf-aig-custom-cost",
        "cf-aig-collect-log",
        "cf-aig-collect-log-payload",
        "cf-aig-zdr",
        "cf-aig-no-wholesale",
    }
)

#: Never stored, even if someone adds them to the allow-list by mistake.
REQUEST_HEADER_DENYLIST = frozenset(
    {
        "authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cf-aig-authorization",
        "proxy-authorization",
        "cookie",
    }
)

#: Response headers that differ on every call: never stored.
VOLATILE_RESPONSE_HEADERS = frozenset(
    {"cf-aig-log-id", "cf-aig-request-id", "cf-aig-event-id", "cf-aig-trace-id"}
)
#: Response headers stored, but that may differ between two recordings of one answer.
UNSTABLE_RESPONSE_HEADERS = frozenset({"cf-aig-cache-status"})
#: Request headers that depend on the mode (refresh/live skip the cache), not on the test.
VOLATILE_REQUEST_HEADERS = frozenset({"cf-aig-skip-cache", "cf-aig-event-id"})


class CassetteError(ValueError):
    """A snapshot file that is not a valid cassette; the message names the file and fix."""


class SecretLeakError(RuntimeError):
    """Refusal to write a snapshot that would contain a secret (named, never shown)."""


def select_request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed request headers, lower-cased and sorted (auth headers never pass)."""
    out = {}
    for name, value in headers.items():
        key = name.lower()
        if (
            key in REQUEST_HEADER_ALLOWLIST
            and key not in REQUEST_HEADER_DENYLIST
            and key not in VOLATILE_REQUEST_HEADERS
        ):
            out[key] = str(value)
    return dict(sorted(out.items()))


def select_response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``cf-aig-*`` response headers (except the gateway token header), sorted."""
    out = {
        name.lower(): str(value)
        for name, value in headers.items()
        if name.lower().startswith("cf-aig-")
        and name.lower() not in REQUEST_HEADER_DENYLIST
        and name.lower() not in VOLATILE_RESPONSE_HEADERS
    }
    return dict(sorted(out.items()))


@dataclasses.dataclass
class Exchange:
    """One request and the answer it got (``body`` is the provider's full reply)."""

    fingerprint: str
    occurrence: int
    request: dict[str, Any]
    status: int
    headers: dict[str, str]
    body: Any
    output_text: str | None = None
    usage: dict[str, int] | None = None
    cost: float | None = None
    latency_ms: float = 0.0
    kind: str = "chat"
    #: the exchange's place in its test (``answer``, ``grader-2``...), set when written
    role: str | None = None
    #: the old snapshot file this exchange was read from (migration), else None
    origin: str | None = dataclasses.field(default=None, compare=False, repr=False)
    #: streamed calls only: the time to first token (like latency, not part of `stable`)
    ttft_ms: float | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.fingerprint, self.occurrence)

    def to_response(self) -> RawResponse:
        """The stored answer as a `RawResponse` (a copy; ``replayed=True``)."""
        return RawResponse(
            status=self.status,
            headers=dict(self.headers),
            body=copy_data(self.body),
            latency_ms=self.latency_ms,
            replayed=True,
            ttft_ms=self.ttft_ms,
        )

    def stable(self) -> dict[str, Any]:
        """What decides whether two recordings of this exchange hold the same answer:
        everything but latency, the cache status and the body's per-call ids."""
        body = self.body
        if isinstance(body, Mapping):
            body = {k: v for k, v in body.items() if k not in VOLATILE_BODY_FIELDS}
        return {
            "key": self.key,
            "kind": self.kind,
            "request": _compact_request(self.request),
            "status": self.status,
            "headers": {
                k: v for k, v in self.headers.items() if k not in UNSTABLE_RESPONSE_HEADERS
            },
            "body": body,
            "output_text": self.output_text,
            "usage": self.usage,
            "cost": self.cost,
        }

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "role": self.role or role_base(self.kind),
            "fingerprint": self.fingerprint,
        }
        if self.occurrence:
            data["occurrence"] = self.occurrence
        data["request"] = _compact_request(self.request)
        data["status"] = self.status
        body, text_at = _without_text(_without_volatile(self.body), self.output_text)
        if self.output_text is not None:
            data["output_text"] = self.output_text
        if self.usage is not None:
            data["usage"] = self.usage
        data["cost"] = self.cost
        data["latency_ms"] = _number(self.latency_ms)
        if self.ttft_ms is not None:
            data["ttft_ms"] = _number(self.ttft_ms)
        response: dict[str, Any] = {}
        if self.headers:
            response["headers"] = self.headers
        if text_at is not None:
            response["text_at"] = text_at
        response["body"] = body
        data["response"] = response
        return data

    @classmethod
    def from_data(cls, data: Any, where: str, version: int = CASSETTE_VERSION) -> Exchange:
        if not isinstance(data, Mapping):
            raise CassetteError(f"{where}: expected a mapping, got {type(data).__name__}")
        if version == 1:
            return cls._from_v1(data, where)
        fp = data.get("fingerprint")
        occ = data.get("occurrence", 0)
        role = data.get("role")
        if not isinstance(role, str) or not role:
            raise CassetteError(f"{where}: 'role' must be a non-empty string (e.g. answer)")
        response = data.get("response")
        if not isinstance(response, Mapping) or "body" not in response:
            raise CassetteError(f"{where}: 'response' must be a mapping with a 'body'")
        text = data.get("output_text")
        body = response["body"]
        text_at = response.get("text_at")
        if text_at is not None:
            if not isinstance(text_at, str) or not isinstance(text, str):
                raise CassetteError(
                    f"{where}: 'response.text_at' needs a string path and an 'output_text'"
                )
            body = _with_text(body, text_at, text, where)
        return cls._checked(
            where,
            fp=fp,
            occ=occ,
            status=data.get("status"),
            request={**REQUEST_DEFAULTS, **_mapping(data.get("request"), where, "request")},
            headers=_mapping(response.get("headers"), where, "response.headers"),
            body=body,
            text=text,
            usage=data.get("usage"),
            cost=data.get("cost"),
            latency=data.get("latency_ms", 0),
            kind=kind_of_role(role),
            role=role,
            ttft=data.get("ttft_ms"),
        )

    @classmethod
    def _from_v1(cls, data: Mapping[str, Any], where: str) -> Exchange:
        if "body" not in data:
            raise CassetteError(f"{where}: 'body' is missing")
        headers = _mapping(data.get("headers"), where, "headers")
        return cls._checked(
            where,
            fp=data.get("fingerprint"),
            occ=data.get("occurrence"),
            status=data.get("status"),
            request={**REQUEST_DEFAULTS, **_mapping(data.get("request"), where, "request")},
            headers={k: v for k, v in headers.items() if k not in VOLATILE_RESPONSE_HEADERS},
            body=data["body"],
            text=data.get("output_text"),
            usage=data.get("usage"),
            cost=data.get("cost"),
            latency=data.get("latency_ms", 0.0),
            kind=str(data.get("kind") or "chat"),
            role=None,
            ttft=data.get("ttft_ms"),
        )

    @classmethod
    def _checked(
        cls,
        where: str,
        *,
        fp: Any,
        occ: Any,
        status: Any,
        request: dict[str, Any],
        headers: dict[str, Any],
        body: Any,
        text: Any,
        usage: Any,
        cost: Any,
        latency: Any,
        kind: str,
        role: str | None,
        ttft: Any = None,
    ) -> Exchange:
        if not isinstance(fp, str) or not fp:
            raise CassetteError(f"{where}: 'fingerprint' must be a non-empty string")
        if not isinstance(occ, int) or isinstance(occ, bool) or occ < 0:
            raise CassetteError(f"{where}: 'occurrence' must be an integer >= 0")
        if not isinstance(status, int) or isinstance(status, bool):
            raise CassetteError(f"{where}: 'status' must be an integer HTTP status")
        if text is not None and not isinstance(text, str):
            raise CassetteError(f"{where}: 'output_text' must be a string or null")
        if usage is not None and not isinstance(usage, Mapping):
            raise CassetteError(f"{where}: 'usage' must be a mapping or null")
        if cost is not None and (not isinstance(cost, int | float) or isinstance(cost, bool)):
            raise CassetteError(f"{where}: 'cost' must be a number or null")
        if not isinstance(latency, int | float) or isinstance(latency, bool):
            raise CassetteError(f"{where}: 'latency_ms' must be a number")
        if ttft is not None and (not isinstance(ttft, int | float) or isinstance(ttft, bool)):
            raise CassetteError(f"{where}: 'ttft_ms' must be a number or absent")
        req_headers = request.get("headers")
        if not isinstance(req_headers, Mapping):
            raise CassetteError(f"{where}: 'request.headers' must be a mapping")
        request["headers"] = {
            k: v for k, v in req_headers.items() if k not in VOLATILE_REQUEST_HEADERS
        }
        return cls(
            fingerprint=fp,
            occurrence=occ,
            request=request,
            status=status,
            headers={str(k): str(v) for k, v in headers.items()},
            body=body,
            output_text=text,
            usage=dict(usage) if usage is not None else None,
            cost=cost,
            latency_ms=latency,
            kind=kind,
            role=role,
            ttft_ms=None if ttft is None else float(ttft),
        )


def role_base(kind: str) -> str:
    """The role name of a call kind: the item's own calls are its ``answer``."""
    return "answer" if kind == "chat" else kind


def kind_of_role(role: str) -> str:
    """The call kind of a stored role (``grader-2`` -> ``grader``, ``answer`` -> ``chat``)."""
    base, _, n = role.rpartition("-")
    if not (base and n.isdigit()):
        base = role
    return "chat" if base == "answer" else base


def _mapping(value: Any, where: str, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CassetteError(f"{where}: '{name}' must be a mapping")
    return dict(value)


def _number(value: float) -> int | float:
    """``812.0`` as ``812`` (the recorder stores whole milliseconds)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _compact_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The stored request: provider, route, model first, defaults left out, body last."""
    out: dict[str, Any] = {}
    for key in ("provider", "route", "model"):
        if key in request:
            out[key] = request[key]
    for key, value in request.items():
        if key in out or key == "body" or REQUEST_DEFAULTS.get(key, _NO_DEFAULT) == value:
            continue
        out[key] = value
    if "body" in request:
        out["body"] = request["body"]
    return out


_NO_DEFAULT = object()


def _text_path(body: Any, text: str, path: list[str]) -> list[str] | None:
    """The first path (keys and list indexes) to a string leaf equal to ``text``."""
    if isinstance(body, str):
        return path if body == text else None
    items: Iterable[tuple[str, Any]]
    if isinstance(body, Mapping):
        items = ((str(k), v) for k, v in body.items() if isinstance(k, str))
    elif isinstance(body, list):
        items = ((str(i), v) for i, v in enumerate(body))
    else:
        return None
    for key, value in items:
        if "." in key or not key:
            continue
        found = _text_path(value, text, [*path, key])
        if found is not None:
            return found
    return None


def _without_text(body: Any, text: str | None) -> tuple[Any, str | None]:
    """``body`` with the answer's text replaced by `TEXT_PLACEHOLDER`, and its path."""
    if not text or isinstance(body, str):
        return body, None
    path = _text_path(body, text, [])
    if not path:
        return body, None
    out = copy_data(body)
    node = out
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = TEXT_PLACEHOLDER
    else:
        node[last] = TEXT_PLACEHOLDER
    return out, ".".join(path)


def _without_volatile(body: Any) -> Any:
    """The provider body as committed: without its per-call ids and timestamps
    (`VOLATILE_BODY_FIELDS`), so a re-recorded answer's diff shows only what changed. A
    body with a ``status`` (a Replicate prediction, whose id a poll needs) is kept whole."""
    if not isinstance(body, Mapping) or "status" in body:
        return body
    return {k: v for k, v in body.items() if k not in VOLATILE_BODY_FIELDS}


def _with_text(body: Any, text_at: str, text: str, where: str) -> Any:
    """The inverse of `_without_text` (in place: ``body`` is freshly loaded data)."""
    node = body
    keys = text_at.split(".")
    try:
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = text
        elif isinstance(node, dict) and last in node:
            node[last] = text
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise CassetteError(
            f"{where}: 'response.text_at' ({text_at}) does not point into the body; "
            "re-record the test"
        ) from None
    return body


@dataclasses.dataclass
class Cassette:
    """The exchanges of one test, in call order.

    ``write`` tells `assert_cassette` whether to write this cassette (record/refresh) or only
    to mark the stored snapshot as used (replay/live). ``secrets`` scrub and guard what is
    written. ``source_text`` is the exact text the cassette was read from (None when built
    in memory); an unchanged cassette serializes back to it byte for byte.
    """

    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    write: bool = False
    secrets: Secrets | None = dataclasses.field(default=None, compare=False, repr=False)
    source_text: str | None = dataclasses.field(default=None, compare=False, repr=False)
    #: the format version the cassette was read in (`CASSETTE_VERSION` when built here)
    version: int = dataclasses.field(default=CASSETTE_VERSION, compare=False)
    #: old snapshot files this cassette was migrated from (deleted once it is written)
    migrated_from: tuple[str, ...] = dataclasses.field(default=(), compare=False)
    #: a pool of old files searched by fingerprint: duplicate keys keep the first
    pool: bool = dataclasses.field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, int], Exchange] = {}
        for ex in self.exchanges:
            if ex.key in self._index:
                if self.pool:
                    continue
                raise CassetteError(
                    f"two exchanges with fingerprint {ex.fingerprint[:12]}... and occurrence "
                    f"{ex.occurrence}; delete one of them or re-record the test"
                )
            self._index[ex.key] = ex

    def __len__(self) -> int:
        return len(self.exchanges)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges)

    def get(self, fingerprint: str, occurrence: int) -> Exchange | None:
        """The exchange recorded for the nth occurrence of a fingerprint, or None."""
        return self._index.get((fingerprint, occurrence))

    def occurrences(self, fingerprint: str) -> int:
        """How many times the fingerprint was recorded."""
        return sum(1 for ex in self.exchanges if ex.fingerprint == fingerprint)

    # --- stored form ----------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        assign_roles(self.exchanges)
        return {"version": CASSETTE_VERSION, "exchanges": [ex.to_data() for ex in self.exchanges]}

    @classmethod
    def from_data(cls, data: Any, *, source: str = "snapshot") -> Cassette:
        """Validate and build; errors name ``source`` (the file) and what to fix."""
        if not isinstance(data, Mapping):
            raise CassetteError(
                f"{source}: not a pytest-cfgateway cassette (expected a mapping with "
                "'version' and 'exchanges'); delete the file and re-record the test"
            )
        version = data.get("version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise CassetteError(
                f"{source}: cassette version {version!r} is not supported (this "
                f"pytest-cfgateway reads versions {sorted(READABLE_VERSIONS)}); upgrade "
                "pytest-cfgateway, or delete the file and re-record the test"
            )
        raw = data.get("exchanges")
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise CassetteError(f"{source}: 'exchanges' must be a list")
        exchanges = [
            Exchange.from_data(item, f"{source}: exchanges[{i}]", version)
            for i, item in enumerate(raw)
        ]
        try:
            return cls(exchanges=exchanges, version=version)
        except CassetteError as exc:
            raise CassetteError(f"{source}: {exc}") from None

    def to_text(self) -> str:
        """The YAML text of this cassette, scrubbed; refuses (raises) if a secret remains."""
        if not self.write and self.source_text is not None:
            return self.source_text
        return render_text(self.to_data(), self.secrets)

    @classmethod
    def from_text(cls, text: str, *, source: str = "snapshot") -> Cassette:
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            raise CassetteError(
                f"{source}: not valid YAML ({exc}); fix the file or delete it and re-record"
            ) from None
        cassette = cls.from_data(data, source=source)
        cassette.source_text = text
        return cassette


def copy_data(value: Any) -> Any:
    """A deep copy of plain data (dicts, lists, scalars), ~5x faster than ``copy.deepcopy``;
    anything else goes through ``copy.deepcopy``."""
    cls = value.__class__
    if cls is dict:
        return {k: copy_data(v) for k, v in value.items()}
    if cls is list:
        return [copy_data(v) for v in value]
    if cls in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def render_text(data: Any, secrets: Secrets | None) -> str:
    """Scrub every string, dump to YAML, then scan the final text for any known secret.

    When every secret value is written verbatim by the YAML dumper wherever it occurs
    (`_verbatim_in_yaml`), the data is dumped first and scrubbed only when the scan finds
    a secret: a string holding a secret shows it in the text in every scalar style, so a
    text without one comes from data that scrubbing leaves unchanged (the walk over every
    string was half of a recorded cassette's rendering)."""
    secrets = secrets or Secrets()
    if _verbatim_in_yaml(secrets):
        text = dump_yaml(data)
        if secrets.find_in(text) is None:
            return text
    text = dump_yaml(secrets.scrub(data))
    leaked = secrets.find_in(text)
    if leaked is not None:
        raise SecretLeakError(
            f"refusing to write a snapshot: it would contain the value of secret {leaked!r} "
            "(outside any string that could be scrubbed, e.g. as a number). Nothing was "
            "written. Make the value non-secret or keep it out of the request and response."
        )
    return text


#: A secret value made only of these characters reads the same in every form `Secrets`
#: looks for (raw, HTML- and JSON-escaped) and in every scalar style the cassette dumper
#: writes: plain, single-quoted (which doubles ``'``), double-quoted (which escapes ``"``,
#: ``\\`` and what libyaml does not print) and literal blocks (one line each). No folding:
#: lines are never wrapped.
_VERBATIM_IN_YAML = re.compile("[\x20-\x7e]+")
_NOT_VERBATIM = frozenset("'\"\\&<>")


def _verbatim_in_yaml(secrets: Secrets) -> bool:
    """Whether every secret value is printable ASCII without quotes, backslash or HTML
    specials (API keys and tokens are), so it occurs in the YAML text as it is."""
    for value in secrets.values():
        if _VERBATIM_IN_YAML.fullmatch(value) is None or not _NOT_VERBATIM.isdisjoint(value):
            return False
    return True


def comparable(data: Any) -> Any:
    """The part of stored cassette data that decides whether a file must be rewritten:
    exchanges in (fingerprint, occurrence) order, without latency, the cache status and the
    provider body's per-call ids. Data of another version is returned as is (it differs)."""
    if (
        not isinstance(data, Mapping)
        or data.get("version") != CASSETTE_VERSION
        or not isinstance(data.get("exchanges"), list)
    ):
        return data
    exchanges = []
    for ex in data["exchanges"]:
        if not isinstance(ex, Mapping):
            return data
        item = {k: v for k, v in ex.items() if k not in ("latency_ms", "ttft_ms", "role")}
        response = item.get("response")
        if isinstance(response, Mapping):
            response = dict(response)
            if isinstance(response.get("headers"), Mapping):
                response["headers"] = {
                    k: v
                    for k, v in response["headers"].items()
                    if k not in UNSTABLE_RESPONSE_HEADERS
                }
            if isinstance(response.get("body"), Mapping):
                response["body"] = {
                    k: v for k, v in response["body"].items() if k not in VOLATILE_BODY_FIELDS
                }
            item["response"] = response
        exchanges.append(item)
    exchanges.sort(key=lambda e: (str(e.get("fingerprint")), str(e.get("occurrence", 0))))
    return {**data, "exchanges": exchanges}


def assign_roles(exchanges: list[Exchange]) -> None:
    """Name each exchange by its place among the test's calls of its kind, in file order:
    ``answer``, ``answer-2``, ``grader``, ``grader-2``, ``row``... Stable because a
    re-recorded exchange keeps its place (`Recorder.finish`)."""
    seen: dict[str, int] = {}
    for ex in exchanges:
        base = role_base(ex.kind)
        n = seen[base] = seen.get(base, 0) + 1
        ex.role = base if n == 1 else f"{base}-{n}"


def merge(base: Iterable[Exchange], newer: Iterable[Exchange]) -> list[Exchange]:
    """``base`` with every exchange of ``newer`` replacing or appended (by key)."""
    out: dict[tuple[str, int], Exchange] = {ex.key: ex for ex in base}
    for ex in newer:
        out[ex.key] = ex
    return list(out.values())
