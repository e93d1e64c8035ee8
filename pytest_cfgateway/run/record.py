"""The result record: what one test contributes to the summary and to every ``--cf-output``.

A record is plain data (str, int, float, bool, None, and lists/dicts of them), made where the
test ran and attached to its pytest report as ``report.cfgateway`` (a dict). pytest-xdist
carries every attribute of a report's ``__dict__`` to the controller, so the controller reads
exactly the records a serial run reads; the summary and the outputs are built from these
records alone (``run/report.py``), never from state of the process that ran the test.

Config items make one record each (kind ``case``); tests that use ``cf_gateway`` /
``cf_assert`` make one (kind ``fixture``) when they made or replayed calls.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import pytest

#: the report attribute that carries a record (a plain dict)
REPORT_ATTR = "cfgateway"
#: the key of a serialized report (an xdist worker's) that carries the record as JSON text
PACKED_KEY = "cfgateway_json"


#: ``id(record dict) -> (that dict, its JSON text)``: the text the secret scan of a record
#: made (`record_json`), kept for `pack_serialized_report` so an xdist worker encodes each
#: record once; an entry is taken by the report that carries the dict
_JSON_OF: dict[int, tuple[dict[str, Any], str]] = {}
_JSON_OF_MAX = 64


def record_json(data: dict[str, Any], *, keep: bool) -> str:
    """``json.dumps(data, ensure_ascii=False)``; ``keep``: remember it for this very dict
    (an xdist worker's record, which `pack_serialized_report` sends as this text).
    Raises ``TypeError``/``ValueError`` for data JSON cannot encode."""
    import json

    text = json.dumps(data, ensure_ascii=False)
    if keep:
        if len(_JSON_OF) >= _JSON_OF_MAX:  # reports that were never serialized
            _JSON_OF.clear()
        _JSON_OF[id(data)] = (data, text)
    return text


def forget_json(data: dict[str, Any]) -> None:
    """Drop the text `record_json` kept for ``data`` (the dict was replaced)."""
    kept = _JSON_OF.get(id(data))
    if kept is not None and kept[0] is data:
        del _JSON_OF[id(data)]


def pack_serialized_report(data: dict[str, Any]) -> None:
    """An xdist worker's serialized report with its record as one JSON string: execnet's
    serializer walks nested data in Python (~0.2 ms for a record, on the worker and again
    on the controller), a string it copies. `unpack_serialized_report` undoes it."""
    record = data.get(REPORT_ATTR)
    if record.__class__ is dict:
        kept = _JSON_OF.pop(id(record), None)
        if kept is not None and kept[0] is record:
            text = kept[1]  # encoded once already, by the secret scan
        else:
            import json

            try:
                text = json.dumps(record, ensure_ascii=False)
            except (TypeError, ValueError):
                return  # not JSON data after all: sent as it is, as before
        data[PACKED_KEY] = text
        del data[REPORT_ATTR]


def unpack_serialized_report(data: dict[str, Any]) -> None:
    """The record of a packed serialized report back as the dict it was (the controller
    builds the report from it, so ``report.cfgateway`` is the worker's dict)."""
    packed = data.get(PACKED_KEY)
    if isinstance(packed, str):
        import json

        data[REPORT_ATTR] = json.loads(packed)
        del data[PACKED_KEY]


def plain(value: Any) -> Any:
    """``value`` as JSON-compatible data: dicts with str keys, lists, str, int, float (finite),
    bool, None. Anything else becomes its ``str()`` (Paths, sets, objects).

    Exact built-in types take a direct path (every record goes through here, once per
    test); subclasses and everything else take the general one."""
    cls = value.__class__
    if cls is str or cls is int or cls is bool or value is None:
        return value
    if cls is dict:
        return {k if k.__class__ is str else str(k): plain(v) for k, v in value.items()}
    if cls is list:
        return [plain(v) for v in value]
    if cls is float:
        return value if math.isfinite(value) else str(value)
    names = _DATACLASS_FIELDS.get(cls)
    if names is not None:  # a dataclass seen before (assertion specs and records)
        return {name: plain(getattr(value, name)) for name in names}
    return _plain_other(value)


#: field names of the dataclasses `plain` has met (in `_plain_other`'s dataclass branch,
#: which a class reaches after failing the same checks every time)
_DATACLASS_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain_other(value: Any) -> Any:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # field by field (what ``plain(dataclasses.asdict(value))`` gives, without its
        # deep copy)
        names = tuple(f.name for f in dataclasses.fields(value))
        if len(_DATACLASS_FIELDS) < 256:
            _DATACLASS_FIELDS[value.__class__] = names
        return {name: plain(getattr(value, name)) for name in names}
    return str(value)


def grading_dict(grading: Any) -> dict[str, Any]:
    """``plain(grading.to_dict())`` (promptfoo's GradingResult shape) without the deep copy
    ``to_dict`` makes of each assertion spec (``dataclasses.asdict``), which `plain` would
    copy again."""
    data: dict[str, Any] = {
        "pass": plain(grading.passed),
        "score": plain(grading.score),
        "reason": plain(grading.reason),
    }
    if grading.named_scores:
        data["namedScores"] = plain(dict(grading.named_scores))
    if grading.component_results:
        data["componentResults"] = [grading_dict(c) for c in grading.component_results]
    if grading.assertion is not None:
        data["assertion"] = plain(grading.assertion)
    return data


@dataclasses.dataclass
class AssertionRecord:
    """One assertion's verdict (promptfoo's ``componentResults`` entry, flattened)."""

    type: str
    passed: bool
    score: float
    reason: str
    metric: str | None = None
    weight: float = 1.0


@dataclasses.dataclass
class CaseRecord:
    """One finished test, as the summary and the outputs see it."""

    nodeid: str
    kind: str = "case"  # case (a config item) | fixture (a cf_gateway test)
    config: str = ""  # the config's path relative to the rootdir (or the test module's)
    provider: str = ""  # the provider's label
    provider_id: str = ""
    prompt: str = ""  # the prompt's label
    prompt_raw: str = ""  # the rendered prompt
    prompt_idx: int | None = None  # promptfoo's promptIdx (prompt x provider column)
    test_idx: int | None = None  # promptfoo's testIdx (test x var combination x repeat row)
    description: str = ""
    vars: dict[str, Any] = dataclasses.field(default_factory=dict)
    outcome: str = "failed"  # passed | failed | error | skipped | fixture
    score: float | None = None
    assertions: list[AssertionRecord] = dataclasses.field(default_factory=list)
    #: the whole verdict in promptfoo's GradingResult shape (``to_dict()``), for the outputs
    grading: dict[str, Any] | None = None
    output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    latency_ms: float | None = None
    cache_hits: int = 0
    replayed: int = 0
    live: int = 0
    drift: int = 0
    drift_report: str = ""  # the drift diffs, shown with -v
    prefetched: int = 0  # calls of this test the scheduler started ahead of it
    spend: float = 0.0  # estimated cost of this test's live calls
    rate_limited: bool = False  # the error was a 429 that outlived the retries
    budget_skipped: bool = False  # skipped because the spend passed --cf-max-cost
    reason: str = ""  # why it failed, errored or was skipped (always a string)
    #: gateway log entries annotated by --cf-feedback: {logId, call, status}
    feedback: list[dict[str, str]] = dataclasses.field(default_factory=list)
    #: the committed answer beside a new one (filled by the snapshot review; None until then)
    committed_output: str | None = None
    changed: bool | None = None
    #: the item's verdict in the previous run (pytest's cache: "failed" or "passed"), for
    #: the review of a changed answer; None when unknown
    previous_outcome: str | None = None
    #: the request's provider options (provider config merged with the prompt's), scrubbed
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the config's ``outputPath`` files (absolute paths): promptfoo writes its results there
    output_paths: list[str] = dataclasses.field(default_factory=list)
    #: pytest's verdict of a fixture test (passed | failed | skipped), set by the reporting
    #: process from the test's reports; config items use ``outcome``
    test_outcome: str = ""

    @property
    def tokens(self) -> int:
        return self.total_tokens or self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        values = self.__dict__
        data: dict[str, Any] = {name: plain(values[name]) for name in _RECORD_FIELDS}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        """The record back from its dict; unknown keys (a newer writer) are ignored."""
        values = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
        values["assertions"] = [
            AssertionRecord(**{k: v for k, v in a.items() if k in _ASSERTION_FIELDS})
            for a in values.get("assertions") or []
        ]
        return cls(**values)


_ASSERTION_FIELDS = frozenset(f.name for f in dataclasses.fields(AssertionRecord))
#: the record's fields, in declaration order (the order of ``to_dict``'s keys)
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(CaseRecord))


def assertion_records(grading: Any) -> list[AssertionRecord]:
    """Every leaf assertion's verdict from a GradingResult (assert-sets flattened)."""
    out: list[AssertionRecord] = []

    def walk(result: Any) -> None:
        children = getattr(result, "component_results", None) or []
        spec = getattr(result, "assertion", None)
        if spec is not None and not getattr(spec, "children", ()):
            out.append(
                AssertionRecord(
                    type=str(getattr(spec, "type", "") or ""),
                    passed=bool(result.passed),
                    score=float(result.score),
                    reason=str(result.reason or ""),
                    metric=getattr(spec, "metric", None),
                    weight=float(getattr(spec, "weight", 1.0) or 0.0),
                )
            )
        for child in children:
            walk(child)

    if grading is not None:
        walk(grading)
    return out


def sort_key(record: CaseRecord) -> tuple[Any, ...]:
    """A deterministic order of records (serial and xdist runs finish in different orders):
    config, then promptfoo's row and column, then the node id."""
    return (
        record.config,
        record.test_idx if record.test_idx is not None else -1,
        record.prompt_idx if record.prompt_idx is not None else -1,
        record.nodeid,
    )


_RECORD = pytest.StashKey["CaseRecord"]()


def keep_record(item: pytest.Item, record: CaseRecord) -> None:
    """Hold a test's record until its report is made (``pytest_runtest_makereport``)."""
    item.stash[_RECORD] = record


def has_record(item: pytest.Item) -> bool:
    """Whether a record is held for the test (cheap: lets the plugin skip importing the
    reporting modules for tests that never touch the plugin)."""
    return _RECORD in item.stash


def take_record(item: pytest.Item) -> CaseRecord | None:
    """The record held for the test, once (the report that carries it takes it)."""
    record = item.stash.get(_RECORD, None)
    if record is not None:
        del item.stash[_RECORD]
    return record
