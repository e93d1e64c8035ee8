"""The one place that works around pytest internals. Remove each shim once the pytest
versions we support all ship the fix it names.

pytest 9.2 keeps node ids as structured `NodeId`s (path, names, params) and compares those
in ``--lf``, ``--ff``, ``--nf`` and ``--sw``. An item made with a name such as
``greets[echo-translate]`` and no callspec gets names ``("greets[echo-translate]",)`` and no
params, but the same id read back from the cache parses as name ``greets`` with params
``echo-translate``, so the two never match and ``--lf`` reruns everything
(pytest-dev/pytest#15045; fix proposed in pytest-dev/pytest#15065). `align_node_id` gives
the item the structured id that its string id parses to, which is what the cache, xdist
and the command line see. The string id does not change. On pytest < 9.2 node ids are plain
strings and this does nothing.
"""

from __future__ import annotations

import pytest


def align_node_id(item: pytest.Item) -> None:
    """Make the item's structured node id equal to the parse of its string id (pytest 9.2;
    remove once pytest-dev/pytest#15065 or an equivalent fix is released)."""
    current = getattr(item, "_id", None)
    if current is None:
        return  # pytest < 9.2
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pragma: no cover - a pytest that has _id but not this module
        return
    if isinstance(current, NodeId):
        parsed = NodeId.parse(str(current))
        if parsed != current:
            item._id = parsed
