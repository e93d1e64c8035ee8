"""The fast cassette writer writes exactly the bytes of PyYAML's dumper, or declines.

`dump_yaml_pyyaml` (PyYAML's C dumper with the cassette representers) is the reference;
every text is also read back through `_fastyaml` and through PyYAML's loader.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest
import yaml

from pytest_cfgateway.gateway.redact import Secret
from pytest_cfgateway.snapshots import _fastemit
from pytest_cfgateway.snapshots._fastemit import NOT_FAST, fast_dump, literal_block_ok
from pytest_cfgateway.snapshots._fastyaml import NOT_FAST as NOT_FAST_READ
from pytest_cfgateway.snapshots._fastyaml import fast_load
from pytest_cfgateway.snapshots.cassette import Cassette, Exchange
from pytest_cfgateway.snapshots.yamlio import (
    _CassetteLoader,
    dump_yaml,
    dump_yaml_pyyaml,
    load_yaml,
)

from .test_fastyaml import TRICKY

pytestmark = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False),
    reason="the fast writer reproduces libyaml's emitter (PyYAML without libyaml: not used)",
)

#: more strings: every rule of libyaml's scalar analysis, unicode, escapes, block headers
MORE = [
    "-",
    "?",
    ":",
    "?x",
    "x:",
    "x?",
    "a,b",
    "a[b]",
    "a{b}",
    "a !b",
    "a&b",
    "---",
    "--",
    "----x",
    "....",
    "=x",
    "0",
    "-0",
    "+1",
    "1.",
    ".5",
    "1e+3",
    "0b101",
    "190:20:30",
    "12:30",
    "On",
    "Y",
    "n",
    "NULL",
    "a  b",
    "  ",
    "\t",
    "cr\rx",
    "\r",
    "nul\x00x",
    "esc\x1bx",
    "c1\x9fx",
    "nbsp\xa0x",
    "\xa0",
    "narrow\u202fnbsp",
    "日本語のテキスト",
    "ελληνικά",
    "עברית",
    "private\ue000x",
    "\ufffd",
    "\ufffe",
    "\uffff",
    "emoji 😀 mid",
    "😀",
    "a\n😀\n",
    "a\n\x85b",
    "a\r\nb",
    "a\nb\tc",
    "a\nb ",
    "a \nb",
    "a\n ",
    "\n a",
    " a\nb",
    "\na",
    "\n",
    "\n\n",
    "a\n",
    "a\n\n",
    "a\n\n\nb\n\n\n",
    "```python\nprint('hi')\n```",
    "# Title\n\n- item one\n- item two: yes\n\n> quote",
    "line with 'quotes' and \"double\"\nand back\\slash",
    "x" * 130,
    "é" * 70,
]

STRINGS = [*TRICKY, *MORE]
NUMBERS: list[Any] = [
    0,
    -7,
    10**30,
    0.0,
    -0.0,
    1.5,
    3e-06,
    1e16,
    1e-300,
    123456789.123,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    None,
]
KEYS: list[Any] = [
    "role",
    "content",
    "",
    "x y",
    "yes",
    "1",
    "a:b",
    "é",
    "'",
    "tab\tkey",
    "k" * 128,
    "é" * 64,
]


def _roundtrips(data: Any, text: str) -> None:
    """``text`` reads back as ``data`` through PyYAML and (when it handles it) _fastyaml."""
    expected = repr(_comparable(data))
    assert repr(_comparable(yaml.load(text, Loader=_CassetteLoader))) == expected, text
    fast = fast_load(text)
    if fast is not NOT_FAST_READ:
        assert repr(_comparable(fast)) == expected, text
    assert repr(_comparable(load_yaml(text))) == expected, text


def _comparable(data: Any) -> Any:
    """Tuples are written as lists; nan is not equal to itself."""
    if isinstance(data, dict):
        return {k: _comparable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_comparable(v) for v in data]
    if isinstance(data, float) and data != data:
        return "nan"
    return data


def _same(data: Any, *, fast: bool = True) -> str:
    """fast_dump == PyYAML's dump (``fast``: and the fast writer handled it)."""
    reference = dump_yaml_pyyaml(data)
    got = fast_dump(data)
    if fast:
        assert got is not NOT_FAST, repr(data)
    if got is not NOT_FAST:
        assert got == reference, f"{data!r}\nPyYAML: {reference!r}\nfast:   {got!r}"
    assert dump_yaml(data) == reference
    return reference


