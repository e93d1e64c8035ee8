"""Terminal summary and result files (``--cf-output``), built from result records only.

The records are those that reached this process's reports (``pytest_runtest_logreport``):
under xdist, the controller's, which are the same as a serial run's. Rows are sorted
(`record.sort_key`), so serial and ``-n N`` runs write the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .record import CaseRecord, sort_key


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _usd(value: float) -> str:
    """Dollars with enough digits to be useful for tiny eval costs."""
    return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def group_records(
    records: Sequence[CaseRecord],
) -> dict[tuple[str, str, str], list[CaseRecord]]:
    groups: dict[tuple[str, str, str], list[CaseRecord]] = defaultdict(list)
    for r in sorted(records, key=sort_key):
        groups[(r.config, r.provider, r.prompt)].append(r)
    return groups


def summary_lines(records: Sequence[CaseRecord]) -> list[str]:
    lines = []
    for (config, provider, prompt), rows in sorted(group_records(records).items()):
        graded = [r for r in rows if r.outcome in ("passed", "failed", "error")]
        passed = sum(r.outcome == "passed" for r in graded)
        failed = sum(r.outcome == "failed" for r in graded)
        errors = sum(r.outcome == "error" for r in graded)
        scores = [r.score for r in graded if r.score is not None]
        tokens = sum(r.tokens for r in rows)
        costs = [r.cost for r in rows if r.cost is not None]
        lat = [r.latency_ms for r in rows if r.latency_ms]
        rate = f"{100 * passed / len(graded):.0f}%" if graded else "-"
        where = f"{config} · {provider}" + (f" · {prompt}" if prompt else "")
        parts = [
            f"{passed} passed, {failed} failed, {errors} errors ({rate})" if graded else "",
            f"mean score {statistics.fmean(scores):.2f}" if scores else "",
            f"{tokens} tokens",
            _usd(sum(costs)) if costs else "cost n/a",
            f"p50 {_pct(lat, 0.5):.0f} ms p95 {_pct(lat, 0.95):.0f} ms" if lat else "",
            f"{sum(r.cache_hits for r in rows)} cache hits",
            f"{sum(r.replayed for r in rows)} replayed / {sum(r.live for r in rows)} live",
        ]
        drift = sum(r.drift for r in rows)
        if drift:
            parts.append(f"{drift} drifted")
        limited = sum(r.rate_limited for r in rows)
        if limited:
            parts.append(f"{limited} rate-limited (429 after retries; not assertion failures)")
        lines.append(f"{where}: " + ", ".join(p for p in parts if p))
    return lines


def grand_total(records: Sequence[CaseRecord]) -> str:
    """One line for the whole run: every config's items, and the fixture tests' calls."""
    graded = [r for r in records if r.outcome in ("passed", "failed", "error")]
    passed = sum(r.outcome == "passed" for r in graded)
    costs = [r.cost for r in records if r.cost is not None]
    configs = len({r.config for r in records if r.kind == "case"})
    parts = [
        f"{passed}/{len(graded)} passed ({100 * passed / len(graded):.0f}%)" if graded else "",
        f"{sum(r.outcome == 'failed' for r in graded)} failed" if graded else "",
        f"{sum(r.outcome == 'error' for r in graded)} errors" if graded else "",
        f"{sum(r.tokens for r in records)} tokens",
        _usd(sum(costs)) if costs else "cost n/a",
        f"{sum(r.cache_hits for r in records)} cache hits",
        f"{sum(r.replayed for r in records)} replayed / {sum(r.live for r in records)} live",
    ]
    where = f"{configs} config{'s' if configs != 1 else ''}"
    fixtures = sum(r.kind == "fixture" for r in records)
    if fixtures:
        where += f" + {fixtures} fixture test{'s' if fixtures != 1 else ''}"
    return f"total ({where}): " + ", ".join(p for p in parts if p)


def write_summary(
    tr: Any,
    records: Sequence[CaseRecord],
    *,
    scrub: Callable[[str], str],
    concurrency: int,
) -> None:
    if not records:
        return
    records = sorted(records, key=sort_key)
    tr.write_sep("-", "cfgateway summary")
    for line in summary_lines(records):
        tr.write_line(scrub(line))
    tr.write_line(grand_total(records))
    prefetched = sum(r.prefetched for r in records)
    if prefetched:
        tr.write_line(
            f"scheduler: {prefetched} gateway calls started ahead of their items, up to "
            f"{concurrency} at a time"
        )
    budget_skips = sum(r.budget_skipped for r in records)
    if budget_skips:
        spent = sum(r.spend for r in records)
        tr.write_line(
            f"budget: {budget_skips} item(s) skipped after the estimated spend passed "
            f"--cf-max-cost (${spent:.4f} spent)"
        )
    drifted = [r for r in records if r.drift_report]
    if drifted:
        verbose = tr.config.get_verbosity() > 0
        tr.write_line(
            f"drift: {len(drifted)} test(s) answered differently from their snapshots"
            + ("" if verbose else " (-v shows the diffs)")
        )
        if verbose:
            for r in drifted:
                tr.write_line(scrub(f"{r.nodeid}:\n{r.drift_report}"))
    write_review(tr, records, scrub)


def write_review(tr: Any, records: Sequence[CaseRecord], scrub: Callable[[str], str]) -> None:
    """Items whose new recording differs from the committed snapshot: a count, and with -v
    the committed and new answers side by side with the verdict change."""
    flagged = [r for r in sorted(records, key=sort_key) if r.changed and r.kind == "case"]
    # an item with no committed answer is new, not a difference from the snapshots
    changed = [r for r in flagged if r.committed_output is not None]
    new = len(flagged) - len(changed)
    if new:
        tr.write_line(f"review: {new} new answer(s) with no committed snapshot to compare")
    if not changed:
        return
    verbose = tr.config.get_verbosity() > 0
    tr.write_line(
        f"review: {len(changed)} answer(s) differ from the committed snapshots"
        + ("" if verbose else " (-v shows them side by side)")
    )
    if not verbose:
        return
    from ..snapshots.explain import side_by_side

    width = max(60, (getattr(tr, "_tw", None) and tr._tw.fullwidth) or 100)
    for r in changed:
        verdict = f"{r.previous_outcome or '?'} -> {r.outcome}"
        tr.write_line(scrub(f"{r.nodeid}  (verdict {verdict})"))
        for line in side_by_side(r.committed_output, r.output, width=width - 2):
            tr.write_line(scrub("  " + line))


def _rows(records: Sequence[CaseRecord]) -> list[dict[str, Any]]:
    """One row per config item, in promptfoo's EvaluateResult shape (plus our own keys)."""
    rows = []
    for r in sorted(records, key=sort_key):
        if r.kind != "case":
            continue
        tokens = {
            "prompt": r.prompt_tokens,
            "completion": r.completion_tokens,
            "total": r.tokens,
        }
        # promptfoo's ResultFailureReason: 0 none, 1 assertion failed, 2 error (a skipped
        # row, which promptfoo does not have, counts as an error with its reason)
        failure_reason = {"passed": 0, "failed": 1}.get(r.outcome, 2)
        grading = r.grading
        error = r.reason or r.outcome if failure_reason == 2 else None
        rows.append(
            {
                "id": "",  # set by report.promptfoo (a hash of the node id)
                "description": r.description or None,
                "promptIdx": r.prompt_idx,
                "testIdx": r.test_idx,
                "promptId": "",
                "prompt": {"raw": r.prompt_raw, "label": r.prompt},
                "provider": {"id": r.provider_id, "label": r.provider},
                "vars": r.vars,
                "testCase": {"description": r.description, "vars": r.vars},
                "response": {
                    "output": r.output,
                    "tokenUsage": tokens,
                    "cost": r.cost,
                    "cached": bool(r.cache_hits),
                    **({"error": error} if error else {}),
                },
                "success": r.outcome == "passed",
                "score": r.score if r.score is not None else 0.0,
                "latencyMs": r.latency_ms or 0,
                "cost": r.cost or 0.0,
                "tokenUsage": {**tokens, "numRequests": 1},
                "gradingResult": grading,
                "namedScores": (grading or {}).get("namedScores", {}),
                "failureReason": failure_reason,
                "error": error,
                "metadata": {"nodeid": r.nodeid, "config": r.config},
                # pytest-cfgateway's own keys
                "nodeid": r.nodeid,
                "config": r.config,
                "outcome": r.outcome,
                "reason": r.reason,
                "output": r.output,
                "replayed": r.replayed,
                "live": r.live,
                "cacheHits": r.cache_hits,
                "drift": r.drift,
                "feedback": r.feedback,  # --cf-feedback: [{logId, call, status}]
            }
        )
    return rows


