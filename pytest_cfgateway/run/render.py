"""Rendering a case: resolve its vars (``options.transformVars`` first) and render its prompt.

The setup phase of an item renders it (errors are item errors, E); the scheduler renders
ahead of time and leaves the render in the item's stash so the setup does not redo it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from .errors import CaseError
from .hooks import before_each
from .state import RunState

if TYPE_CHECKING:
    from ..config.cases import EvalCase


@dataclasses.dataclass
class Prepared:
    prompt_text: str
    messages: list[dict[str, Any]]
    vars: dict[str, Any]
    #: the gateway request the scheduler prepared from this render (the item sends that
    #: one instead of preparing it again); None when nothing was scheduled
    request: Any = None


_PREPARED = pytest.StashKey[Prepared]()
_RENDER_FAILED = pytest.StashKey[str]()


def prepare_case(item: Any) -> None:
    """Setup phase: resolve vars and render the prompt. Failures here are item errors (E)."""
    from ..config import ConfigError
    from ..usercode import UserCodeError

    state = RunState.get(item.config)
    assert state is not None, "pytest-cfgateway state missing (plugin disabled?)"
    if _PREPARED in item.stash:  # rendered already by the scheduler
        return
    failed = item.stash.get(_RENDER_FAILED, None)
    if failed is not None:  # the scheduler's render ran user code that failed: do not rerun
        raise CaseError(state.secrets.scrub_text(failed))
    from ..config.extensions import ExtensionHookError

    try:
        before_each(item)  # promptfoo's beforeEach hooks may change the test first
    except (ConfigError, ExtensionHookError) as exc:
        raise CaseError(state.secrets.scrub_text(f"{item.nodeid}: {exc}")) from None
    try:
        item.stash[_PREPARED] = render_case(item.case, state.env, registers_of(item))
    except (ConfigError, ValueError, OSError, UserCodeError) as exc:
        raise CaseError(state.secrets.scrub_text(_render_failure(item, exc))) from None


def _render_failure(item: pytest.Item, exc: Exception) -> str:
    from ..config.extensions import ExtensionHookError

    if isinstance(exc, ExtensionHookError):  # before rendering: the message names the hook
        return f"{item.nodeid}: {exc}"
    return f"{item.nodeid}: cannot render the prompt: {exc}"


def remember_render_failure(item: pytest.Item, exc: Exception) -> None:
    """Keep a failure of user code met by the scheduler's render, for the item's setup."""
    item.stash[_RENDER_FAILED] = _render_failure(item, exc)


def case_timeout_s(case: EvalCase) -> float | None:
    """``evaluateOptions.timeoutMs`` in seconds (the limit of each piece of user code)."""
    timeout_ms = (case.evaluate_options or {}).get("timeoutMs") or 0
    return timeout_ms / 1000 if timeout_ms else None


def _transform_vars(code: Any, variables: dict[str, Any], case: EvalCase) -> dict[str, Any]:
    """promptfoo's ``options.transformVars``: a transform of the vars (JavaScript over
    ``vars`` and ``context``, ``python:`` or a file), run before the prompt is rendered; the
    mapping it returns is merged into the vars."""
    from ..assertions.base import AssertionContext
    from ..assertions.transforms import apply_transform_sync, new_transform_vars_context

    ctx = AssertionContext(
        vars=dict(variables),
        base_dir=case.base_dir,
        metadata=case.metadata,
        timeout_s=case_timeout_s(case),
    )
    result = apply_transform_sync(
        code,
        dict(variables),
        ctx,
        what="transformVars",
        input_name="vars",
        ctx=new_transform_vars_context(),
    )
    if not isinstance(result, dict):
        raise ValueError(
            f"options.transformVars must return a mapping of vars to merge, got "
            f"{type(result).__name__}; e.g. ({{...vars, upper: vars.name.toUpperCase()}})"
        )
    return {**variables, **result}


_REGISTERS = pytest.StashKey[dict[str, Any]]()


def registers_of(item: Any) -> dict[str, Any] | None:
    """promptfoo's registers: outputs stored by ``storeOutputAs`` for later tests' vars,
    shared by the items of one config file (in this process)."""
    if not item.case.register_names or item.parent is None:
        return None
    registers: dict[str, Any] = item.parent.stash.setdefault(_REGISTERS, {})
    return registers


def remember_render(item: pytest.Item, prepared: Prepared) -> None:
    """Keep a render made ahead of time (by the scheduler) for the item's setup."""
    item.stash[_PREPARED] = prepared


def render_case(
    case: EvalCase, env: Mapping[str, str], registers: Mapping[str, Any] | None = None
) -> Prepared:
    """Resolve vars and render the prompt (and, for gateway providers, the chat messages)."""
    from ..config import parse_chat, render_prompt, resolve_vars

    variables = resolve_vars(case)
    if case.register_names:
        from ..config import missing_registers

        missing = missing_registers(case, registers or {})
        if missing:
            raise ValueError(
                f"storeOutputAs {', '.join(map(repr, missing))} has no value yet: the test that "
                "stores it has not run in this process (select it too; under xdist use "
                "--dist loadfile so one worker runs the whole config)"
            )
        variables = {**variables, **(registers or {})}  # registers win, as in promptfoo
    transform_vars = (case.options or {}).get("transformVars")
    if transform_vars:
        variables = _transform_vars(transform_vars, variables, case)
    if any(v.__class__ is str and v.startswith("file://") for v in variables.values()):
        # (a loaded value that names a file again: resolved once more, as it always was)
        text = render_prompt(dataclasses.replace(case, vars=variables), env)
    else:
        text = render_prompt(case, env, vars=variables)
    # Chat detection belongs to the provider, as in promptfoo: echo answers with the rendered
    # text as it is, whatever its shape; gateway providers get chat messages.
    messages = parse_chat(text) if case.provider.route == "gateway" else []
    return Prepared(text, messages, variables)


def prepared_of(item: pytest.Item) -> Prepared:
    """The render the item's setup made (or the scheduler made for it)."""
    return item.stash[_PREPARED]


def take_prepared(item: pytest.Item) -> Prepared:
    """`prepared_of`, for the call phase, which is its last user: the item lets it go (the
    items of a run live to its end, and each object they keep slows pytest's final
    garbage collections); a rerun of the item renders it again in its setup."""
    prepared = item.stash[_PREPARED]
    del item.stash[_PREPARED]
    return prepared
