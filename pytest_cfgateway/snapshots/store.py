"""Record/replay modes: the one place that decides whether a request goes to the network.

A `Recorder` serves one test. Its `resolve` is the gateway client's resolver
(``Gateway.with_resolver(recorder.resolve)``): given a prepared request and the client's
``send``, it answers from the test's recorded cassette or calls ``send``.

=========  ==============================================================================
mode       behaviour
=========  ==============================================================================
replay     answer from the cassette; a request not in it raises `NotRecordedError` naming
           the test, the request, what changed vs the closest recorded one, and the
           command that records it. ``send`` is never called.
record     answer what matches from the cassette; call ``send`` for the rest. The new
           cassette is exactly the exchanges this run used (stale ones drop out).
refresh    call ``send`` for everything; the new cassette replaces the old one.
live       call ``send`` for everything, write nothing; an answer whose text differs
           from the stored one (same fingerprint and occurrence) is a `Drift`.
=========  ==============================================================================

Matching is by ``(fingerprint, occurrence)``: the occurrence is the index of a fingerprint
among the test's calls, taken when a call starts, so ``asyncio.gather`` order is irrelevant.

Errors are never kept as the answer: only 2xx replies are stored. 429, 5xx and transport
errors are retried by the client; a 4xx (a 401 from a wrong ``CF_AIG_TOKEN``, a bad request)
reaches the test as an error. Either way the occurrence is released, and record mode calls
again for an error that an older snapshot still holds. (A stored error in a version-1
snapshot still replays, as it did.) Use one event loop per `Recorder` (not thread-safe).

In-place updates: record/refresh write the exchanges in the order of the stored file. A new
exchange takes the place of the stored one with the same key, else of the closest unused
stored exchange of the same kind and provider (a prompt edit changes the fingerprint, not the
role); only new roles are appended. An exchange whose answer is unchanged (`Exchange.stable`)
is kept exactly as stored, so re-recording the same answers changes no byte.

Migration: when a test's snapshot file is missing, ``recorded`` may be a pool of older
snapshot files (``Cassette.pool``, see `extension.legacy_pool`); requests are looked up in it
by fingerprint, and the exchanges of every file used become this test's cassette
(``Cassette.migrated_from`` names the files to remove once it is written).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from ..gateway.errors import NotRecordedError
from ..gateway.fingerprint import canonical_json, canonical_request, fingerprint
from ..gateway.redact import Secrets
from ..gateway.types import PreparedRequest, RawResponse
from ..modes import Mode
from .cassette import Cassette, Exchange, select_request_headers, select_response_headers
from .explain import describe_differences, request_differences, text_diff
from .summary import Summary, describe_response

Send = Callable[[PreparedRequest], Awaitable[RawResponse]]
Resolver = Callable[[PreparedRequest, Send], Awaitable[RawResponse]]
Describe = Callable[[PreparedRequest, RawResponse], Summary]

#: 4xx statuses the client retries: never stored.
RETRIED_4XX = frozenset({408, 409, 425, 429})


def is_final_status(status: int) -> bool:
    """Whether a reply with this status is stored (see the module docstring): 2xx only."""
    return 200 <= status < 300


@dataclasses.dataclass(frozen=True)
class Drift:
    """A live answer that differs from the stored one for the same request."""

    nodeid: str
    fingerprint: str
    occurrence: int
    provider: str
    model: str
    old_text: str
    new_text: str

    def describe(self) -> str:
        """A short header and a unified diff (snapshot vs live)."""
        head = (
            f"{self.provider} {self.model or '?'} (request {self.fingerprint[:12]}, "
            f"occurrence {self.occurrence}):"
        )
        return "\n".join([head, *("  " + line for line in text_diff(self.old_text, self.new_text))])


@dataclasses.dataclass
class Outcome:
    """What `Recorder.finish` reports.

    ``cassette`` is what to hand to `assert_cassette` (None: nothing to assert). Its
    ``write`` flag is True in record/refresh and False in replay/live, where asserting
    only marks the stored snapshot as used.
    """

    cassette: Cassette | None
    drift: list[Drift]
    replayed_count: int
    live_count: int
    cache_hits: int
    unrecorded_count: int  # live mode: answers with no stored counterpart
    stale_count: int  # recorded exchanges this run did not use
    #: the review of the test's answer (its first own call): the committed text (None when
    #: there was none) and this run's, and whether they differ (None: nothing to compare)
    committed_text: str | None = None
    new_text: str | None = None
    changed: bool | None = None


class Recorder:
    """Record/replay state for one test (see the module docstring for the modes).

    ``recorded``: the test's stored cassette (`load_recorded`), or None.
    ``secrets``: values scrubbed from everything stored and from error messages.
    ``record_hint``: the command named in `NotRecordedError` (default
    ``pytest --cf-mode record '<nodeid>'``).
    ``describe``: text/usage/cost of a reply (default: `summary.describe_response`).
    """

    def __init__(
        self,
        *,
        mode: Mode | str,
        recorded: Cassette | None,
        nodeid: str,
        secrets: Secrets | None = None,
        record_hint: str | None = None,
        describe: Describe | None = None,
    ) -> None:
        try:
            self.mode = Mode(mode)
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            raise ValueError(f"unknown snapshot mode {mode!r}; use one of: {choices}") from None
        self.recorded = recorded
        self.nodeid = nodeid
        self.secrets = secrets or Secrets()
        self.record_hint = record_hint or f"pytest --cf-mode record '{nodeid}'"
        self._describe = describe or describe_response
        self._taken: dict[str, set[int]] = {}
        self._seq = itertools.count()
        self._used: dict[tuple[str, int], tuple[int, Exchange]] = {}
        self._drift: list[Drift] = []
        self._replayed = 0
        self._live = 0
        self._cache_hits = 0
        self._unrecorded = 0
        self._finished = False

    # --- the resolver --------------------------------------------------------------------

    async def resolve(self, req: PreparedRequest, send: Send) -> RawResponse:
        """The `Resolver`: answer ``req`` from the cassette or through ``send``."""
        return await self._resolve(req, send, req.kind)

    def resolver(self, kind: str) -> Resolver:
        """A resolver that tags what it records with ``kind`` (e.g. ``"grader"``)."""

        async def resolve(req: PreparedRequest, send: Send) -> RawResponse:
            return await self._resolve(req, send, kind)

        return resolve

    async def _resolve(self, req: PreparedRequest, send: Send, kind: str) -> RawResponse:
        if self._finished:
            raise RuntimeError(f"{self.nodeid}: the snapshot recorder was used after finish()")
        secrets = self.secrets.including(req.secrets)
        fp = fingerprint(req, secrets)
        occ = self._take(fp)
        seq = next(self._seq)
        stored = self.recorded.get(fp, occ) if self.recorded is not None else None
        if (
            stored is not None
            and self.mode is not Mode.REPLAY
            and not is_final_status(stored.status)
        ):
            stored = None  # an error kept by an older version: never the answer to keep

        if self.mode is Mode.REPLAY or (self.mode is Mode.RECORD and stored is not None):
            if stored is None:
                self._release(fp, occ)
                raise NotRecordedError(
                    secrets.scrub_text(self._not_recorded_message(req, secrets, fp, occ)),
                    provider=req.provider,
                )
            self._replayed += 1
            self._used[(fp, occ)] = (seq, stored)
            return stored.to_response()

        try:
            raw = await send(req)
        except BaseException:
            self._release(fp, occ)
            raise
        self._live += 1
        if (raw.headers.get("cf-aig-cache-status") or "").upper() == "HIT":
            self._cache_hits += 1
        if not is_final_status(raw.status):
            self._release(fp, occ)
            return raw
        exchange = self._exchange(req, raw, secrets, fp, occ, kind)
        if self.mode is Mode.LIVE:
            self._check_drift(req, stored, exchange)
        self._used[(fp, occ)] = (seq, exchange)
        return raw

    def _take(self, fp: str) -> int:
        taken = self._taken.setdefault(fp, set())
        occ = next(i for i in itertools.count() if i not in taken)
        taken.add(occ)
        return occ

    def _release(self, fp: str, occ: int) -> None:
        self._taken.get(fp, set()).discard(occ)

    def _exchange(
        self,
        req: PreparedRequest,
        raw: RawResponse,
        secrets: Secrets,
        fp: str,
        occ: int,
        kind: str,
    ) -> Exchange:
        summary = self._describe(req, raw)
        self.secrets = secrets  # remember every secret seen, for the write-time scan
        if self.mode is Mode.LIVE:
            # what live mode keeps: the key, kind and answer text (the drift check and the
            # review). Live never writes it, so the request is not canonicalized and scrubbed
            return Exchange(
                fingerprint=fp,
                occurrence=occ,
                request={},
                status=raw.status,
                headers={},
                body=None if summary.text is not None else secrets.scrub(raw.body),
                output_text=secrets.scrub(summary.text),
                kind=kind,
            )
        request = canonical_request(req, secrets)
        request.update(
            method=req.method,
            model=req.model,
            headers=select_request_headers(req.headers),
        )
        # Body last: it is the long part of the request.
        request["body"] = request.pop("body")
        return Exchange(
            fingerprint=fp,
            occurrence=occ,
            request=secrets.scrub(request),
            status=raw.status,
            headers=secrets.scrub(select_response_headers(raw.headers)),
            body=secrets.scrub(raw.body),
            output_text=secrets.scrub(summary.text),
            usage=summary.usage,
            cost=summary.cost,
            latency_ms=whole_ms(float(raw.latency_ms)),
            kind=kind,
            ttft_ms=None if raw.ttft_ms is None else round(float(raw.ttft_ms), 1),
        )

    def _check_drift(self, req: PreparedRequest, stored: Exchange | None, new: Exchange) -> None:
        if stored is None:
            self._unrecorded += 1
            return
        old_text = _answer_text(stored)
        new_text = _answer_text(new)
        if old_text != new_text:
            self._drift.append(
                Drift(
                    nodeid=self.nodeid,
                    fingerprint=new.fingerprint,
                    occurrence=new.occurrence,
                    provider=req.provider,
                    model=req.model,
                    old_text=old_text,
                    new_text=new_text,
                )
            )

    # --- the error message ---------------------------------------------------------------

    def _not_recorded_message(
        self, req: PreparedRequest, secrets: Secrets, fp: str, occ: int
    ) -> str:
        what = f"{req.provider} {req.path}" + (f" model={req.model}" if req.model else "")
        lines = [
            f"{self.nodeid}: no recorded answer for this request (replay mode never calls "
            "the gateway).",
            f"  request: {req.method} {what}, occurrence {occ} (fingerprint {fp[:12]})",
        ]
        recorded = self.recorded
        if recorded is None or not len(recorded) or recorded.pool:
            lines.append("  this test has no snapshot yet.")
        elif recorded.occurrences(fp):
            lines.append(
                f"  this exact request was recorded {recorded.occurrences(fp)} time(s); the "
                "test now makes it more often."
            )
        else:
            current = canonical_request(req, secrets)
            diffs, closest = self._closest(recorded, current, occ)
            lines.append(
                f"  closest recorded request ({closest.request.get('provider')} "
                f"{closest.request.get('route')}, occurrence {closest.occurrence}) differs at:"
            )
            lines += ["    " + line for line in describe_differences(diffs)]
        lines.append(f"  record it with: {self.record_hint}   (or add --snapshot-update)")
        return "\n".join(lines)

    def _closest(
        self, recorded: Cassette, current: dict[str, Any], occ: int
    ) -> tuple[list[tuple[str, Any, Any]], Exchange]:
        """The recorded request this one most likely replaces: prefer exchanges this run
        has not used, then the same occurrence, then the fewest and smallest differences."""
        now = canonical_json(current)

        def score(ex: Exchange) -> tuple[bool, bool, int, float]:
            diffs = request_differences(ex.request, current)
            similarity = difflib.SequenceMatcher(None, canonical_json(ex.request), now).ratio()
            return (ex.key in self._used, ex.occurrence != occ, len(diffs), -similarity)

        best = min(recorded, key=score)
        return request_differences(best.request, current), best

    # --- the end of the test -------------------------------------------------------------

    def finish(self, *, completed: bool = True) -> Outcome:
        """Close the recorder and say what to store.

        ``completed=False`` (the test raised before the end): in record/refresh the new
        cassette keeps every recorded exchange and adds/replaces what this run got, so an
        interrupted test never loses recordings.
        """
        self._finished = True
        used = sorted(self._used.values(), key=lambda pair: pair[0])
        recorded = self.recorded
        origins = tuple(dict.fromkeys(ex.origin for _, ex in used if ex.origin))
        if recorded is not None and recorded.pool and self.mode is Mode.REFRESH:
            # refresh called everything: the old files of the same requests are replaced
            keys = {ex.key for _, ex in used}
            origins = tuple(
                dict.fromkeys(ex.origin for ex in recorded if ex.key in keys and ex.origin)
            )
        if recorded is not None and recorded.pool:
            # migration: this test's part of the old files is what it used from them
            recorded = None
            if origins:
                recorded = Cassette(
                    exchanges=[ex for ex in self.recorded or () if ex.origin in origins],
                    pool=True,
                    version=1,
                )
                recorded.pool = False
        stale = 0
        if recorded is not None:
            stale = sum(1 for ex in recorded if ex.key not in self._used)
        replaced: dict[int, Exchange] = {}
        cassette: Cassette | None
        if self.mode in (Mode.REPLAY, Mode.LIVE):
            cassette = recorded
            if cassette is not None:
                cassette.write = False
        else:
            new = [ex for _, ex in used]
            if recorded is not None:
                new = in_place(list(recorded), new, completed=completed, replaced=replaced)
            cassette = Cassette(exchanges=new, write=True, secrets=self.secrets) if new else None
        if cassette is not None and origins:
            cassette.migrated_from = origins
        committed, now = self._review(used, recorded, replaced)
        return Outcome(
            cassette=cassette,
            drift=list(self._drift),
            replayed_count=self._replayed,
            live_count=self._live,
            cache_hits=self._cache_hits,
            unrecorded_count=self._unrecorded,
            stale_count=stale,
            committed_text=committed,
            new_text=now,
            changed=None if now is None else committed != now,
        )

    def _review(
        self,
        used: list[tuple[int, Exchange]],
        recorded: Cassette | None,
        replaced: dict[int, Exchange],
    ) -> tuple[str | None, str | None]:
        """(committed answer, this run's answer) of the test's first own call: the stored
        exchange with its key, else the one it replaced in place."""
        answer = next((ex for _, ex in used if ex.kind not in _NOT_ANSWERS), None)
        if answer is None:
            return None, None
        old = recorded.get(*answer.key) if recorded is not None else None
        if old is None:
            old = replaced.get(id(answer))
        return (_answer_text(old) if old is not None else None), _answer_text(answer)


def whole_ms(ms: float) -> float:
    """Latency as stored: whole milliseconds (sub-millisecond values to 0.1 ms)."""
    return float(round(ms)) if ms >= 1 else round(ms, 1)


def in_place(
    recorded: list[Exchange],
    new: list[Exchange],
    *,
    completed: bool,
    replaced: dict[int, Exchange] | None = None,
) -> list[Exchange]:
    """The exchanges to write, in the stored file's order (see the module docstring).

    Each new exchange replaces the stored one with its key, else the closest unused stored
    one of the same kind and provider/route/model; the rest are appended. An unchanged
    answer keeps the stored exchange object itself (latency, cache status, body ids).
    ``completed=False`` keeps stored exchanges that this run did not replace.
    """
    slots: list[Exchange | None] = [None] * len(recorded)
    position = {ex.key: i for i, ex in enumerate(recorded)}
    extra: list[Exchange] = []
    unmatched: list[Exchange] = []
    for ex in new:
        i = position.get(ex.key)
        if i is not None and slots[i] is None:
            old = recorded[i]
            slots[i] = old if old is ex or old.stable() == ex.stable() else _keep_role(ex, old)
        else:
            unmatched.append(ex)
    for ex in unmatched:
        if not completed:  # an interrupted test: new calls never replace kept ones
            extra.append(ex)
            continue
        free = [
            i
            for i, old in enumerate(recorded)
            if slots[i] is None and old.kind == ex.kind and _same_target(old, ex)
        ]
        if not free:
            extra.append(ex)
            continue
        best = min(
            free,
            key=lambda i: (
                len(request_differences(recorded[i].request, ex.request)),
                recorded[i].occurrence != ex.occurrence,
                i,
            ),
        )
        slots[best] = _keep_role(ex, recorded[best])
        if replaced is not None:
            replaced[id(ex)] = recorded[best]
    out = []
    for i, slot in enumerate(slots):
        if slot is not None:
            out.append(slot)
        elif not completed:
            out.append(recorded[i])
    return out + extra


def _same_target(a: Exchange, b: Exchange) -> bool:
    return all(a.request.get(k) == b.request.get(k) for k in ("provider", "route", "model"))


def _keep_role(new: Exchange, old: Exchange) -> Exchange:
    new.role = old.role
    return new


#: call kinds that are not the test's own answer (graders, moderation and classifier checks,
#: row siblings, webhooks)
_NOT_ANSWERS = frozenset({"grader", "moderation", "classifier", "row", "webhook"})


def _answer_text(ex: Exchange) -> str:
    if ex.output_text is not None:
        return ex.output_text
    return f"HTTP {ex.status}\n{canonical_json(ex.body)}"
