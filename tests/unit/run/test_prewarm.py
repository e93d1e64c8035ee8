"""Which cases make the run start a user-code worker ahead of time."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pytest_cfgateway.config.cases import AssertionSpec, EvalCase, PromptSpec, ProviderSpec
from pytest_cfgateway.run.prewarm import runs_user_code


def case(*asserts: AssertionSpec, **changes: Any) -> EvalCase:
    base = EvalCase(
        config_path=Path("c.yaml"),
        base_dir=Path("."),
        name="n",
        description="d",
        vars={},
        prompt=PromptSpec(raw="{{x}}", label="p"),
        provider=ProviderSpec(id="echo", label="echo", config={}, route="echo"),
        asserts=asserts,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    "spec",
    [
        AssertionSpec(type="javascript", value="true"),
        AssertionSpec(type="not-python", value="False"),
        AssertionSpec(type="contains", value="x", transform="output.trim()"),
        AssertionSpec(type="contains", value="file://expected.py:get"),
        AssertionSpec(type="equals", value="file://v.mjs"),
        AssertionSpec(
            type="assert-set", children=(AssertionSpec(type="javascript", value="true"),)
        ),
    ],
)
def test_cases_with_user_code(spec: AssertionSpec) -> None:
    assert runs_user_code(case(spec))


def test_test_and_provider_transforms_count() -> None:
    assert runs_user_code(case(options={"transformVars": "vars"}))
    assert runs_user_code(case(options={"transform": "output"}))
    echo = ProviderSpec(id="echo", label="e", config={}, route="echo", transform="output")
    assert runs_user_code(case(provider=echo))


def test_plain_cases_start_nothing() -> None:
    assert not runs_user_code(case(AssertionSpec(type="contains", value="x")))
    assert not runs_user_code(case(AssertionSpec(type="equals", value="file://expected.txt")))
    assert not runs_user_code(case(AssertionSpec(type="regex", value="a+")))
