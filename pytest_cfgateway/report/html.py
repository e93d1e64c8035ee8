"""The HTML report: one self-contained page rendered from ``templates/report.html.j2``.

The view model is built from scrubbed record dicts only (so serial and ``-n N`` runs give the
same page); Jinja2 autoescapes every value, after the caller scrubbed secrets.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

#: characters of a prompt label shown in a column header (the full prompt is in a tooltip
#: and in each cell's details)
LABEL_CHARS = 48


def render_html(records: Sequence[Mapping[str, Any]]) -> str:
    """The page for ``records`` (record dicts, in the order they should appear)."""
    text: str = _template().render(**view_model(records))
    return text


@cache
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = usd
    env.filters["num"] = _num
    return env.get_template("report.html.j2")


def usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def _num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def short_label(label: str, limit: int = LABEL_CHARS) -> str:
    """A prompt label fit for a column header: its first line, cut at ``limit`` characters."""
    lines = [line.strip() for line in label.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    cut = len(first) > limit or len(lines) > 1
    return (first[: limit - 1].rstrip() + "…") if cut else first


def percentile(values: Sequence[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _tokens(r: Mapping[str, Any]) -> int:
    return int(r.get("total_tokens") or 0) or int(r.get("prompt_tokens") or 0) + int(
        r.get("completion_tokens") or 0
    )


def _stats(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    graded = [r for r in rows if r["outcome"] in ("passed", "failed", "error")]
    passed = sum(r["outcome"] == "passed" for r in graded)
    scores = [r["score"] for r in graded if r.get("score") is not None]
    costs = [r["cost"] for r in rows if r.get("cost") is not None]
    lat = [r["latency_ms"] for r in rows if r.get("latency_ms")]
    return {
        "count": len(graded),
        "passed": passed,
        "failed": sum(r["outcome"] == "failed" for r in graded),
        "errors": sum(r["outcome"] == "error" for r in graded),
        "rate": (100 * passed / len(graded)) if graded else None,
        "score": statistics.fmean(scores) if scores else None,
        "tokens": sum(_tokens(r) for r in rows),
        "cost": sum(costs) if costs else None,
        "p50": percentile(lat, 0.5),
        "p95": percentile(lat, 0.95),
        "cache_hits": sum(int(r.get("cache_hits") or 0) for r in rows),
        "replayed": sum(int(r.get("replayed") or 0) for r in rows),
        "live": sum(int(r.get("live") or 0) for r in rows),
    }


def _row_title(r: Mapping[str, Any]) -> str:
    if r.get("description"):
        return str(r["description"])
    name = str(r["nodeid"]).split("::", 1)[-1]
    return name.split("[", 1)[0]


def _cell(r: Mapping[str, Any], ident: str) -> dict[str, Any]:
    assertions = list(r.get("assertions") or [])
    return {
        "id": ident,
        "nodeid": r["nodeid"],
        "outcome": r["outcome"],
        "failing": r["outcome"] in ("failed", "error"),
        "score": r.get("score"),
        "output": r.get("output") or "",
        "reason": r.get("reason") or "",
        "assertions": assertions,
        "metrics": sorted({a["metric"] for a in assertions if a.get("metric")}),
        "vars": {k: _show(v) for k, v in (r.get("vars") or {}).items()},
        "provider": r.get("provider") or "",
        "provider_id": r.get("provider_id") or "",
        "options": {k: _show(v) for k, v in (r.get("options") or {}).items()},
        "prompt_raw": r.get("prompt_raw") or "",
        "tokens": _tokens(r),
        "cost": r.get("cost"),
        "latency_ms": r.get("latency_ms"),
        "cache_hits": r.get("cache_hits") or 0,
        "replayed": r.get("replayed") or 0,
        "live": r.get("live") or 0,
        "changed": bool(r.get("changed")),
        "committed_output": r.get("committed_output"),
        "previous_outcome": r.get("previous_outcome"),
    }


def _show(value: Any) -> str:
    """A var or option value as text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1 if isinstance(value, dict) else None)


def view_model(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    cases = [r for r in records if r.get("kind", "case") == "case"]
    fixtures = [r for r in records if r.get("kind") == "fixture"]
    configs: dict[str, dict[str, Any]] = {}
    cells: list[dict[str, Any]] = []
    for r in cases:
        cfg = configs.setdefault(r["config"], {"name": r["config"], "columns": {}, "rows": {}})
        col_key = (r.get("prompt_idx"), r["provider"], r["prompt"])
        col = cfg["columns"].setdefault(
            col_key,
            {
                "index": len(cfg["columns"]),
                "provider": r["provider"],
                "provider_id": r.get("provider_id") or "",
                "prompt": short_label(r["prompt"] or r.get("prompt_raw") or ""),
                "prompt_full": r.get("prompt_raw") or r["prompt"],
                "records": [],
            },
        )
        col["records"].append(r)
        test_idx = r.get("test_idx")
        row_key = (
            test_idx
            if test_idx is not None
            else (_row_title(r), json.dumps(r.get("vars"), sort_keys=True))
        )
        row = cfg["rows"].setdefault(
            row_key,
            {"title": _row_title(r), "vars": _cell(r, "")["vars"], "cells": {}},
        )
        cell = _cell(r, f"c{len(cells)}")
        cell["column"] = col
        cells.append(cell)
        row["cells"][col["index"]] = cell
    out_configs = []
    for cfg in configs.values():
        columns = list(cfg["columns"].values())
        for col in columns:
            col["stats"] = _stats(col.pop("records"))
        rows = []
        for row in cfg["rows"].values():
            row_cells = [row["cells"].get(i) for i in range(len(columns))]
            rows.append(
                {
                    **row,
                    "cells": row_cells,
                    "failing": any(c is not None and c["failing"] for c in row_cells),
                }
            )
        out_configs.append({"name": cfg["name"], "columns": columns, "rows": rows})
    fixture_rows = [
        {
            "nodeid": r["nodeid"],
            "outcome": r.get("test_outcome") or "passed",
            "failing": (r.get("test_outcome") or "passed") in ("failed", "error"),
            "tokens": _tokens(r),
            "cost": r.get("cost"),
            "replayed": r.get("replayed") or 0,
            "live": r.get("live") or 0,
            "cache_hits": r.get("cache_hits") or 0,
            "drift": r.get("drift") or 0,
            "drift_report": r.get("drift_report") or "",
        }
        for r in fixtures
    ]
    return {
        "configs": out_configs,
        "fixtures": fixture_rows,
        "changed": [c for c in cells if c["changed"]],
        "total": _stats(list(records)),
        "cases": _stats(cases),
        "providers": sorted({c["provider"] for c in cells}),
        "prompts": sorted({c["column"]["prompt"] for c in cells}),
        "metrics": sorted({m for c in cells for m in c["metrics"]}),
    }
