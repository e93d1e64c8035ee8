"""YAML 1.2 scalars (as js-yaml reads them), line numbers, duplicate keys, syntax errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pytest_cfgateway.config import ConfigError, yaml12
from pytest_cfgateway.config.yaml12 import (
    FastYaml12Loader,
    Yaml12Loader,
    _index,
    load_yaml,
    parse_yaml12,
)


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


# --- the libyaml fast path gives what the pure parser gives --------------------------------

_HERE = Path(__file__).parent
_YAML_FILES = sorted(
    p
    for d in ("corpus", "examples")
    for p in (_HERE / d).rglob("*")
    if p.suffix in (".yaml", ".yml")
)


def _pure(text: str) -> tuple[object, dict[str, int]]:
    loader = Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {"": 1}
        lines: dict[str, int] = {}
        _index(node, "", lines, Path("c.yaml"), None, set())
        return loader.construct_document(node), lines
    finally:
        loader.dispose()


def _outcome(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except ConfigError as exc:
        return ("ConfigError", str(exc), exc.line, exc.key_path)
    except yaml.YAMLError as exc:
        return ("YAMLError", str(exc))


def test_fast_loader_is_libyaml_when_available() -> None:
    if hasattr(yaml, "CSafeLoader"):
        assert issubclass(FastYaml12Loader, yaml.CSafeLoader)
    assert FastYaml12Loader.yaml_implicit_resolvers == Yaml12Loader.yaml_implicit_resolvers


@pytest.mark.parametrize("path", _YAML_FILES, ids=lambda p: str(p.relative_to(_HERE)))
def test_fast_path_matches_pure_parser_on_corpus(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    fast = _outcome(lambda: load_yaml(text, Path("c.yaml")))
    pure = _outcome(lambda: _pure(text))
    if isinstance(pure, tuple) and pure and pure[0] == "YAMLError":
        assert isinstance(fast, tuple) and fast[0] == "ConfigError"  # reported, not raised raw
    else:
        assert repr(fast) == repr(pure)  # repr: nan != nan


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2\nc: 3\n",
        "a:\n\tb: 1\n",
        "a: b: c\n",
        "- a\nb: 1\n",
        "a: 'unterminated\n",
        "a: !!python/object:os.system x\n",
        "a: *nope\n",
        "? [1, 2]\n: x\n",
        "a: \x07\n",
    ],
)
def test_errors_are_the_pure_parsers(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever libyaml says, the reported error is the pure parser's: same message, line
    and fix as with the fast path switched off."""
    with pytest.raises(ConfigError) as fast:
        load_yaml(text, Path("c.yaml"))
    with pytest.raises(yaml.YAMLError) as fast_raw:
        parse_yaml12(text)
    monkeypatch.setattr(yaml12, "FastYaml12Loader", Yaml12Loader)
    with pytest.raises(ConfigError) as pure:
        load_yaml(text, Path("c.yaml"))
    assert (str(fast.value), fast.value.line) == (str(pure.value), pure.value.line)
    with pytest.raises(yaml.YAMLError) as pure_raw:
        yaml.load(text, Loader=Yaml12Loader)
    assert str(fast_raw.value) == str(pure_raw.value)


def test_parse_yaml12_matches_pure_data() -> None:
    text = "a: Yes\nb: 017\nc: [0o17, 0x1F, 1_000, .inf, ~]\nd: |\n  x\n  y\n"
    assert parse_yaml12(text) == yaml.load(text, Loader=Yaml12Loader)


def _both_ways(text: str) -> tuple[str, str]:
    """(the direct build, PyYAML's constructor) of one composed text, as reprs."""
    built = yaml12.FastYaml12Loader(text)
    reference = yaml12.FastYaml12Loader(text)
    try:
        node = built.get_single_node()
        if node is None:  # an empty document (the loaders return None before building)
            return "None", "None"
        try:
            a = yaml12.construct(built, node, text)
        except yaml.YAMLError as exc:
            a = f"error: {exc}"
        try:
            b = reference.construct_document(reference.get_single_node())
        except yaml.YAMLError as exc:
            b = f"error: {exc}"
    finally:
        built.dispose()
        reference.dispose()
    return repr(a), repr(b)


def test_direct_build_equals_pyyaml_construct_on_every_yaml_file_of_the_tests() -> None:
    root = Path(__file__).parents[2]
    checked = 0
    for path in sorted(root.rglob("*.y*ml")):
        if "__snapshots__" in path.parts or path.suffix not in (".yaml", ".yml"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            a, b = _both_ways(text)
        except yaml.YAMLError:
            continue  # files of invalid YAML (tests of error messages)
        assert a == b, path
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 017\nc: 0o17\nd: 0x1F\ne: 1_000\nf: yes\ng: 1.5e3\nh: .inf\ni: ~\nj: ''\n",
        "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",
        "a:\n  <<: {x: 1}\n  y: 2\n",
        "a: !!str 1\nb: !!set {x, y}\nc: !!binary aGk=\nd: !!timestamp 2001-12-14\n",
        "? [complex, key]\n: v\n",
        "a: 2001-12-14\nb: 'quoted'\nc: [1, 'two', {three: 3}]\n",
        "Q&A: no anchors here\nx: 1\n",
    ],
)
def test_direct_build_equals_pyyaml_construct_on_special_documents(text: str) -> None:
    a, b = _both_ways(text)
    assert a == b
