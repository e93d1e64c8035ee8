"""The YAML dialect of cassette files: deterministic, diffable line by line, lossless.

- Mappings keep their insertion order (the cassette builder fixes the field order).
- Multi-line strings are literal blocks (``|``, ``|-``, ``|+``), so a long answer diffs line
  by line. A multi-line string that a literal block cannot hold exactly (a line with trailing
  spaces, a tab, ``\\r``) is written as ``!lines`` (a sequence of its lines, joined with
  ``\\n`` on load), which is still one diff line per text line.
- Lists of plain numbers (embeddings) are written on one line, in flow style.
- No line folding, no anchors/aliases, unicode kept as is.

Reading uses a safe loader that knows only ``!lines`` on top of plain YAML.
"""

from __future__ import annotations

from typing import Any

import yaml

from .._yamlguard import YamlBoundsError, check_nodes
from ._fastemit import NOT_FAST as _NOT_FAST_DUMP
from ._fastemit import fast_dump, literal_block_ok
from ._fastyaml import NOT_FAST, fast_load

LINES_TAG = "!lines"

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CassetteDumper(_Dumper):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


#: plain scalar -> resolved tag, for the short values every cassette repeats (keys, small
#: numbers): resolution depends only on the value, and is ~40% of composing.
_RESOLVED: dict[str, str] = {}
_MEMO_MAX_LEN = 40
_MEMO_MAX_SIZE = 4096


class _CassetteLoader(_Loader):  # type: ignore[valid-type,misc]
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= _MEMO_MAX_LEN and len(_RESOLVED) < _MEMO_MAX_SIZE:
                    _RESOLVED[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        if literal_block_ok(data):
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_sequence(LINES_TAG, data.split("\n"), flow_style=False)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = bool(data) and all(_is_number(v) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)


_CassetteDumper.add_representer(str, _represent_str)
_CassetteDumper.add_representer(list, _represent_list)
_CassetteDumper.add_representer(tuple, _represent_list)
_CassetteDumper.add_representer(dict, _represent_dict)


def _construct_lines(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"{LINES_TAG} must be a list of lines", node.start_mark
        )
    lines = loader.construct_sequence(node)
    if not all(isinstance(line, str) for line in lines):
        raise yaml.constructor.ConstructorError(
            None, None, f"every item of {LINES_TAG} must be a string", node.start_mark
        )
    return "\n".join(lines)


_CassetteLoader.add_constructor(LINES_TAG, _construct_lines)


def dump_yaml(data: Any) -> str:
    """Serialize plain data (dict/list/str/int/float/bool/None) to cassette YAML.

    The text is what PyYAML's C dumper writes (`dump_yaml_pyyaml`); `_fastemit` writes the
    same bytes for the shapes cassettes hold (~10x faster), and anything else goes through
    PyYAML. Without libyaml the pure-Python dumper writes (a few styles differ), and so
    every document goes through PyYAML."""
    if _FAST_DUMP:
        text = fast_dump(data)
        if text is not _NOT_FAST_DUMP:
            return text  # type: ignore[no-any-return]
    return dump_yaml_pyyaml(data)


def dump_yaml_pyyaml(data: Any) -> str:
    """`dump_yaml` through PyYAML alone (the reference the fast writer is tested against)."""
    text: str = yaml.dump(
        data,
        Dumper=_CassetteDumper,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
        default_flow_style=False,
        explicit_start=False,
    )
    return text


#: `_fastemit` writes libyaml's bytes: used only when PyYAML's dumper is libyaml's
_FAST_DUMP = getattr(yaml, "__with_libyaml__", False) and _Dumper is getattr(
    yaml, "CSafeDumper", None
)


def load_yaml(text: str) -> Any:
    """Parse cassette YAML (raises ``yaml.YAMLError`` on malformed input).

    The data is exactly what ``yaml.load(text, Loader=<safe loader + !lines>)`` returns.
    The block style this module writes is read by `_fastyaml` (line by line, ~5x faster);
    other documents of plain scalars, lists, mappings and ``!lines`` are built by a direct
    walk of the composed nodes, ~3x faster than PyYAML's generic constructor. Anything
    else (other tags, merge keys, aliases, non-scalar keys) goes through PyYAML's
    constructor.
    """
    data = fast_load(text)
    if data is not NOT_FAST:
        return data
    return _load_composed(text)


def _load_composed(text: str) -> Any:
    """`load_yaml` through PyYAML's composer (C parser) and `_build`."""
    loader = _CassetteLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(node, loader, set())
        except _Fallback:
            check_nodes(node)  # aliases: bound what they expand to before anything copies it
            return loader.construct_document(node)
    except YamlBoundsError as exc:
        raise yaml.YAMLError(f"too large to load: {exc}") from None
    except RecursionError:
        raise yaml.YAMLError(
            "too large to load: nested too deeply (a cassette is never more than a few levels deep)"
        ) from None
    finally:
        loader.dispose()


class _Fallback(Exception):
    """The fast builder met something it leaves to PyYAML's constructor."""


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


def _build(node: yaml.Node, loader: Any, seen: set[int]) -> Any:
    """Plain data from ``node`` as SafeConstructor builds it; raises `_Fallback` for what it
    does not handle (so the caller can use the full constructor)."""
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        value: str = node.value
        if tag == _STR:
            return value
        if tag == _INT:
            if value.isascii() and value.isdigit() and (value[0] != "0" or value == "0"):
                return int(value)
            return loader.construct_yaml_int(node)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return loader.construct_yaml_bool(node)
        if tag == _FLOAT:
            return loader.construct_yaml_float(node)
        raise _Fallback
    if id(node) in seen:  # an alias (or a recursive one): PyYAML shares the object
        raise _Fallback
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        if tag != _MAP:
            raise _Fallback
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # str scalars inline: most keys and values, and a call each otherwise
            if key_node.__class__ is _Scalar and key_node.tag == _STR:
                key = key_node.value
            elif not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                raise _Fallback
            else:
                key = _build(key_node, loader, seen)
            if value_node.__class__ is _Scalar and value_node.tag == _STR:
                out[key] = value_node.value
            else:
                out[key] = _build(value_node, loader, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = [
            item.value
            if item.__class__ is _Scalar and item.tag == _STR
            else _build(item, loader, seen)
            for item in node.value
        ]
        if tag == _SEQ:
            return items
        if tag == LINES_TAG and all(isinstance(line, str) for line in items):
            return "\n".join(items)
    raise _Fallback


_MERGE = "tag:yaml.org,2002:merge"
_Scalar = yaml.ScalarNode
