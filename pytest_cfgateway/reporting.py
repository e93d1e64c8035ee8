"""Terminal summary and result files (``--cf-output``)."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._runtime import CaseResult, Runtime


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _usd(value: float) -> str:
    """Dollars with enough digits to be useful for tiny eval costs."""
    return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def summary_lines(results: list[CaseResult]) -> list[str]:
    from ._runtime import group_results

    lines = []
    for (config, provider, prompt), rows in sorted(group_results(results).items()):
        graded = [r for r in rows if r.outcome in ("passed", "failed", "error")]
        passed = sum(r.outcome == "passed" for r in graded)
        failed = sum(r.outcome == "failed" for r in graded)
        errors = sum(r.outcome == "error" for r in graded)
        scores = [r.score for r in graded if r.score is not None]
        tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
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
        lines.append(f"{where}: " + ", ".join(p for p in parts if p))
    return lines


def write_summary(tr: Any, runtime: Runtime) -> None:
    scrub = runtime.secrets.scrub_text
    tr.write_sep("-", "cfgateway summary")
    for line in summary_lines(runtime.results):
        tr.write_line(scrub(line))
    if runtime.prefetcher.scheduled:
        tr.write_line(
            f"scheduler: {runtime.prefetcher.scheduled} gateway calls started ahead of their "
            f"items, up to {runtime.settings.concurrency} at a time"
        )
    if runtime.budget_skips:
        tr.write_line(
            f"budget: {runtime.budget_skips} item(s) skipped after the estimated spend passed "
            f"--cf-max-cost (${runtime.spent_usd:.4f} spent)"
        )
    if runtime.drift_reports:
        tr.write_line(
            f"drift: {len(runtime.drift_reports)} test(s) answered differently from their "
            "snapshots" + ("" if tr.config.get_verbosity() > 0 else " (-v shows the diffs)")
        )
        if tr.config.get_verbosity() > 0:
            for nodeid, text in runtime.drift_reports:
                tr.write_line(scrub(f"{nodeid}:\n{text}"))


def _rows(results: list[CaseResult]) -> list[dict[str, Any]]:
    return [
        {
            "nodeid": r.nodeid,
            "config": r.config,
            "provider": r.provider,
            "prompt": r.prompt,
            "success": r.outcome == "passed",
            "outcome": r.outcome,
            "score": r.score,
            "reason": r.reason,
            "output": r.output,
            "vars": r.vars,
            "tokenUsage": {
                "prompt": r.prompt_tokens,
                "completion": r.completion_tokens,
                "total": r.prompt_tokens + r.completion_tokens,
            },
            "cost": r.cost,
            "latencyMs": r.latency_ms,
            "replayed": r.replayed,
            "live": r.live,
            "cacheHits": r.cache_hits,
            "drift": r.drift,
        }
        for r in results
        if r.outcome != "fixture"
    ]


def render_output(path: Path, runtime: Runtime) -> str:
    rows = _rows(runtime.results)
    suffix = path.suffix.lower()
    if suffix == ".json":
        stats = {
            "successes": sum(r["success"] for r in rows),
            "failures": sum(r["outcome"] == "failed" for r in rows),
            "errors": sum(r["outcome"] == "error" for r in rows),
        }
        return json.dumps(
            {"version": 3, "results": {"version": 3, "results": rows, "stats": stats}},
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
        writer.writerows(rows)
        return buf.getvalue()
    raise ValueError(
        f"--cf-output {path}: unsupported extension {path.suffix!r}; use .json, .jsonl or .csv "
        "(.html is not implemented yet)"
    )


def write_outputs(runtime: Runtime, paths: Sequence[Path]) -> None:
    for path in paths:
        text = runtime.secrets.scrub_text(render_output(path, runtime))
        leaked = runtime.secrets.find_in(text)
        if leaked:  # scrub_text makes this unreachable unless scrubbing breaks: refuse loudly
            raise RuntimeError(f"refusing to write {path}: it would contain the secret {leaked}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
