"""Start a user-code worker ahead of the first item that needs one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from ..config.cases import EvalCase

_SCRIPT_REF = re.compile(r"file://.*\.(py|js|cjs|mjs)(:[\w$.]+)?$")


def prewarm_user_code(items: list[pytest.Item]) -> None:
    """Start a user-code worker in the background when a selected case will run user code,
    so the first such item does not pay for the start-up (~0.2 s) inside its time limit."""
    for item in items:
        case = getattr(item, "case", None)
        if case is not None and runs_user_code(case):
            from ..usercode import prewarm

            prewarm()
            return


def runs_user_code(case: EvalCase) -> bool:
    """Whether the case has a script assertion, a transform or a script value."""
    options = case.options or {}
    if case.provider.transform or any(options.get(k) for k in ("transform", "transformVars")):
        return True
    pending = list(case.asserts)
    while pending:
        spec = pending.pop()
        pending.extend(spec.children)
        base = spec.type[4:] if spec.type.startswith("not-") else spec.type
        if base in ("python", "javascript") or spec.transform or spec.context_transform:
            return True
        if isinstance(spec.value, str) and _SCRIPT_REF.match(spec.value):
            return True
    return False
