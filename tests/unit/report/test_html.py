"""The HTML report's view model and template, from record dicts."""

from __future__ import annotations

from pytest_cfgateway.report.html import render_html, short_label, view_model
from pytest_cfgateway.run.record import AssertionRecord, CaseRecord


def _record(**kw: object) -> dict[str, object]:
    base = dict(
        nodeid="cfg.yaml::t[p]",
        config="cfg.yaml",
        provider="mini",
        provider_id="openai:gpt-4o-mini",
        prompt="line one\nline two",
        prompt_raw="line one\nline two",
        prompt_idx=0,
        test_idx=0,
        description="a long description with spaces",
        vars={"q": "<b>bold</b>", "n": 3},
        outcome="passed",
        score=1.0,
        output="out <script>alert(1)</script>",
        assertions=[AssertionRecord("icontains", True, 1.0, "ok", metric="rel")],
        latency_ms=100.0,
        cost=0.001,
        total_tokens=10,
    )
    base.update(kw)
    return CaseRecord(**base).to_dict()  # type: ignore[arg-type]


def test_short_label_keeps_the_first_line() -> None:
    assert short_label("Say hi") == "Say hi"
    assert short_label("first\nsecond") == "first…"
    assert len(short_label("x" * 200)) == 48


def test_columns_rows_and_stats() -> None:
    records = [
        _record(),
        _record(
            nodeid="cfg.yaml::t2[p]",
            test_idx=1,
            description="",
            outcome="failed",
            score=0.0,
            latency_ms=300.0,
        ),
        _record(nodeid="t.py::test_x", kind="fixture", test_outcome="failed", config="t.py"),
    ]
    vm = view_model(records)
    (cfg,) = vm["configs"]
    (col,) = cfg["columns"]
    assert col["prompt"] == "line one…" and col["stats"]["rate"] == 50.0
    assert col["stats"]["p50"] in (100.0, 300.0) and col["stats"]["p95"] == 300.0
    titles = [row["title"] for row in cfg["rows"]]
    assert titles == ["a long description with spaces", "t2"]  # never cut at a space
    assert [row["failing"] for row in cfg["rows"]] == [False, True]
    assert vm["fixtures"][0]["failing"] is True and vm["metrics"] == ["rel"]


def test_values_are_escaped_by_the_template() -> None:
    page = render_html([_record()])
    assert "<script>alert(1)</script>" not in page
    assert "out &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert page.count("<script>") == 1  # the page's own filter script


def test_changed_view_shows_both_answers() -> None:
    page = render_html(
        [_record(changed=True, committed_output="old answer", previous_outcome="failed")]
    )
    changed = page.split('<table class="changed">', 1)[1]
    assert "old answer" in changed and "out &lt;script&gt;" in changed
    assert '<span class="badge failed">FAILED</span> → <span class="badge passed">' in changed
