"""promptfoo's afterEach and afterAll extension hooks, given results shaped as promptfoo's
``EvaluateResult`` from our records (``report.evaluate_results``).

- afterEach runs where the item ran, once its verdict is made (its record attached to the
  report), with ``{test, result}``; skipped items (promptfoo has no such rows) get none.
- afterAll runs once, at the end of the run, on the process that saw every result (the
  xdist controller, or the only process), per config that had items run, with ``{prompts,
  results, suite, evalId, config}``: ``suite`` as the beforeAll hooks left it, ``evalId``
  None (no eval is stored), ``prompts`` with promptfoo's per-column metrics.

What they return changes nothing we report (promptfoo merges afterEach's ``namedScores`` and
``metadata`` into its stored row). A hook that fails is a warning (`ExtensionHookWarning`)
naming it; no result is lost.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from .hooks import HookStore
from .record import CaseRecord
from .report import evaluate_results, strip_own_keys
from .state import RunState


def after_each(item: Any, data: dict[str, Any]) -> None:
    """Run the item's afterEach hooks with its (scrubbed) record as promptfoo's result."""
    case = item.case
    from ..config.extensions import (
        ExtensionHookError,
        ExtensionHookWarning,
        case_test_json,
        needs,
        run_hook,
    )

    if not needs(case.extensions, "afterEach") or data.get("outcome") == "skipped":
        return
    record = CaseRecord.from_dict(data)
    (result,) = evaluate_results([record])
    test = case_test_json(
        case.description, case.vars, case.asserts, case.options, case.metadata, case.threshold
    )
    timeout_ms = (case.evaluate_options or {}).get("timeoutMs") or 0
    try:
        run_hook(
            case.extensions,
            "afterEach",
            {"test": test, "result": result},
            timeout_ms / 1000 or None,
        )
    except ExtensionHookError as exc:
        item.warn(ExtensionHookWarning(f"{item.nodeid}: {exc}; its result is kept as it was"))


def after_all(config: pytest.Config) -> None:
    """Run every config's afterAll hooks with that config's results (reporting process)."""
    state = RunState.get(config)
    if state is None or hasattr(config, "workerinput"):
        return
    by_config: dict[str, list[CaseRecord]] = {}
    for record in state.records:
        if record.kind == "case":
            by_config.setdefault(record.config, []).append(record)
    store = HookStore.of(config)
    if not by_config or not store.has_results():
        return  # (no config ran beforeAll hooks: no suite, so no afterAll hook to run)
    state.bind_usercode_output()  # under xdist the controller collected nothing
    from ..config.cases import Extension
    from ..config.extensions import (
        ExtensionHookError,
        ExtensionHookWarning,
        needs,
        run_hook,
        suite_key,
    )
    from ..report.promptfoo import eval_document

    for rel, records in sorted(by_config.items()):
        path = Path(config.rootpath) / rel
        entry = store.peek(suite_key(path))
        if entry is None or "suite" not in entry:
            continue
        extensions = [Extension(**e) for e in entry.get("extensions") or []]
        if not needs(extensions, "afterAll"):
            continue
        doc = eval_document(evaluate_results(records, own_keys=True))
        results = [strip_own_keys(r) for r in doc["results"]["results"]]
        context = {
            "prompts": doc["results"]["prompts"],
            "results": results,
            "suite": entry["suite"],
            "evalId": None,
            "config": _raw_config(path),
        }
        try:
            run_hook(extensions, "afterAll", context, entry.get("timeout"))
        except ExtensionHookError as exc:
            warnings.warn_explicit(  # shown at the config, not at this module
                ExtensionHookWarning(f"{rel}: {exc}; the run's results are kept as they were"),
                ExtensionHookWarning,
                filename=str(path),
                lineno=0,
            )


def _raw_config(path: Path) -> Any:
    """The config as written (promptfoo's ``config`` of afterAll); None if unreadable."""
    import json

    from ..config import ConfigError
    from ..config.yaml12 import load_yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
        return json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text, path)[0]
    except (OSError, ValueError, ConfigError):  # read at collection; changed or gone since
        return None
