"""promptfoo's eval export (``promptfoo eval -o out.json``), which ``promptfoo import`` reads
and ``promptfoo view`` shows: ``{evalId, results: EvaluateSummaryV3, config, shareableUrl}``.

Rows come in as `EvaluateResult`-shaped dicts (``run/report.py``); here the indexes are made
unique across configs (one eval may hold several configs: promptIdx/testIdx are per config in
the records) and the prompts get promptfoo's per-column metrics.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any


def _metrics() -> dict[str, Any]:
    return {
        "score": 0.0,
        "testPassCount": 0,
        "testFailCount": 0,
        "testErrorCount": 0,
        "assertPassCount": 0,
        "assertFailCount": 0,
        "totalLatencyMs": 0,
        "tokenUsage": {"prompt": 0, "completion": 0, "total": 0, "cached": 0, "numRequests": 0},
        "namedScores": {},
        "namedScoresCount": {},
        "cost": 0.0,
    }


def eval_document(
    rows: Sequence[dict[str, Any]], *, timestamp: str | None = None
) -> dict[str, Any]:
    """The export for ``rows`` (in their final order); indexes are rewritten in place."""
    columns: dict[tuple[Any, ...], int] = {}
    tests: dict[tuple[Any, ...], int] = {}
    prompts: list[dict[str, Any]] = []
    for row in rows:
        col_key = (row["config"], row["promptIdx"], row["prompt"]["label"], row["provider"]["id"])
        if col_key not in columns:
            columns[col_key] = len(prompts)
            prompts.append(
                {
                    "id": _sha(row["prompt"]["label"] + "\0" + row["prompt"]["raw"]),
                    "raw": row["prompt"]["raw"],
                    "label": row["prompt"]["label"],
                    "provider": row["provider"]["label"] or row["provider"]["id"],
                    "metrics": _metrics(),
                }
            )
        test_key = (row["config"], row["testIdx"] if row["testIdx"] is not None else row["nodeid"])
        row["promptIdx"] = columns[col_key]
        row["testIdx"] = tests.setdefault(test_key, len(tests))
        row["promptId"] = prompts[row["promptIdx"]]["id"]
        row["id"] = _sha(row["nodeid"])
        _count(prompts[row["promptIdx"]]["metrics"], row)
    stats = {
        "successes": sum(r["success"] for r in rows),
        "failures": sum(r["failureReason"] == 1 for r in rows),
        "errors": sum(r["failureReason"] == 2 for r in rows),
        "tokenUsage": {
            k: sum(r["response"]["tokenUsage"][k] for r in rows)
            for k in ("prompt", "completion", "total")
        },
    }
    configs = sorted({r["config"] for r in rows})
    return {
        "evalId": None,  # promptfoo import makes one
        "results": {
            "version": 3,
            # no wall-clock time: serial and -n N runs write the same bytes (import uses now)
            **({"timestamp": timestamp} if timestamp else {}),
            "prompts": prompts,
            "results": list(rows),
            "stats": stats,
        },
        "config": {
            "description": "pytest-cfgateway: " + ", ".join(configs),
            "configs": configs,
        },
        "shareableUrl": None,
    }


def _count(m: dict[str, Any], row: dict[str, Any]) -> None:
    m["score"] += row["score"]
    reason = row["failureReason"]
    m[
        "testPassCount"
        if row["success"]
        else ("testErrorCount" if reason == 2 else "testFailCount")
    ] += 1
    for comp in (row.get("gradingResult") or {}).get("componentResults") or []:
        m["assertPassCount" if comp.get("pass") else "assertFailCount"] += 1
    m["totalLatencyMs"] += row["latencyMs"]
    usage = row["response"]["tokenUsage"]
    for k in ("prompt", "completion", "total"):
        m["tokenUsage"][k] += usage[k]
    m["tokenUsage"]["numRequests"] += 1
    m["cost"] += row["cost"] or 0.0
    for name, value in (row.get("namedScores") or {}).items():
        m["namedScores"][name] = m["namedScores"].get(name, 0.0) + value
        m["namedScoresCount"][name] = m["namedScoresCount"].get(name, 0) + 1


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)