@pytest.mark.parametrize("value", STRINGS + NUMBERS, ids=repr)
def test_every_scalar_as_a_value_an_item_and_nested(value: Any) -> None:
    # (U+2028 in a one-line string is a single-quoted scalar with a line break: declined)
    fast = not (isinstance(value, str) and "\u2028" in value and "\n" not in value)
    for data in (
        {"k": value},
        {"k": [value, "after"]},
        {"k": ["before", value]},
        {"a": {"b": [{"c": value, "d": [value]}]}, "z": value},
        {"k": [[value], [[value]]]},
        {"k": ({"x": value},)},
    ):
        text = _same(data, fast=fast)
        _roundtrips(data, text)


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_keys(key: str) -> None:
    data = {key: 1, "after": {key: [key]}}
    _roundtrips(data, _same(data))


@pytest.mark.parametrize(
    "data",
    [
        {"k" * 129: 1},  # a complex key (? k) in libyaml
        {"é" * 65: 1},
        {"two\nlines": 1},
        {"cr\rkey": 1},
        {1: "int key"},
        {None: 1},
        {"k": "line\u2028separator"},
        {"k": Secret("a str subclass")},
        {"k": object()},
        {"k": {1.5: "float key"}},
        {"k": "\ud800 surrogate"},
        {"k": 10**5000},  # str() refuses: PyYAML raises its own error
        ["a top-level list"],
        "a top-level string",
    ],
    ids=lambda data: type(data).__name__,
)
def test_what_it_declines_goes_to_pyyaml(data: Any) -> None:
    assert fast_dump(data) is NOT_FAST
    try:
        reference: Any = dump_yaml_pyyaml(data)
    except Exception as exc:  # the same error either way
        with pytest.raises(type(exc)):
            dump_yaml(data)
        return
    assert dump_yaml(data) == reference


def test_empty_containers_and_deep_nesting() -> None:
    data: dict[str, Any] = {"empty": {}, "none": [], "t": (), "l": [{}, [], ()]}
    _roundtrips(data, _same(data))
    deep: Any = "leaf\nwith lines\n"
    for i in range(40):
        deep = {f"k{i}": deep} if i % 2 else [deep, i]
    data = {"deep": deep}
    _roundtrips(data, _same(data))
    assert _same({}) == "{}\n"


def test_too_deep_is_declined() -> None:
    deep: Any = 1
    for _ in range(_fastemit._MAX_DEPTH + 5):
        deep = {"k": deep}
    data = {"deep": deep}
    assert fast_dump(data) is NOT_FAST
    assert dump_yaml(data) == dump_yaml_pyyaml(data)


def test_a_kept_trailing_newline_ends_the_document() -> None:
    # libyaml ends a document whose last literal block is ``|+`` with ``...``
    text = _same({"a": "x\n\n", "b": 1})
    assert text.endswith("...\n")
    assert not _same({"a": "x\n\n", "b": "y\n"}).endswith("...\n")
    _roundtrips({"a": "x\n\n", "b": 1}, text)


def test_lines_tag_for_text_a_literal_block_cannot_hold() -> None:
    text = _same({"k": "a \nb\tc", "l": ["x \ny"]})
    assert "k: !lines\n- 'a '\n- \"b\\tc\"\n" in text
    assert "l:\n- !lines\n  - 'x '\n  - y\n" in text


def _random_scalar(rng: random.Random) -> Any:
    kind = rng.random()
    if kind < 0.6:
        return "".join(rng.choice(STRINGS) for _ in range(rng.randint(1, 3)))
    if kind < 0.8:
        return rng.choice([*NUMBERS, rng.random() * 10 ** rng.randint(-8, 20)])
    return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 8)))


