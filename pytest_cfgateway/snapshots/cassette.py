"""The cassette: every gateway exchange one test made, as stored in its snapshot file.

A cassette is matched by ``(fingerprint, occurrence)``: the request fingerprint and the
index of that fingerprint among the test's calls (0 for the first time the test makes that
exact request, 1 for the second...). Identical requests are interchangeable, so the order in
which concurrent calls (``asyncio.gather``) complete does not matter.

The stored form (``version: 1``) is plain data, written as YAML by `yamlio`::

    version: 1
    exchanges:
    - fingerprint: <sha256 hex>
      occurrence: 0
      kind: chat                      # chat | embed | grader | ...
      request: {v, provider, route, query, repeat, method, model, headers, body}
      status: 200
      headers: {cf-aig-cache-status: MISS, ...}   # selected cf-aig-* response headers
      output_text: |                  # the answer's text, a literal block (diffable)
        ...
      usage: {prompt_tokens: 12, completion_tokens: 40, total_tokens: 52}
      cost: 0.00012                   # null when no price is known
      latency_ms: 812.5
      ttft_ms: 120.4                  # streamed calls only: time to first token
      body: {...}                     # the provider's reply, as parsed JSON (or text);
                                      # a streamed reply is stored assembled (no chunks)

Everything written passes ``Secrets.scrub`` and then a scan of the final text that refuses
to write (`SecretLeakError`) if any known secret value is still present.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from ..gateway.redact import Secrets
from ..gateway.types import RawResponse
from .yamlio import dump_yaml, load_yaml

CASSETTE_VERSION = 1

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

#: Response headers differ on every call; stored for reference, ignored when comparing.
VOLATILE_RESPONSE_HEADERS = frozenset(
    {"cf-aig-log-id", "cf-aig-request-id", "cf-aig-event-id", "cf-aig-trace-id"}
)
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
        if key in REQUEST_HEADER_ALLOWLIST and key not in REQUEST_HEADER_DENYLIST:
            out[key] = str(value)
    return dict(sorted(out.items()))


def select_response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``cf-aig-*`` response headers (except the gateway token header), sorted."""
    out = {
        name.lower(): str(value)
        for name, value in headers.items()
        if name.lower().startswith("cf-aig-") and name.lower() not in REQUEST_HEADER_DENYLIST
    }
    return dict(sorted(out.items()))


