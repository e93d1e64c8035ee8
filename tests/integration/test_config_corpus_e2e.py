"""The malformed-config corpus and the promptfoo-shaped examples, run as users run them:
through pytest, with the plugin collecting them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent / "unit" / "config"
CORPUS = sorted((UNIT / "corpus").glob("*.yaml"))
EXAMPLES = UNIT / "examples"
ENV = {"CLOUDFLARE_ACCOUNT_ID": "acct-123", "CLOUDFLARE_GATEWAY_ID": "gw-main"}


def _header(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        out[key.strip()] = value.strip()
    return out


@pytest.fixture
def corpus_copy(pytester: pytest.Pytester) -> Path:
    dest = pytester.path / "corpus"
    shutil.copytree(UNIT / "corpus", dest)
    return dest


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_config_is_a_clean_collection_error(pytester, corpus_copy, path):
    expect = _header(path)
    result = pytester.runpytest("--cf-config", f"corpus/{path.name}", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "Traceback" not in out
    assert result.ret == pytest.ExitCode.INTERRUPTED, out
    assert "1 error" in out
    assert expect["message"] in out.replace("\n", " ") or expect["message"] in out
    assert "Fix:" in out


def test_corpus_with_continue_on_collection_errors_runs_the_good_config(pytester, corpus_copy):
    good = pytester.path / "good.yaml"
    good.write_text(
        "prompts: ['hi']\nproviders: [echo]\ntests: [{assert: [{type: contains, value: hi}]}]\n"
    )
    args = [a for p in CORPUS[:10] for a in ("--cf-config", f"corpus/{p.name}")]
    result = pytester.runpytest(
        *args, "--cf-config", "good.yaml", "--continue-on-collection-errors"
    )
    result.assert_outcomes(passed=1, errors=10)
    assert "INTERNALERROR" not in result.stdout.str()


EXPECTED_ROWS = {
    "getting-started": 8,
    "simple-test": 6,
    "simple-csv": 8,
    "csv-metadata": 3,
    "self-grading": 10,
    "multi-translations": 150,
    "model-compare": 12,
    "support-rubric": 4,
    "gateway-trio": 9,
    "chat-messages": 6,
}


@pytest.mark.parametrize(("name", "rows"), sorted(EXPECTED_ROWS.items()))
def test_examples_collect_as_many_items_as_promptfoo_rows(pytester, monkeypatch, name, rows):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    shutil.copytree(EXAMPLES / name, pytester.path / name)
    if (EXAMPLES.parent / "corpus" / "data").is_dir():
        shutil.copytree(EXAMPLES.parent / "corpus" / "data", pytester.path / "corpus" / "data")
    result = pytester.runpytest(
        "--cf-config",
        f"{name}/promptfooconfig.yaml",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
    )
    items = [line for line in result.stdout.lines if "::" in line]
    assert len(items) == rows, result.stdout.str()
    assert len(set(items)) == rows
    assert "error" not in result.stdout.str().lower()