def _random_node(rng: random.Random, depth: int) -> Any:
    kind = rng.random()
    if depth > 5 or kind < 0.4:
        return _random_scalar(rng)
    if kind < 0.65:
        return {rng.choice(KEYS): _random_node(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    if kind < 0.75:
        return [rng.choice([1, 2.5, -3, 1e16, 0.1]) for _ in range(rng.randint(0, 4))]
    if kind < 0.8:
        return tuple(_random_node(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return [_random_node(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def test_generated_documents_are_written_as_pyyaml_writes_them() -> None:
    rng = random.Random(20261203)
    fast = 0
    for _ in range(4000):
        data = {rng.choice(KEYS): _random_node(rng, 0) for _ in range(rng.randint(1, 5))}
        got = fast_dump(data)
        if got is NOT_FAST:
            continue
        fast += 1
        reference = dump_yaml_pyyaml(data)
        assert got == reference, f"{data!r}\nPyYAML: {reference!r}\nfast:   {got!r}"
        _roundtrips(data, got)
    assert fast > 3000  # the writer handles most documents (declines only \u2028 here)


def test_recorded_cassettes_are_written_fast_and_identically() -> None:
    answers = [
        "Hello!",
        "Sure: here is a list\n\n1. one\n2. two\n",
        "yes",
        "",
        "  indented start\nsecond",
        "emoji 😀\nline",
        "trailing spaces  \nline",
    ]
    exchanges = [
        Exchange(
            fingerprint=f"{i:064x}",
            occurrence=0,
            request={
                "provider": "openai",
                "route": "chat/completions",
                "model": "gpt-4o-mini",
                "body": {"messages": [{"role": "user", "content": f"q{i}: {text}"}]},
            },
            status=200,
            headers={"cf-aig-cache-status": "MISS", "cf-aig-step": "0"},
            body={
                "id": "x",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 4, "completion_tokens": 4},
                "embedding": [0.25, -1e-07, 3],
            },
            output_text=text,
            usage={"prompt_tokens": 4},
            cost=3e-06 * (i + 1),
            latency_ms=float(100 + i),
            kind="grader" if i % 3 else "chat",
        )
        for i, text in enumerate(answers)
    ]
    cassette = Cassette(exchanges=exchanges, write=True)
    data = cassette.to_data()
    text = _same(data)
    assert cassette.to_text() == text
    assert Cassette.from_text(text).to_data() == data


def _literal_block_ok_by_loop(text: str) -> bool:
    """The character loop `literal_block_ok` replaced (kept here as its specification)."""
    if text.endswith(" ") or " \n" in text:
        return False
    for ch in text:
        if ch == "\n":
            continue
        if ch in "\t\r\x85\u2028\u2029\ufeff":
            return False
        if ch < " " or ch == "\x7f" or "\x80" <= ch < "\xa0" or "\ud800" <= ch <= "\udfff":
            return False
        if ch in ("\ufffe", "\uffff"):
            return False
    return True


def test_literal_block_ok_agrees_with_the_character_loop() -> None:
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        text = f"a\n{ch}b"
        assert literal_block_ok(text) == _literal_block_ok_by_loop(text), hex(code)
    for text in STRINGS:
        assert literal_block_ok(text) == _literal_block_ok_by_loop(text), repr(text)


SECRET_VALUES = [
    "fake.openai.PLANTED.1111111111",  # an API key's shape: scrubbed after the dump's scan
    "PLANTED token with spaces 22",
    "it's-PLANTED-3333",  # the forms below make render_text scrub before dumping
    'dq"PLANTED"4444',
    "back\\slash-PLANTED-55",
    "naïve-PLANTED-6666",
    "amp&PLANTED<7777>",
    "tab\tPLANTED-8888",
    "two\nPLANTED-lines-99",
]


def _plant(rng: random.Random, data: Any, value: str) -> Any:
    """``data`` with ``value`` inside some of its strings (keys too)."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            key = f"{k}{value}" if isinstance(k, str) and rng.random() < 0.1 else k
            out[key] = _plant(rng, v, value)
        return out
    if isinstance(data, list | tuple):
        return [_plant(rng, v, value) for v in data]
    if isinstance(data, str) and rng.random() < 0.3:
        at = rng.randint(0, len(data))
        return data[:at] + value + data[at:]
    return data


def test_render_text_is_scrub_then_dump() -> None:
    """render_text's shortcut (dump, scan, scrub only on a find) writes what scrubbing
    every string first writes, and never a secret."""
    from pytest_cfgateway.gateway.redact import Secrets
    from pytest_cfgateway.snapshots.cassette import SecretLeakError, _verbatim_in_yaml, render_text

    rng = random.Random(7)
    for i, value in enumerate(SECRET_VALUES):
        secrets = Secrets({f"PLANTED_KEY_{i}": value, "OTHER_TOKEN": "fake.other.PLANTED.0000"})
        assert _verbatim_in_yaml(secrets) == (i < 2)
        for _ in range(300):
            data = {rng.choice(KEYS): _random_node(rng, 0) for _ in range(rng.randint(1, 4))}
            if rng.random() < 0.7:
                data = _plant(rng, data, value)
            try:
                expected: Any = dump_yaml(secrets.scrub(data))
            except Exception as exc:
                expected = exc
            if isinstance(expected, str) and secrets.find_in(expected) is not None:
                with pytest.raises(SecretLeakError):
                    render_text(data, secrets)
                continue
            if isinstance(expected, Exception):
                with pytest.raises(type(expected)):
                    render_text(data, secrets)
                continue
            text = render_text(data, secrets)
            assert text == expected
            assert value not in text and "fake.other.PLANTED.0000" not in text
