"""The real-world corpus (tests/corpus/: promptfoo's own examples and other projects'
configs, each with a SOURCE note): every config collects with the row count real promptfoo
0.123.1 reported for it (tests/corpus/promptfoo_rows.json, measured by
tests/corpus/measure_promptfoo.py), and the whole corpus runs end to end in record mode
against the emulator without an INTERNALERROR.

Configs whose count still differs are listed with the reason in
tests/corpus/known_differences.json; the test keeps that list true in both directions.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent.parent / "corpus"
ROWS: dict[str, int] = json.loads((CORPUS / "promptfoo_rows.json").read_text())
KNOWN: dict[str, str] = json.loads((CORPUS / "known_differences.json").read_text())
#: no network beyond loopback: libraries honouring proxies get a dead one
DEAD = "http://127.0.0.1:9"
FAKE_KEYS = {
    name: f"sk-corpus-FAKE-{name.lower()}-0123456789"
    for name in (
        "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "PERPLEXITY_API_KEY",
        "GEMINI_API_KEY", "GOOGLE_API_KEY", "MISTRAL_API_KEY", "COHERE_API_KEY",
        "AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "CLOUDFLARE_API_KEY", "HF_API_TOKEN",
        "REPLICATE_API_TOKEN", "XAI_API_KEY", "DEEPSEEK_API_KEY", "CEREBRAS_API_KEY",
        "OPENROUTER_API_KEY",
    )
}  # fmt: skip


def test_corpus_is_big_enough_and_sourced() -> None:
    assert len(ROWS) >= 60
    for name in ROWS:
        assert (CORPUS / name / "promptfooconfig.yaml").is_file(), name
        source = (CORPUS / name / "SOURCE").read_text()
        assert "repo:" in source and "license:" in source, name
    assert set(KNOWN) <= set(ROWS)


@pytest.fixture
def corpus(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    dest = pytester.path / "corpus"
    for name in ROWS:
        shutil.copytree(CORPUS / name, dest / name)
    for key, value in {
        "CLOUDFLARE_ACCOUNT_ID": "acct",
        "CLOUDFLARE_GATEWAY_ID": "gw",
        "HTTP_PROXY": DEAD,
        "HTTPS_PROXY": DEAD,
        "NO_PROXY": "127.0.0.1,localhost",
        **FAKE_KEYS,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CF_AIG_TOKEN", raising=False)
    monkeypatch.delenv("CF_GATEWAY_URL", raising=False)
    return [
        a for name in sorted(ROWS) for a in ("--cf-config", f"corpus/{name}/promptfooconfig.yaml")
    ]


def _per_config(lines: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        m = re.match(r"^corpus/([^/]+)/promptfooconfig\.yaml::", line)
        if m:
            counts[m.group(1)] += 1
    return counts


def test_every_config_collects_promptfoos_row_count(pytester, corpus):
    result = pytester.runpytest(
        *corpus, "--collect-only", "-q", "--continue-on-collection-errors", "-p", "no:cacheprovider"
    )
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    counts = _per_config(result.stdout.lines)
    same = {name for name, rows in ROWS.items() if counts.get(name, 0) == rows}
    differ = {name: (counts.get(name, 0), ROWS[name]) for name in ROWS if name not in same}
    print(f"corpus: {len(same)}/{len(ROWS)} configs collect promptfoo's row count")
    unexplained = {n: v for n, v in differ.items() if n not in KNOWN}
    assert not unexplained, f"(ours, promptfoo's) rows differ: {unexplained}\n{out[-3000:]}"
    fixed = sorted(set(KNOWN) & same)
    assert not fixed, f"now equal: remove from known_differences.json: {fixed}"


def test_the_corpus_runs_end_to_end_in_record_mode(pytester, corpus, emu):
    result = pytester.runpytest(
        *corpus, "--cf-mode", "record", "--cf-gateway-url", emu.url,
        "--continue-on-collection-errors", "-q", "-rfEs", "-p", "no:cacheprovider",
    )  # fmt: skip
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    # the moderation and conversation-relevance configs run (they were refused before)
    for name in ("moderation", "conversation-relevance"):
        assert not re.search(rf"^(ERROR|SKIPPED).*corpus/{name}/", out, re.M), out[-3000:]
    # every item ends in a verdict, a skip or an error with its reason: a traceback ("E   ...")
    # means an exception escaped our code (as "Gateway.prepare() got multiple values" did)
    crashes = [line for line in result.stdout.lines if line.startswith("E   ")]
    assert not crashes, crashes[:20]
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), out[-3000:]
    outcomes = result.parseoutcomes()
    print(f"corpus end to end: {outcomes}")
    ran = sum(outcomes.get(k, 0) for k in ("passed", "failed", "skipped", "error", "errors"))
    expected = sum(rows for name, rows in ROWS.items() if name not in KNOWN)
    assert ran >= expected, outcomes
    assert emu.requests, "nothing reached the emulator"
