"""Result records on pytest's reports, and the summary and files made from them.

- ``pytest_runtest_makereport``: the record a test made (`record.keep_record`) is attached to
  its report as a plain dict (``report.cfgateway``). A config item that never got to make one
  (a render error, a skip marker, a broken snapshot) gets one made from its report.
- ``pytest_runtest_logreport``: the process that reports (the xdist controller, or the only
  process) keeps the records it sees; the summary and ``--cf-output`` read only those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .record import REPORT_ATTR, CaseRecord, forget_json, record_json, take_record
from .state import RunState

# (after_hooks, case and report are imported where used: an xdist controller only keeps
# the workers' records, and needs none of the modules that run tests)


def attach_record(item: pytest.Item, when: str, report: pytest.TestReport) -> None:
    """Put the test's record (if it has one now) on this report."""
    record = take_record(item)
    is_case = getattr(item, "case", None) is not None
    if record is None and is_case and not report.passed and when in ("setup", "call"):
        record = _record_from_report(item, report)
    if record is not None:
        data = record.to_dict()
        state = RunState.get(item.config)
        if state is not None:  # no secret leaves the process that ran the test
            data = _scrubbed(data, state.report_secrets(), hasattr(item.config, "workerinput"))
        setattr(report, REPORT_ATTR, data)
        if is_case and item.case.extensions:  # type: ignore[attr-defined]
            from .after_hooks import after_each

            after_each(item, data)


def _scrubbed(data: dict[str, Any], secrets: Any, worker: bool) -> dict[str, Any]:
    """``secrets.scrub_fresh(data)``: one search of the record's JSON text, and ``data``
    itself when no secret occurs in it (JSON escapes character by character, so a secret
    in any string or key shows in the text in one of its forms). An xdist worker keeps
    that text: it is what the report sends (`record.pack_serialized_report`)."""
    if not secrets and not worker:
        return data
    try:
        text = record_json(data, keep=worker)
    except (TypeError, ValueError):
        scrubbed: dict[str, Any] = secrets.scrub(data)
        return scrubbed
    if secrets.find_in(text) is None:
        return data
    forget_json(data)
    scrubbed = secrets.scrub(data)
    return scrubbed


def _record_from_report(item: pytest.Item, report: pytest.TestReport) -> CaseRecord:
    """Config items that never made a record (render errors, skipped providers) still count
    in the summary and in --cf-output, as promptfoo counts error rows."""
    state = RunState.get(item.config)
    scrub = state.secrets.scrub_text if state is not None else str
    if report.skipped:
        longrepr = report.longrepr
        reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
        outcome = "skipped"
    else:
        reason = report.longreprtext
        outcome = "error"
    from .case import new_record

    return new_record(item, outcome=outcome, reason=scrub(reason))


def note_outcome(config: pytest.Config, report: pytest.TestReport) -> None:
    """Remember a test's verdict (a failed setup/call/teardown makes it failed or an error)."""
    state = RunState.get(config)
    if state is None:
        return
    seen = state.test_outcomes.get(report.nodeid)
    if report.failed:
        state.test_outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
    elif seen is None or (report.skipped and seen == "passed"):
        state.test_outcomes[report.nodeid] = report.outcome


def collect_record(config: pytest.Config, report: pytest.TestReport) -> None:
    data = getattr(report, REPORT_ATTR, None)
    state = RunState.get(config)
    if isinstance(data, dict) and state is not None:
        record = CaseRecord.from_dict(data)
        if record.kind == "fixture":
            record.test_outcome = state.test_outcomes.get(report.nodeid, report.outcome)
        state.records.append(record)


def summarise(config: pytest.Config, terminalreporter: Any) -> None:
    state = RunState.get(config)
    if state is None:
        return
    from .report import write_summary

    write_summary(
        terminalreporter,
        state.records,
        scrub=state.secrets.scrub_text,
        concurrency=state.settings.concurrency,
    )


def write_files(config: pytest.Config) -> None:
    """``--cf-output``, written by the process that saw every report (not by xdist workers)."""
    state = RunState.get(config)
    if state is None or hasattr(config, "workerinput"):
        return
    from .report import write_outputs

    if state.settings.outputs:
        write_outputs(state.records, state.settings.outputs, state.secrets)
    # a config's outputPath gets that config's rows, as promptfoo writes them
    by_path: dict[str, list[CaseRecord]] = {}
    for record in state.records:
        for path in record.output_paths:
            by_path.setdefault(path, []).append(record)
    for path, records in sorted(by_path.items()):
        write_outputs(records, [Path(path)], state.secrets)


def finish_feedback(config: pytest.Config) -> None:
    """``--cf-feedback``: wait for this process's PATCHes and mark the records' log entries
    (on the controller, with what the workers reported)."""
    from .feedback import Feedback

    state = RunState.get(config)
    feedback = Feedback.get(config)
    if state is not None and feedback is not None:
        feedback.finish(config, state.records)
