"""A corpus of malformed configs: each names the key path, message fragment (and line)
its ConfigError must carry. Header comments in each file:

    # key_path: tests[0].assert[0].type   (empty = the whole file)
    # message: Did you mean 'contains'
    # line: 8                             (optional)
    # file: corpus/data/x.csv             (optional: the file the error names)
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pytest_cfgateway.config import ConfigError, load_config

CORPUS = Path(__file__).parent / "corpus"
ROOT = Path(__file__).parent


def _header(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        out[key.strip()] = value.strip()
    return out


CASES = sorted(CORPUS.glob("*.yaml"))


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_malformed_config(path: Path) -> None:
    expect = _header(path)
    assert "message" in expect and "key_path" in expect, f"{path.name} lacks its header"
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, rootdir=ROOT)
    err = info.value
    text = str(err)
    assert expect["message"] in text
    assert err.key_path == expect["key_path"]
    if "line" in expect:
        assert err.line == int(expect["line"])
    shown = expect.get("file", f"corpus/{path.name}")
    assert text.startswith(shown + ":")
    assert err.fix, "every corpus error carries a fix"
    assert text.endswith(err.fix)
    clone = pickle.loads(pickle.dumps(err))
    assert str(clone) == text
