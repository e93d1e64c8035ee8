"""Configs promptfoo runs although they hold something pytest-cfgateway does not carry out:
they load, and each says so once in a warning naming the file and key (or in the skip reason
of the provider's items). Header comments in each file:

    # warning: <fragment of one warning>
    # skip: <fragment of a provider skip reason>
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cfgateway.config import load_config

CORPUS = Path(__file__).parent / "warn_corpus"
ROOT = Path(__file__).parent
CASES = sorted(CORPUS.glob("*.yaml"))


def _header(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        out[key.strip()] = value.strip()
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_config_loads_and_warns(path: Path) -> None:
    expect = _header(path)
    assert expect, f"{path.name} lacks its header"
    loaded = load_config(path, env={}, rootdir=ROOT)
    assert loaded.cases
    if "warning" in expect:
        hits = [w for w in loaded.warnings if expect["warning"] in w]
        assert len(hits) == 1, loaded.warnings
        assert f"warn_corpus/{path.name}" in hits[0] or "corpus/data/" in hits[0]
    if "skip" in expect:
        reasons = {c.provider.skip_reason for c in loaded.cases}
        assert any(r and expect["skip"] in r for r in reasons), reasons


def test_unknown_key_warns_once_per_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "version: 1\nvars: {a: 1}\nprompts: ['{{a}}']\nproviders: [echo]\ntests:\n"
        "  - {vars: {a: 1}, expected: x, assert: [{type: equals, value: '1', description: d}]}\n"
        "  - {vars: {a: 2}, expected: y, assert: [{type: equals, value: '2', description: e}]}\n"
    )
    loaded = load_config(tmp_path / "c.yaml", env={}, rootdir=tmp_path)
    assert len(loaded.cases) == 2
    keys = sorted(w.split("unknown ", 1)[1].split(" is ignored")[0] for w in loaded.warnings)
    assert keys == [
        "assertion key 'description'",
        "test case key 'expected'",
        "top-level key 'vars'",
        "top-level key 'version'",
    ]
    assert all(w.startswith("c.yaml:") for w in loaded.warnings)


def test_every_key_of_promptfoos_schema_is_accepted_silently(tmp_path: Path) -> None:
    from pytest_cfgateway.config.load import SCHEMA_KEYS

    # promptfoo 0.123.1 UnifiedConfigSchema top-level keys (TestSuiteConfigSchema + extend)
    promptfoo_keys = {
        "tags", "description", "providers", "prompts", "tests", "scenarios", "defaultTest",
        "outputPath", "sharing", "nunjucksFilters", "env", "derivedMetrics", "extensions",
        "metadata", "redteam", "writeLatestResults", "tracing", "evaluateOptions",
        "commandLineOptions", "targets",
    }  # fmt: skip
    assert promptfoo_keys <= set(SCHEMA_KEYS)
    (tmp_path / "c.yaml").write_text(
        "description: d\ntags: {team: a}\noutputPath: out.json\nsharing: false\n"
        "writeLatestResults: true\ntracing: {enabled: false}\ncommandLineOptions: {}\n"
        "metadata: {x: 1}\nevaluateOptions: {maxConcurrency: 2}\nenv: {A: b}\n"
        "prompts: [hi]\nproviders: [echo]\n"
    )
    loaded = load_config(tmp_path / "c.yaml", env={}, rootdir=tmp_path)
    assert loaded.warnings == []
