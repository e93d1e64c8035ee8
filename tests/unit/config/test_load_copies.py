"""`load_config` works on a copy of what it read: `raw` stays as the file says, and values a
YAML anchor shares (or a ``$ref`` copies in) are independent in the loaded cases."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest

from pytest_cfgateway.config import load_config


@pytest.mark.parametrize("with_ref", [False, True])
def test_loaded_cases_share_nothing_with_raw_or_each_other(tmp_path: Path, with_ref: bool) -> None:
    extra = "assertionTemplates:\n  t: {type: contains, value: a}\n" if with_ref else ""
    second = "- $ref: '#/assertionTemplates/t'" if with_ref else "- {type: contains, value: a}"
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(
        textwrap.dedent(
            """
            prompts: ['{{q}}']
            providers: [echo]
            defaultTest:
              vars: &shared {q: a, meta: {k: [1, 2]}}
            tests:
              - vars: *shared
                assert:
                  - {type: contains, value: a}
              - vars: *shared
                assert:
                  SECOND
            """
        ).replace("SECOND", second)
        + extra
    )
    loaded = load_config(path, env={})
    before = copy.deepcopy(loaded.raw)
    first, other = loaded.cases[0], loaded.cases[1]
    first.vars["meta"]["k"].append(3)
    first.vars["q"] = "changed"
    assert other.vars["meta"]["k"] == [1, 2] and other.vars["q"] == "a"
    assert loaded.raw == before  # nothing the cases hold is part of raw
    assert [a.type for a in other.asserts] == ["contains"]