@dataclasses.dataclass
class Exchange:
    """One request and the answer it got."""

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
    ttft_ms: float | None = None  # streamed calls only

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

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "occurrence": self.occurrence,
            "kind": self.kind,
            "request": self.request,
            "status": self.status,
            "headers": self.headers,
            "output_text": self.output_text,
            "usage": self.usage,
            "cost": self.cost,
            "latency_ms": self.latency_ms,
        }
        if self.ttft_ms is not None:  # written only for streamed calls
            data["ttft_ms"] = self.ttft_ms
        data["body"] = self.body  # last: the long part
        return data

    @classmethod
    def from_data(cls, data: Any, where: str) -> Exchange:
        if not isinstance(data, Mapping):
            raise CassetteError(f"{where}: expected a mapping, got {type(data).__name__}")
        fp = data.get("fingerprint")
        occ = data.get("occurrence")
        status = data.get("status")
        if not isinstance(fp, str) or not fp:
            raise CassetteError(f"{where}: 'fingerprint' must be a non-empty string")
        if not isinstance(occ, int) or isinstance(occ, bool) or occ < 0:
            raise CassetteError(f"{where}: 'occurrence' must be an integer >= 0")
        if not isinstance(status, int) or isinstance(status, bool):
            raise CassetteError(f"{where}: 'status' must be an integer HTTP status")
        if "body" not in data:
            raise CassetteError(f"{where}: 'body' is missing")
        request = data.get("request") or {}
        headers = data.get("headers") or {}
        if not isinstance(request, Mapping) or not isinstance(headers, Mapping):
            raise CassetteError(f"{where}: 'request' and 'headers' must be mappings")
        text = data.get("output_text")
        if text is not None and not isinstance(text, str):
            raise CassetteError(f"{where}: 'output_text' must be a string or null")
        usage = data.get("usage")
        if usage is not None and not isinstance(usage, Mapping):
            raise CassetteError(f"{where}: 'usage' must be a mapping or null")
        cost = data.get("cost")
        if cost is not None and (not isinstance(cost, int | float) or isinstance(cost, bool)):
            raise CassetteError(f"{where}: 'cost' must be a number or null")
        latency = data.get("latency_ms", 0.0)
        if not isinstance(latency, int | float) or isinstance(latency, bool):
            raise CassetteError(f"{where}: 'latency_ms' must be a number")
        ttft = data.get("ttft_ms")
        if ttft is not None and (not isinstance(ttft, int | float) or isinstance(ttft, bool)):
            raise CassetteError(f"{where}: 'ttft_ms' must be a number or absent")
        return cls(
            fingerprint=fp,
            occurrence=occ,
            request=dict(request),
            status=status,
            headers={str(k): str(v) for k, v in headers.items()},
            body=data["body"],
            output_text=text,
            usage=dict(usage) if usage is not None else None,
            cost=cost,
            latency_ms=latency,
            kind=str(data.get("kind") or "chat"),
            ttft_ms=ttft,
        )


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

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, int], Exchange] = {}
        for ex in self.exchanges:
            if ex.key in self._index:
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
        if version != CASSETTE_VERSION:
            raise CassetteError(
                f"{source}: cassette version {version!r} is not supported (this "
                f"pytest-cfgateway reads version {CASSETTE_VERSION}); re-record the test "
                "with --cf-mode refresh"
            )
        raw = data.get("exchanges")
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise CassetteError(f"{source}: 'exchanges' must be a list")
        exchanges = [
            Exchange.from_data(item, f"{source}: exchanges[{i}]") for i, item in enumerate(raw)
        ]
        try:
            return cls(exchanges=exchanges)
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
    """Scrub every string, dump to YAML, then scan the final text for any known secret."""
    secrets = secrets or Secrets()
    text = dump_yaml(secrets.scrub(data))
    leaked = secrets.find_in(text)
    if leaked is not None:
        raise SecretLeakError(
            f"refusing to write a snapshot: it would contain the value of secret {leaked!r} "
            "(outside any string that could be scrubbed, e.g. as a number). Nothing was "
            "written. Make the value non-secret or keep it out of the request and response."
        )
    return text


def comparable(data: Any) -> Any:
    """The part of stored cassette data that decides whether a file must be rewritten:
    exchanges in (fingerprint, occurrence) order, without timings and per-call ids."""
    if not isinstance(data, Mapping) or not isinstance(data.get("exchanges"), list):
        return data
    exchanges = []
    for ex in data["exchanges"]:
        if not isinstance(ex, Mapping):
            return data
        item = {k: v for k, v in ex.items() if k not in ("latency_ms", "ttft_ms")}
        if isinstance(item.get("headers"), Mapping):
            item["headers"] = {
                k: v for k, v in item["headers"].items() if k not in VOLATILE_RESPONSE_HEADERS
            }
        req = item.get("request")
        if isinstance(req, Mapping) and isinstance(req.get("headers"), Mapping):
            item["request"] = {
                **req,
                "headers": {
                    k: v for k, v in req["headers"].items() if k not in VOLATILE_REQUEST_HEADERS
                },
            }
        exchanges.append(item)
    exchanges.sort(key=lambda e: (str(e.get("fingerprint")), str(e.get("occurrence"))))
    return {**data, "exchanges": exchanges}


def merge(base: Iterable[Exchange], newer: Iterable[Exchange]) -> list[Exchange]:
    """``base`` with every exchange of ``newer`` replacing or appended (by key)."""
    out: dict[tuple[str, int], Exchange] = {ex.key: ex for ex in base}
    for ex in newer:
        out[ex.key] = ex
    return list(out.values())
