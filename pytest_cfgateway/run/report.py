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
    changed = [r for r in sorted(records, key=sort_key) if r.changed and r.kind == "case"]
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
        failure_reason = {"passed": 0, "failed": 1, "error": 2}.get(r.outcome, 0)
        grading = r.grading
        rows.append(
            {
                "promptIdx": r.prompt_idx,
                "testIdx": r.test_idx,
                "prompt": {"raw": r.prompt_raw, "label": r.prompt},
                "provider": {"id": r.provider_id, "label": r.provider},
                "vars": r.vars,
                "testCase": {"description": r.description, "vars": r.vars},
                "response": {"output": r.output, "tokenUsage": tokens, "cost": r.cost},
                "success": r.outcome == "passed",
                "score": r.score,
                "latencyMs": r.latency_ms,
                "cost": r.cost,
                "gradingResult": grading,
                "namedScores": (grading or {}).get("namedScores", {}),
                "failureReason": failure_reason,
                "error": r.reason if r.outcome == "error" else None,
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


def render_output(path: Path, records: Sequence[CaseRecord], secrets: Any = None) -> str:
    rows = _rows(records)
    if secrets is not None:
        # scrubbed before any format escapes it (HTML entities, CSV quotes, JSON escapes)
        rows = secrets.scrub(rows)
    suffix = path.suffix.lower()
    if suffix == ".json":
        stats = {
            "successes": sum(r["success"] for r in rows),
            "failures": sum(r["outcome"] == "failed" for r in rows),
            "errors": sum(r["outcome"] == "error" for r in rows),
            "tokenUsage": {
                k: sum(r["response"]["tokenUsage"][k] for r in rows)
                for k in ("prompt", "completion", "total")
            },
        }
        prompts = []
        for r in rows:
            key = {
                "raw": r["prompt"]["raw"],
                "label": r["prompt"]["label"],
                "provider": r["provider"]["id"],
            }
            if key not in prompts:
                prompts.append(key)
        return json.dumps(
            {
                "results": {"version": 3, "prompts": prompts, "results": rows, "stats": stats},
                "config": {"configs": sorted({r["config"] for r in rows})},
                "shareableUrl": None,
            },
            indent=2,
            ensure_ascii=False,
        )
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
    if suffix == ".html":
        return render_html(rows)
    raise ValueError(
        f"--cf-output {path}: unsupported extension {path.suffix!r}; use .json, .jsonl, .csv "
        "or .html"
    )


_HTML_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}table{border-collapse:collapse;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f4f4f4}td.pass{background:#e9f7ec}td.fail{background:#fdecea}
td.error{background:#fff4e0}td.skipped{color:#888}
pre{white-space:pre-wrap;margin:.2rem 0;max-height:12rem;overflow:auto;font-size:12px}
.reason{color:#a33}.controls label{margin-right:1rem}.hidden{display:none}
"""

_HTML_SCRIPT = """
function applyFilters(){
  const onlyFail=document.getElementById('only-fail').checked;
  const q=document.getElementById('q').value.toLowerCase();
  for(const tr of document.querySelectorAll('tbody tr')){
    const failing=tr.dataset.failing==='1';
    const text=tr.textContent.toLowerCase();
    tr.classList.toggle('hidden',(onlyFail&&!failing)||(q&&!text.includes(q)));
  }
}
"""


def render_html(rows: list[dict[str, Any]]) -> str:
    """One self-contained page: per config, a matrix of test rows x (provider, prompt)
    columns with pass/fail, score, output and failing reasons, plus filters."""
    from html import escape

    columns: dict[str, list[tuple[str, str]]] = {}
    cells: dict[tuple[str, str, tuple[str, str]], dict[str, Any]] = {}
    row_order: dict[str, list[str]] = {}
    for r in rows:
        config = r["config"]
        col = (r["provider"]["label"], r["prompt"]["label"])
        test = r["nodeid"].split("::", 1)[-1].split("[", 1)[0]
        var_key = json.dumps(r["vars"], sort_keys=True, ensure_ascii=False)
        key = f"{test} {var_key}"
        if col not in columns.setdefault(config, []):
            columns[config].append(col)
        if key not in row_order.setdefault(config, []):
            row_order[config].append(key)
        cells[(config, key, col)] = r

    total = len(rows)
    passed = sum(r["success"] for r in rows)
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>pytest-cfgateway results</title>",
        f"<style>{_HTML_STYLE}</style></head><body>",
        f"<h1>pytest-cfgateway results: {passed}/{total} passed</h1>",
        "<div class='controls'><label><input type='checkbox' id='only-fail' "
        "onchange='applyFilters()'> failing rows only</label>",
        "<label>filter <input id='q' oninput='applyFilters()' placeholder='text'></label></div>",
    ]
    for config, cols in columns.items():
        out.append(f"<h2>{escape(config)}</h2><table><thead><tr><th>test / vars</th>")
        for provider, prompt in cols:
            out.append(f"<th>{escape(provider)}<br><small>{escape(prompt)}</small></th>")
        out.append("</tr></thead><tbody>")
        for key in row_order[config]:
            test, _, var_key = key.partition(" ")
            row_cells = [cells.get((config, key, col)) for col in cols]
            failing = any(c is not None and not c["success"] for c in row_cells)
            out.append(f"<tr data-failing='{int(failing)}'><td><b>{escape(test)}</b>")
            out.append(f"<pre>{escape(var_key)}</pre></td>")
            for c in row_cells:
                if c is None:
                    out.append("<td></td>")
                    continue
                cls = {"passed": "pass", "failed": "fail"}.get(c["outcome"], c["outcome"])
                score = "" if c["score"] is None else f" · score {c['score']:.2f}"
                out.append(f"<td class='{escape(cls)}'><b>{escape(c['outcome'].upper())}</b>")
                out.append(f"{escape(score)}<pre>{escape(c['output'])}</pre>")
                if not c["success"] and c["reason"]:
                    out.append(f"<div class='reason'>{escape(c['reason'])}</div>")
                out.append("</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
    out.append(f"<script>{_HTML_SCRIPT}</script></body></html>")
    return "\n".join(out)


def write_outputs(records: Sequence[CaseRecord], paths: Sequence[Path], secrets: Any) -> None:
    for path in paths:
        text = secrets.scrub_text(render_output(path, records, secrets))
        leaked = secrets.find_in(text)  # raw or escaped
        if leaked:  # scrub_text makes this unreachable unless scrubbing breaks: refuse loudly
            raise RuntimeError(f"refusing to write {path}: it would contain the secret {leaked}")
        from .._files import atomic_write_text

        atomic_write_text(path, text)
