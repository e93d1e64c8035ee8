"""Bounds on parsed YAML, checked on the composed node graph before anything is built.

A few lines of nested aliases ("billion laughs") describe billions of nodes once every alias is
expanded (by ``copy.deepcopy``, ``$ref`` resolution, scrubbing or dumping), and a document
nested thousands of levels deep overflows Python's recursion limit in any recursive walk.
`check_nodes` measures both in one pass over the *distinct* nodes (aliases are counted by the
size of what they stand for, computed once), so the check itself is cheap whatever the input.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, SequenceNode

#: Deepest nesting accepted (promptfoo configs and provider replies stay far below it).
MAX_DEPTH = 100
#: Nodes a document may stand for once aliases are expanded: at least this many...
MIN_EXPANDED_LIMIT = 200_000
#: ...or this many times its distinct nodes (aliases may repeat a part, not explode it).
EXPANSION_FACTOR = 10


class YamlBoundsError(ValueError):
    """The document is too deep, recursive, or expands to too many nodes."""


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_nodes(root: Node) -> None:
    """Raise `YamlBoundsError` (a message with the fix) when ``root`` is nested deeper than
    `MAX_DEPTH`, contains a recursive alias, or expands to too many nodes."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            active.discard(key)
            if depth[key] > MAX_DEPTH:
                raise YamlBoundsError(
                    f"the document is nested more than {MAX_DEPTH} levels deep (near line "
                    f"{node.start_mark.line + 1}); flatten it"
                )
            continue
        if key in size:
            continue
        if key in active:
            raise YamlBoundsError(
                f"recursive alias (an anchor used inside itself) near line "
                f"{node.start_mark.line + 1}; replace the alias with the values it should hold"
            )
        active.add(key)
        stack.append((node, True))
        if len(active) > MAX_DEPTH + 1:
            raise YamlBoundsError(
                f"the document is nested more than {MAX_DEPTH} levels deep (near line "
                f"{node.start_mark.line + 1}); flatten it"
            )
        stack.extend((k, False) for k in _children(node) if id(k) not in size)
    expanded = size[id(root)]
    limit = max(MIN_EXPANDED_LIMIT, EXPANSION_FACTOR * len(size))
    if expanded > limit:
        raise YamlBoundsError(
            f"its aliases expand to {expanded:,} values ({len(size):,} written), more than the "
            f"limit of {limit:,} (nested anchors and aliases, a 'billion laughs'); write the "
            "repeated parts out or use fewer levels of aliases"
        )


def check_tree(root: Node, text: str) -> None:
    """`check_nodes` for a document composed from ``text``, cheaper when ``text`` has no
    ``&`` (then it has no anchors, hence no aliases: the node graph is a tree, which can only
    be too deep). A tree within `MAX_DEPTH` passes after a depth-only walk; anything else
    goes through `check_nodes` (same errors, same messages)."""
    if "&" in text:
        check_nodes(root)
        return
    stack: list[tuple[Node, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, level = pop()
        if level > MAX_DEPTH:
            check_nodes(root)  # raises, naming the line as it always has
            return
        if node.__class__ is MappingNode:
            for key_node, value_node in node.value:
                push((key_node, level + 1))
                push((value_node, level + 1))
        elif node.__class__ is SequenceNode:
            for child in node.value:
                push((child, level + 1))
        elif isinstance(node, MappingNode | SequenceNode):  # (subclasses)
            stack.extend((child, level + 1) for child in _children(node))


def check_data(data: object) -> None:
    """`check_nodes` for already-parsed plain data (JSON): depth only, as JSON has no
    aliases."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            raise YamlBoundsError(f"the document is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
