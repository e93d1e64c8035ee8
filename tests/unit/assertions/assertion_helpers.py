"""Builders shared by the deterministic assertion tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_cfgateway.assertions.base import (
    AssertionCall,
    AssertionContext,
    BuiltinHandler,
    GradingResult,
)
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.types import Completion, Usage


def make_completion(**fields: Any) -> Completion:
    """A Completion with neutral defaults (empty text, zero usage), overridden by ``fields``."""
    base: dict[str, Any] = {
        "text": "",
        "raw": {},
        "usage": Usage(),
        "provider": "openai",
        "model": "gpt-test",
    }
    base.update(fields)
    return Completion(**base)


def assertion_call(
    type_: str,
    value: Any,
    output: Any,
    *,
    threshold: float | None = None,
    spec: AssertionSpec | None = None,
    context: AssertionContext | None = None,
) -> AssertionCall:
    """The call a handler sees for ``type_`` (``not-`` prefix sets ``inverse``).

    ``spec`` defaults to ``AssertionSpec(type=type_, value=value, threshold=threshold)``.
    """
    inverse = type_.startswith("not-")
    return AssertionCall(
        output=output,
        value=value,
        spec=spec
        if spec is not None
        else AssertionSpec(type=type_, value=value, threshold=threshold),
        inverse=inverse,
        base_type=type_[4:] if inverse else type_,
        threshold=threshold,
        context=context if context is not None else AssertionContext(),
    )


def run_sync(handlers: Mapping[str, BuiltinHandler], call: AssertionCall) -> GradingResult:
    """Run a synchronous handler from ``handlers`` for ``call`` and check it returned a result."""
    result = handlers[call.base_type](call)
    assert isinstance(result, GradingResult)
    return result
