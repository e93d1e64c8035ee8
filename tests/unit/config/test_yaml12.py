"""YAML 1.2 scalars (as js-yaml reads them), line numbers, duplicate keys, syntax errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pytest_cfgateway.config import ConfigError
from pytest_cfgateway.config.yaml12 import load_yaml


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "Yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("~", None),
        ("null", None),
        ("", None),
        ("17", 17),
        ("-3", -3),
        ("017", 17),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", "1_000"),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2024-01-31", "2024-01-31"),
        ("12:30", "12:30"),
        ("0b101", "0b101"),
    ],
)
def test_yaml12_scalars(text: str, expected: object) -> None:
    data, _ = load_yaml(f"v: {text}\n", Path("c.yaml"))
    assert data["v"] == expected
    assert type(data["v"]) is type(expected)


def test_special_floats() -> None:
    data, _ = load_yaml("a: .inf\nb: -.Inf\nc: .nan\n", Path("c.yaml"))
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


def test_lines_by_key_path() -> None:
    text = "a: 1\ntests:\n  - vars:\n      x: 1\n    assert:\n      - type: equals\n"
    _, lines = load_yaml(text, Path("c.yaml"))
    assert lines["tests"] == 2
    assert lines["tests[0]"] == 3
    assert lines["tests[0].vars.x"] == 4
    assert lines["tests[0].assert[0].type"] == 6


def test_merge_keys_and_anchors_still_work() -> None:
    data, _ = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", Path("c.yaml"))
    assert data["other"] == {"x": 1, "y": 2}


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml("a: 1\nb: 2\na: 3\n", Path("c.yaml"))
    assert exc.value.line == 3
    assert exc.value.key_path == "a"
    assert "first defined on line 1" in str(exc.value)


def test_syntax_error_has_line_and_fix() -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", Path("c.yaml"))
    assert exc.value.line is not None and exc.value.line >= 2
    assert "YAML syntax error" in str(exc.value)
    assert "Fix:" in str(exc.value)


def test_tabs_get_a_specific_fix() -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml("a:\n\tb: 1\n", Path("c.yaml"))
    assert "tab" in exc.value.fix


def test_empty_document() -> None:
    assert load_yaml("", Path("c.yaml"))[0] is None
