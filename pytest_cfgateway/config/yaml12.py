"""YAML with YAML 1.2 core-schema scalars (as promptfoo's js-yaml reads it) and line numbers.

PyYAML implements YAML 1.1, where ``Yes``/``no``/``on``/``off`` are booleans, ``017`` is octal
and ``1_000`` is an int. promptfoo parses configs with js-yaml (YAML 1.2 core schema), where
all of those stay strings (``017`` is 17, ``0o17`` is 15). Timestamps stay strings too.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .._yamlguard import YamlBoundsError, check_tree
from .errors import ConfigError, join_path


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit resolvers (pure-Python parser: its
    syntax error messages are the ones users see)."""


_CBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FastYaml12Loader(_CBase):  # type: ignore[valid-type,misc]
    """`Yaml12Loader` on libyaml (``yaml.CSafeLoader``) when PyYAML was built with it: the
    same resolvers and constructors, node marks with lines, ~7x faster. Its error messages
    differ from the pure parser's, so `load_yaml` re-parses a failing text with
    `Yaml12Loader` to report the error."""


_RESOLVERS: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
    # the empty scalar resolves to null
    ("tag:yaml.org,2002:null", r"^$", ""),
]


def _construct_int(loader: yaml.SafeLoader, node: Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: yaml.SafeLoader, node: Node) -> float:
    text = str(loader.construct_scalar(node)).lower()  # type: ignore[arg-type]
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


for _loader in (Yaml12Loader, FastYaml12Loader):
    _loader.yaml_implicit_resolvers = {}
    for _tag, _pattern, _first in _RESOLVERS:
        _loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first) or [""])
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    _loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_yaml12(text: str) -> Any:
    """Parse YAML 1.2 text to data with `FastYaml12Loader`; on an error, re-parse with
    `Yaml12Loader` so the raised ``yaml.YAMLError`` is the pure parser's (same messages
    whatever PyYAML was built with). Raises `YamlBoundsError` (a ValueError) for a document
    too deep or whose aliases expand too far (see `_yamlguard`)."""
    try:
        return _load_bounded(FastYaml12Loader, text)
    except yaml.YAMLError:
        if FastYaml12Loader is Yaml12Loader:
            raise
    try:
        return _load_bounded(Yaml12Loader, text)
    except RecursionError:
        raise YamlBoundsError("the document is nested too deeply; flatten it") from None


def _load_bounded(loader_class: type[yaml.SafeLoader], text: str) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_tree(node, text)
        return construct(loader, node, text)
    finally:
        loader.dispose()


def load_yaml(text: str, path: Path, display: str | None = None) -> tuple[Any, dict[str, int]]:
    """Parse YAML text; return the data and ``{key path: line}`` (1-based) for every node.

    Raises ConfigError (with the line) on syntax errors and duplicate keys.
    """
    try:
        if FastYaml12Loader is not Yaml12Loader:
            try:
                return _parse(FastYaml12Loader, text, path, display)
            except yaml.YAMLError as exc:
                if "maximum nesting depth" in str(exc):  # libyaml's bound (1,000 levels)
                    raise YamlBoundsError("the document is nested too deeply") from None
                # else not returned: the pure parser below reports it, with its messages
        return _parse(Yaml12Loader, text, path, display)
    except YamlBoundsError as exc:
        raise ConfigError(
            f"YAML too large to load: {exc}", path=path, fix=_BOUNDS_FIX, display_path=display
        ) from None
    except RecursionError:
        raise ConfigError(
            "YAML too large to load: the document is nested too deeply",
            path=path,
            fix=_BOUNDS_FIX,
            display_path=display,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        fix = f"correct the YAML near line {line}" if line else "correct the YAML syntax"
        if "\t" in problem or "'\\t'" in problem:
            fix += " (YAML does not allow tab characters for indentation; use spaces)"
        else:
            fix += " (check indentation, colons and quoting)"
        raise ConfigError(
            f"YAML syntax error: {problem}", path=path, line=line, fix=fix, display_path=display
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"YAML error: {exc}", path=path, fix="correct the YAML syntax", display_path=display
        ) from None


_BOUNDS_FIX = (
    "write the repeated parts out instead of nesting anchors and aliases, and keep nesting "
    "under 100 levels"
)


def _parse(
    loader_class: type[yaml.SafeLoader], text: str, path: Path, display: str | None
) -> tuple[Any, dict[str, int]]:
    """Compose, index lines (and reject duplicate keys), construct."""
    loader = loader_class(text)
    lines: dict[str, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {"": 1}
        check_tree(node, text)  # before any recursive walk or alias expansion
        _index(node, "", lines, path, display, set())
        return construct(loader, node, text), lines
    finally:
        loader.dispose()


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
#: scalar tags whose constructors return the value directly
_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    }
)


class _Fallback(Exception):
    pass


def construct(loader: yaml.SafeLoader, node: Node, text: str) -> Any:
    """``loader.construct_document(node)``, built by a direct walk when the document is a
    tree (``text`` has no ``&``, so no anchors and no aliases) of plain maps, lists and
    null/bool/int/float/str scalars (the loader's own constructors build the non-strings):
    a 1,000-test config builds ~3x faster. Anything else (merge keys, other tags) goes
    through PyYAML's constructor. The caller has bounded the depth (`check_tree`)."""
    if "&" not in text:
        built = _built(node, loader)
        if built is not _NOT_BUILT:
            return built
    return loader.construct_document(node)


_NOT_BUILT: Any = object()


def _built(node: Node, loader: yaml.SafeLoader) -> Any:
    """`_build`, or `_NOT_BUILT` when the document needs PyYAML's constructor."""
    try:
        return _build(node, loader)
    except _Fallback:
        return _NOT_BUILT


def _build(node: Node, loader: yaml.SafeLoader) -> Any:
    cls = node.__class__
    tag = node.tag
    if cls is ScalarNode:
        if tag == _STR:
            return node.value
        if tag in _SCALAR_TAGS:
            return loader.yaml_constructors[tag](loader, node)
        raise _Fallback
    if cls is MappingNode and tag == _MAP:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode or key_node.tag == _MERGE:
                raise _Fallback
            out[_build(key_node, loader)] = _build(value_node, loader)
        return out
    if cls is SequenceNode and tag == _SEQ:
        return [_build(child, loader) for child in node.value]
    raise _Fallback


def _index(
    node: Node,
    key_path: str,
    lines: dict[str, int],
    path: Path,
    display: str | None,
    active: set[int],
) -> None:
    """Record the line of every mapping key / sequence item; reject duplicate keys."""
    if id(node) in active:  # recursive alias
        return
    lines.setdefault(key_path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        active.add(id(node))
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            child = join_path(key_path, key)
            if key in seen and isinstance(key_node, ScalarNode):
                raise ConfigError(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    path=path,
                    key_path=child,
                    line=line,
                    fix="remove one of the two entries; YAML keys must be unique",
                    display_path=display,
                )
            seen[key] = line
            lines.setdefault(child, line)
            _index(value_node, child, lines, path, display, active)
        active.discard(id(node))
    elif isinstance(node, SequenceNode):
        active.add(id(node))
        for i, item in enumerate(node.value):
            _index(item, join_path(key_path, i), lines, path, display, active)
        active.discard(id(node))
