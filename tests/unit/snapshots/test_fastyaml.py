"""The fast cassette reader returns exactly what PyYAML's safe loader returns, or declines.

Compared by ``repr`` (types and key order count: ``1`` is not ``1.0`` nor ``True``).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from pytest_cfgateway.snapshots._fastyaml import NOT_FAST, fast_load
from pytest_cfgateway.snapshots.yamlio import _CassetteLoader, dump_yaml, load_yaml

#: strings that look like other things, need quoting, or are block text
TRICKY = [
    "",
    " ",
    "plain",
    "two words",
    "1",
    "-1",
    "1.5",
    "1e3",
    "0x1F",
    "0o17",
    "1_000",
    "1:20",
    ".inf",
    "-.inf",
    ".nan",
    "true",
    "False",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "~",
    "null",
    "Null",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "<<",
    "=",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "#x",
    "- x",
    "-x",
    "--- x",
    "...",
    "? x",
    ":x",
    "[x]",
    "{x}",
    "x, y",
    "'quoted'",
    '"double"',
    "it's",
    'say "hi"',
    "back\\slash",
    "trailing ",
    " leading",
    "tab\there",
    "bell\x07",
    "nel\x85x",
    "ls\u2028x",
    "bom\ufeffx",
    "del\x7fx",
    "emoji \U0001f600",
    "accents éà",
    "%percent",
    "@at",
    "`tick",
    "&anchor",
    "*alias",
    "!tag",
    "|pipe",
    ">gt",
    "line one\nline two",
    "line one\nline two\n",
    "ends with two\n\n",
    "\nleading newline",
    "  indented\nblock",
    "trailing space \nline",
    "a\n\nb",
    "a\n\n\n",
    "x" * 300,
    "k" * 130 + ": v",
]


def _random_data(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 4 or kind < 0.45:
        return rng.choice(
            [
                *TRICKY,
                rng.randint(-(10**12), 10**12),
                rng.random() * 10 ** rng.randint(-5, 12),
                -rng.random(),
                0.0,
                True,
                False,
                None,
                float("inf"),
            ]
        )
    if kind < 0.7:
        return [_random_data(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind < 0.8:
        return [rng.random() for _ in range(rng.randint(1, 5))]  # flow style
    keys = [*TRICKY[:40], "role", "content", "body", "model", 1, 200, -3]
    return {rng.choice(keys): _random_data(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=_CassetteLoader)


def test_generated_documents_read_as_pyyaml_reads_them() -> None:
    rng = random.Random(1234)
    fast = 0
    for _ in range(3000):
        data = {"version": 2, "exchanges": [_random_data(rng) for _ in range(rng.randint(1, 3))]}
        text = dump_yaml(data)
        got = fast_load(text)
        if got is NOT_FAST:
            continue
        fast += 1
        assert repr(got) == repr(_pyyaml(text)), text
        assert repr(load_yaml(text)) == repr(_pyyaml(text))
    assert fast > 1000  # the reader handles most of what the dumper writes


def test_cassette_shapes_are_read_fast() -> None:
    data = {
        "version": 2,
        "exchanges": [
            {
                "role": "answer",
                "fingerprint": "ab" * 32,
                "request": {
                    "provider": "openai",
                    "body": {
                        "messages": [{"role": "user", "content": "Say 'hi': #1\nthen stop"}],
                        "temperature": 0.5,
                        "max_tokens": 20,
                        "stream": False,
                        "stop": None,
                    },
                },
                "status": 200,
                "output_text": "multi\nline\n",
                "usage": {"prompt_tokens": 4},
                "cost": 3.0e-06,
                "response": {
                    "headers": {"cf-aig-step": "0"},
                    "body": {"embedding": [0.1, -2.5e-07, 3], "choices": [], "extra": {}},
                },
            }
        ],
    }
    text = dump_yaml(data)
    got = fast_load(text)
    assert got is not NOT_FAST
    assert repr(got) == repr(_pyyaml(text)) == repr(data)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n# a comment\nb: 2\n",
        "a: 1 # trailing comment\n",
        "a: 1\n\nb: 2\n",
        "---\na: 1\n",
        "a: &x 1\nb: *x\n",
        "a: !lines\n- x\n- y\n",
        "a: !!str 1\n",
        "a: plain\n  continued\n",
        "a: 'multi\n  line'\n",
        'a: "esc\\tape"\n',
        "a: |2\n   x\n",
        "a: >\n  folded\n",
        "a:\n  - - nested\n",
        "a:\n- \n",
        "a:\n-\n  b: 1\n",
        "a: {b: 1}\n",
        "a: [x, [y]]\n",
        "? complex\n: key\n",
        "a:\tb\n",
        "a: 1\r\nb: 2\r\n",
        "a: 1",
        "a:  1\n",
        "a: 1\n b: 2\n",
        "a: 1\n- x\n",
        "a:\n  b: 1\n c: 2\n",
        "a: |\n  x\n \n  y\n",
        "a: |\n\n  x\n",
        "1.5: float key\n",
        "true: bool key\n",
        "~: null key\n",
        "<<: {a: 1}\n",
        "a: 2001-12-14\n",
        "- top level list\n",
        "plain top level\n",
        "",
        "a: b: c\n",
        "a: x:\n",
        "a: [1, 2,]\n",
        "a: [1, 2\n",
        "a: 'unterminated\n",
        "a: 'x' y\n",
        "\ufeffa: 1\n",
    ],
)
def test_other_documents_are_left_to_pyyaml(text: str) -> None:
    """Comments, blank lines, anchors, tags, escapes, folding, odd indentation, invalid
    YAML: the fast reader declines, and load_yaml gives PyYAML's data or error."""
    assert fast_load(text) is NOT_FAST
    try:
        expected = repr(_pyyaml(text))
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            load_yaml(text)
    else:
        assert repr(load_yaml(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a: |+\n  x\n\n\nb: 1\n",
        "a: |+\n  x\n\n",
        "a: |\n  x\n\n  y\n",
        "a: |-\n  x\n\n",
        "a:\n- |\n  x\n- y\n",
        "a:\n  - 1\n  - 2\nb: 3\n",
        "'quoted key': 'it''s'\n",
        'a: "no escapes"\n',
        "a: []\nb: {}\n",
        "a:\nb: 1\n",
        "200: int key\n",
        "a: 0x1F\nb: 1_000\nc: 1:20\nd: .inf\ne: yes\n",
    ],
)
def test_hand_written_documents_in_the_subset_match_pyyaml(text: str) -> None:
    got = fast_load(text)
    assert got is not NOT_FAST
    assert repr(got) == repr(_pyyaml(text))
