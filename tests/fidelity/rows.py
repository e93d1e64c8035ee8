"""Normalise promptfoo results and pytest-cfgateway results into comparable rows.

Shared by ``tests/fidelity/test_fidelity.py`` (offline, reads stored promptfoo verdicts) and
``bench/compare_promptfoo.py`` (by hand, runs the real promptfoo). No pytest import here.

A row is a plain dict::

    {"key": [vars_json, prompt_label, provider], "n": occurrence, "description": str,
     "vars": {...}, "prompt_label": str, "prompt_raw": str, "provider": str,
     "pass": bool, "score": float | None, "error": bool, "reason": str, "output": str}

Rows are matched by ``key`` (canonical vars + prompt label + provider label) and, when the same
key occurs several times (repeat, or identical tests), by the occurrence index ``n`` in result
order (promptfoo: ``testIdx`` then ``promptIdx``; the plugin: run order, which is collection
order).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

SCORE_TOLERANCE = 1e-6

_NAME_ID = re.compile(r"^(?P<name>.*?)(?:\[[^\[\]]*\])?$", re.S)


def _normal_var(value: Any) -> Any:
    # promptfoo's results re-serialise string vars that hold JSON objects/arrays compactly
    # ('{"a": 1}' is reported as '{"a":1}'), while the prompt still gets the original text.
    # (surrounding whitespace is dropped too: '  {"a": 1}  ' is reported as '{"a":1}').
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return "json:" + json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    return value


def canonical_vars(vars_: Any) -> str:
    """Key-order-independent JSON text of a vars mapping (JSON-text values normalised)."""
    normal = {k: _normal_var(v) for k, v in (vars_ or {}).items()}
    return json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _with_occurrence(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    for row in rows:
        k = json.dumps(row["key"])
        row["n"] = seen.get(k, 0)
        seen[k] = row["n"] + 1
    return rows


def promptfoo_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a ``promptfoo eval -o out.json`` file (results version 3)."""
    results = out["results"]["results"]
    ordered = sorted(results, key=lambda r: (r.get("testIdx", 0), r.get("promptIdx", 0)))
    rows = []
    for r in ordered:
        provider = r.get("provider") or {}
        prov = provider.get("label") or provider.get("id") or ""
        prompt = r.get("prompt") or {}
        vars_ = r.get("vars") or {}
        response = r.get("response") or {}
        output = response.get("output", "")
        rows.append(
            {
                "key": [canonical_vars(vars_), prompt.get("label", ""), prov],
                "description": (r.get("testCase") or {}).get("description") or "",
                "vars": vars_,
                "prompt_label": prompt.get("label", ""),
                "prompt_raw": prompt.get("raw", ""),
                "provider": prov,
                "pass": bool(r.get("success")),
                "score": _number(r.get("score")),
                "error": r.get("failureReason") == 2,
                "reason": str((r.get("gradingResult") or {}).get("reason") or r.get("error") or ""),
                "output": output if isinstance(output, str) else json.dumps(output),
            }
        )
    return _with_occurrence(rows)


def _label(value: Any) -> str:
    """``{label: ...}`` (promptfoo's result shape) or a plain string."""
    if isinstance(value, dict):
        return str(value.get("label") or value.get("id") or "")
    return str(value or "")


def plugin_rows(out: dict[str, Any], config_name: str | None = None) -> list[dict[str, Any]]:
    """Rows of a pytest-cfgateway ``--cf-output ours.json`` file, optionally of one config
    (matched by the config file's name)."""
    rows = []
    for r in out["results"]["results"]:
        if config_name is not None and r["config"].rsplit("/", 1)[-1] != config_name:
            continue
        vars_ = r.get("vars") or {}
        name = r["nodeid"].split("::", 1)[-1]
        prompt_label = _label(r.get("prompt"))
        provider_label = _label(r.get("provider"))
        m = _NAME_ID.match(name)
        rows.append(
            {
                "key": [canonical_vars(vars_), prompt_label, provider_label],
                "description": m.group("name") if m else name,
                "vars": vars_,
                "prompt_label": prompt_label,
                "prompt_raw": "",
                "provider": provider_label,
                "pass": r.get("outcome") == "passed",
                "score": _number(r.get("score")),
                "error": r.get("outcome") == "error",
                "reason": r.get("reason") or "",
                "output": r.get("output") or "",
                "outcome": r.get("outcome"),
            }
        )
    return _with_occurrence(rows)


def row_id(row: dict[str, Any]) -> str:
    """Stable key of a row: canonical vars, prompt label, provider and occurrence."""
    return json.dumps([*row["key"], row.get("n", 0)], ensure_ascii=False)


def match_rows(
    expected: list[dict[str, Any]], ours: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any] | None]], list[dict[str, Any]]]:
    """Pair every expected row with our row of the same key/occurrence (or None); also return
    our rows that match no expected row.

    Rows whose vars differ (promptfoo reports ``file://`` vars unresolved, the plugin resolved)
    fall back to matching by description + prompt label + provider, in order."""
    by_id = {row_id(r): r for r in ours}
    pairs = [(e, by_id.pop(row_id(e), None)) for e in expected]
    left = list(by_id.values())
    for i, (exp, got) in enumerate(pairs):
        if got is not None:
            continue
        for cand in left:
            if (cand["description"], cand["prompt_label"], cand["provider"]) == (
                exp["description"],
                exp["prompt_label"],
                exp["provider"],
            ):
                pairs[i] = (exp, cand)
                left.remove(cand)
                break
    return pairs, left


def row_problems(expected: dict[str, Any], ours: dict[str, Any] | None) -> list[str]:
    """Differences between promptfoo's verdict and ours for one row (empty when they agree)."""
    if ours is None:
        return ["row missing from the plugin's results (different vars/prompt/provider key)"]
    problems = []
    if expected["pass"] != ours["pass"]:
        problems.append(
            f"pass: promptfoo={expected['pass']} ours={ours['pass']} ({ours.get('outcome')})"
        )
    es, os_ = expected.get("score"), ours.get("score")
    if es is not None and os_ is not None and abs(es - os_) > SCORE_TOLERANCE:
        problems.append(f"score: promptfoo={es:.6g} ours={os_:.6g}")
    return problems


def expected_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a stored ``tests/fidelity/expected/<config>.json``, keys recomputed from the
    stored vars/prompt/provider (so a change to :func:`canonical_vars` needs no re-run)."""
    out = []
    for stored in doc["rows"]:
        row = dict(stored)
        row["key"] = [canonical_vars(row["vars"]), row["prompt_label"], row["provider"]]
        out.append(row)
    return _with_occurrence(out)
