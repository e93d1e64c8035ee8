"""Fidelity: pytest-cfgateway's verdicts equal the real promptfoo's on an echo-only corpus.

The configs live in ``configs/``; ``expected/<config>.json`` holds promptfoo 0.123.1's verdicts
for every result row, produced by ``bench/compare_promptfoo.py --write-expected`` (it runs the
real promptfoo). These tests need no Node: they run the plugin once on every config (one
subprocess, ``--cf-output``) and compare row count, per-row pass/fail and score (1e-6).

Rows where the plugin is known to differ are ``xfail(strict=True)`` with the reason, so the
suite stays green and a fix shows up as XPASS (then delete the entry below).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
EXPECTED = HERE / "expected"


def _load_rows() -> Any:
    spec = importlib.util.spec_from_file_location("fidelity_rows", HERE / "rows.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rows = _load_rows()

# Plugin bugs (it should do what promptfoo does); see the fidelity report for the details.
_FILE_JSON_VAR = (
    "promptfoo 0.123.1 loads a file://x.json var as its raw text (so {{data.city}} is empty); "
    "the plugin parses it into an object"
)
_REGEX_MODIFIERS = (
    "runtime-dependent deviation: (?i:...) modifier groups are invalid on Node 22 (promptfoo "
    "fails 'Invalid regex pattern'), valid on Node >= 23; the plugin accepts them"
)
_FUNCTION_CALL_PROVIDER = (
    "promptfoo 0.123.1 checks is-valid-function-call through the provider (openai:chat, "
    "google/vertex only) and fails on echo; the plugin checks it for every provider"
)

KNOWN_ROW_MISMATCHES: dict[tuple[str, int], str] = {
    ("24_file_vars", 0): _FILE_JSON_VAR,
    ("26_edge_cases", 13): _REGEX_MODIFIERS,
    ("50_function_call_echo", 0): _FUNCTION_CALL_PROVIDER,
}
KNOWN_COUNT_MISMATCHES: dict[str, str] = {}


def _config_names() -> list[str]:
    return sorted(p.stem for p in CONFIGS.glob("*.yaml") if p.name[0].isdigit())


@functools.cache
def _expected(stem: str) -> list[dict[str, Any]]:
    doc = json.loads((EXPECTED / f"{stem}.json").read_text(encoding="utf-8"))
    return list(rows.expected_rows(doc))


_PAIRS: dict[str, Any] = {}


def _pairs(stem: str, plugin_output: dict[str, Any]) -> Any:
    """promptfoo's rows of one config paired with ours (computed once per config)."""
    if stem not in _PAIRS:
        ours = rows.plugin_rows(plugin_output, f"{stem}.yaml")
        _PAIRS[stem] = (rows.match_rows(_expected(stem), ours)[0], len(ours))
    return _PAIRS[stem]


def _count_params() -> list[Any]:
    return [
        pytest.param(
            stem,
            id=stem,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_COUNT_MISMATCHES[stem])]
            if stem in KNOWN_COUNT_MISMATCHES
            else [],
        )
        for stem in _config_names()
        if (EXPECTED / f"{stem}.json").exists()
    ]


def _row_params() -> list[Any]:
    params = []
    for stem in _config_names():
        if not (EXPECTED / f"{stem}.json").exists():
            continue
        for i, row in enumerate(_expected(stem)):
            reason = KNOWN_ROW_MISMATCHES.get((stem, i))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(
                pytest.param(stem, i, id=f"{stem}#{i}-{row['description'][:40]}", marks=marks)
            )
    return params


@pytest.fixture(scope="module")
def plugin_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the plugin once over the whole corpus (in a copy) and return its --cf-output."""
    work = tmp_path_factory.mktemp("fidelity") / "configs"
    shutil.copytree(CONFIGS, work)
    (work / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
    )
    out = work / "ours.json"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += ["--continue-on-collection-errors", "--cf-output", str(out)]
    for stem in _config_names():
        args += ["--cf-config", f"{stem}.yaml"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "CF_", "CLOUDFLARE_")) and k != "COV_CORE_SOURCE"
    }
    proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert out.exists(), f"the plugin wrote no --cf-output:\n{proc.stdout[-3000:]}{proc.stderr}"
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert "INTERNALERROR" not in proc.stdout, proc.stdout[-3000:]
    return data


def test_every_config_has_promptfoo_verdicts() -> None:
    """The corpus and the stored verdicts stay in step (re-run the bench after adding one)."""
    names = _config_names()
    assert len(names) >= 15
    missing = [n for n in names if not (EXPECTED / f"{n}.json").exists()]
    assert not missing, f"run bench/compare_promptfoo.py --write-expected for {missing}"
    stale = sorted({p.stem for p in EXPECTED.glob("*.json")} - set(names))
    assert not stale, f"expected/ files without a config: {stale}"


@pytest.mark.parametrize("stem", _count_params())
def test_row_count_matches_promptfoo(stem: str, plugin_output: dict[str, Any]) -> None:
    assert _pairs(stem, plugin_output)[1] == len(_expected(stem))


@pytest.mark.parametrize(("stem", "index"), _row_params())
def test_row_verdict_matches_promptfoo(
    stem: str, index: int, plugin_output: dict[str, Any]
) -> None:
    exp, ours = _pairs(stem, plugin_output)[0][index]
    problems = rows.row_problems(exp, ours)
    assert not problems, (
        f"{stem} row {index} ({exp['description']!r}, prompt {exp['prompt_label']!r}, vars "
        f"{exp['vars']}): {'; '.join(problems)}\n  promptfoo: pass={exp['pass']} "
        f"score={exp['score']} reason={exp['reason']!r} output={exp['output'][:200]!r}\n"
        f"  ours: {ours and {k: ours[k] for k in ('pass', 'score', 'reason', 'output')}}"
    )
