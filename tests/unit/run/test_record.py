"""The result record is plain data: it survives a JSON round trip (what xdist's channel and
the outputs need) unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_cfgateway.assertions.base import GradingResult
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.run.record import (
    AssertionRecord,
    CaseRecord,
    assertion_records,
    plain,
    sort_key,
)


def test_plain_keeps_json_types_and_stringifies_the_rest() -> None:
    data = {"p": Path("a/b"), "t": (1, 2.5, None), "s": {"x"}, "n": float("nan"), 3: True}
    assert plain(data) == {"p": "a/b", "t": [1, 2.5, None], "s": ["x"], "n": "nan", "3": True}


def test_plain_of_a_dataclass_is_that_of_its_asdict() -> None:
    """The direct path (no deep copy) gives what ``plain(dataclasses.asdict(x))`` gives,
    nested dataclasses, tuples, sets, subclasses and odd keys included."""
    import dataclasses
    from collections import OrderedDict

    class Label(str):
        pass

    spec = AssertionSpec(type="contains", value={"k": (1, {"y"})}, weight=2)
    grading = GradingResult(False, 0.5, "r", component_results=[GradingResult(True, 1, "")])
    record = CaseRecord(
        nodeid="n",
        vars={"p": Path("a"), 2: [spec], "o": OrderedDict(a=float("inf")), "l": Label("x")},
        assertions=[AssertionRecord("contains", True, 1.0, "ok")],
        grading={"g": grading, "t": (spec,)},
        options={"frozen": frozenset({3, 1}), "f": 1.5, "b": True, "none": None},
    )
    assert record.to_dict() == plain(dataclasses.asdict(record))
    assert list(record.to_dict()) == [f.name for f in dataclasses.fields(CaseRecord)]
    assert plain(spec) == plain(dataclasses.asdict(spec))


def test_grading_dict_is_plain_of_to_dict() -> None:
    from pytest_cfgateway.run.record import grading_dict

    leaf = GradingResult(
        False,
        0.25,
        "missing",
        named_scores={"m": 0.5},
        assertion=AssertionSpec(type="contains", value=["a", ("b", 1)], metric="m", weight=2),
        grader_error=True,
        metric_only=True,
        tokens_used=7,
    )
    group = GradingResult(
        False,
        0.25,
        "set",
        component_results=[leaf, GradingResult(True, 1.0, "ok", assertion={"type": "x"})],
        assertion=AssertionSpec(type="assert-set", children=(AssertionSpec(type="contains"),)),
    )
    top = GradingResult(False, float("nan"), "case", component_results=[group])
    for g in (leaf, group, top):
        assert repr(grading_dict(g)) == repr(plain(g.to_dict()))


def test_a_record_round_trips_through_json() -> None:
    record = CaseRecord(
        nodeid="c.yaml::t[echo]",
        config="c.yaml",
        provider="echo",
        vars={"when": Path("x"), "n": 1},
        outcome="failed",
        score=0.5,
        assertions=[AssertionRecord("contains", False, 0.0, "no", metric="m", weight=2.0)],
        grading={"pass": False},
        feedback=[{"logId": "1", "call": "case"}],
    )
    data = json.loads(json.dumps(record.to_dict()))
    back = CaseRecord.from_dict(data)
    assert back.to_dict() == data
    assert back.assertions[0].metric == "m"
    assert back.vars == {"when": "x", "n": 1}
    assert back.committed_output is None and back.changed is None
    assert CaseRecord.from_dict({**data, "from_a_newer_writer": 1}) == back


def test_assertion_records_flatten_assert_sets() -> None:
    leaf_a = GradingResult(False, 0.0, "missing", assertion=AssertionSpec(type="contains"))
    leaf_b = GradingResult(True, 1.0, "ok", assertion=AssertionSpec(type="equals", weight=3))
    group = GradingResult(
        False,
        0.25,
        "set",
        component_results=[leaf_a, leaf_b],
        assertion=AssertionSpec(type="assert-set", children=(AssertionSpec(type="contains"),)),
    )
    top = GradingResult(False, 0.25, "case", component_results=[group])
    assert [(a.type, a.passed, a.weight) for a in assertion_records(top)] == [
        ("contains", False, 1.0),
        ("equals", True, 3.0),
    ]


def test_rows_sort_by_config_row_column_then_id() -> None:
    rows = [
        CaseRecord(nodeid="b", config="c", test_idx=1, prompt_idx=0),
        CaseRecord(nodeid="a", config="c", test_idx=0, prompt_idx=1),
        CaseRecord(nodeid="z", config="a"),
    ]
    assert [r.nodeid for r in sorted(rows, key=sort_key)] == ["z", "a", "b"]


def test_a_record_becomes_the_dict_dataclasses_would_give() -> None:
    import dataclasses

    record = CaseRecord(
        nodeid="c.yaml::t[echo]",
        assertions=[AssertionRecord("contains", True, 1.0, "ok")],
        vars={"p": Path("x"), "t": (1, {"k": float("inf")})},
        grading={"nested": [{"a": AssertionRecord("equals", False, 0.0, "no")}]},
    )
    data = record.to_dict()
    assert data == plain(dataclasses.asdict(record))
    assert data["assertions"] == [
        {"type": "contains", "passed": True, "score": 1.0, "reason": "ok", "metric": None}
        | {"weight": 1.0}
    ]
    assert data["vars"] == {"p": "x", "t": [1, {"k": "inf"}]}
    assert data["grading"]["nested"][0]["a"]["type"] == "equals"


def test_a_packed_serialized_report_unpacks_to_the_same_record() -> None:
    from pytest_cfgateway.run.record import (
        PACKED_KEY,
        REPORT_ATTR,
        pack_serialized_report,
        unpack_serialized_report,
    )

    record = CaseRecord(
        nodeid="c.yaml::t[x]",
        vars={"word": "é\u2028\U0001f600", "n": 3, "f": 0.1, "none": None, "list": [True]},
        score=float("nan"),
    ).to_dict()
    data = {"nodeid": "c.yaml::t[x]", "outcome": "passed", REPORT_ATTR: record}
    pack_serialized_report(data)
    assert REPORT_ATTR not in data and isinstance(data[PACKED_KEY], str)
    unpack_serialized_report(data)
    assert PACKED_KEY not in data
    assert repr(data[REPORT_ATTR]) == repr(record)
    plain_report = {"nodeid": "t.py::t", "outcome": "passed"}
    pack_serialized_report(plain_report)
    unpack_serialized_report(plain_report)
    assert plain_report == {"nodeid": "t.py::t", "outcome": "passed"}
    odd = {REPORT_ATTR: {"path": Path("x")}}  # not JSON data: left as it is
    pack_serialized_report(odd)
    assert odd == {REPORT_ATTR: {"path": Path("x")}}