#: keys of `_rows` that are pytest-cfgateway's own (not in promptfoo's EvaluateResult)
OWN_ROW_KEYS = (
    "nodeid", "config", "outcome", "reason", "output", "replayed", "live", "cacheHits",
    "drift", "feedback",
)  # fmt: skip


def evaluate_results(
    records: Sequence[CaseRecord], *, own_keys: bool = False
) -> list[dict[str, Any]]:
    """Config items' records as promptfoo's EvaluateResult dicts (what extension hooks get);
    ``own_keys`` keeps pytest-cfgateway's keys too (``report.promptfoo`` needs them)."""
    rows = _rows(records)
    return rows if own_keys else [strip_own_keys(row) for row in rows]


def strip_own_keys(row: dict[str, Any]) -> dict[str, Any]:
    """A row without pytest-cfgateway's own keys."""
    return {k: v for k, v in row.items() if k not in OWN_ROW_KEYS}


def render_output(path: Path, records: Sequence[CaseRecord], secrets: Any = None) -> str:
    suffix = path.suffix.lower()
    if suffix == ".html":
        from ..report.html import render_html

        data = [r.to_dict() for r in sorted(records, key=sort_key)]
        if secrets is not None:  # scrubbed before the template engine escapes it
            data = secrets.scrub(data)
        return render_html(data)
    rows = _rows(records)
    if secrets is not None:
        # scrubbed before any format escapes it (HTML entities, CSV quotes, JSON escapes)
        rows = secrets.scrub(rows)
    if suffix == ".json":
        from ..report.promptfoo import dumps, eval_document

        return dumps(eval_document(rows))
    if suffix == ".jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if suffix == ".csv":
        buf = io.StringIO()
        fields = ["nodeid", "config", "provider", "prompt", "outcome", "score", "reason", "output"]
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**row, "provider": row["provider"]["label"], "prompt": row["prompt"]["label"]}
            )
        return buf.getvalue()
    raise ValueError(
        f"--cf-output {path}: unsupported extension {path.suffix!r}; use .json, .jsonl, .csv "
        "or .html"
    )


def write_outputs(records: Sequence[CaseRecord], paths: Sequence[Path], secrets: Any) -> None:
    for path in paths:
        text = secrets.scrub_text(render_output(path, records, secrets))
        leaked = secrets.find_in(text)  # raw or escaped
        if leaked:  # scrub_text makes this unreachable unless scrubbing breaks: refuse loudly
            raise RuntimeError(f"refusing to write {path}: it would contain the secret {leaked}")
        from .._files import atomic_write_text

        atomic_write_text(path, text)
