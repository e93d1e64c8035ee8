"""Templates that only print names render without Jinja2 (`render._names_only`), to the
text Jinja2 itself renders; anything else still goes through it."""

from __future__ import annotations

import random
import subprocess
import sys
from typing import Any

import pytest

from pytest_cfgateway.config import _jinja
from pytest_cfgateway.config.render import (
    _names_only,
    _referenced_names,
    render_template,
    template_error,
)

VALUES: list[Any] = [
    "plain",
    "",
    "with {{ braces }} and {% tags %}",
    "line\nbreaks\r\nand\rreturns",
    "ünïcödé 日本 \U0001f600",
    0,
    -7,
    2**60,
    1.0,
    0.1 + 0.2,
    1e21,
    float("nan"),
    True,
    False,
    None,
    [1, "a", None, [2, 3]],
    {"k": "v"},
]


def _jinja_render(source: str, vars: dict[str, Any], env: dict[str, str]) -> str:
    return _jinja.render(source, {"env": dict(env), **vars}, "template", None)


@pytest.mark.parametrize(
    "source",
    [
        "{{x}}",
        "Repeat after me: {{ word }}",
        "{{ a }}{{b}} and {{  a  }}\n",
        "a }} b {{x}} {",
        "{ {x} } {{x}}\n\n",
        "tab\t{{x}}\u2028{{ y }}",
    ],
)
def test_names_only_render_as_jinja_does(source: str) -> None:
    assert _names_only(source) is not None
    rng = random.Random(source)
    for _ in range(40):
        vars = {name: rng.choice(VALUES) for name in ("x", "y", "a", "b", "word")}
        assert render_template(source, vars, {"E": "1"}) == _jinja_render(source, vars, {})
    assert template_error(source) is None
    assert _referenced_names(source) == _jinja.referenced_names(source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ x | upper }}",
        "{{ x.length }}",
        "{% if x %}{{ x }}{% endif %}",
        "{# note #}{{ x }}",
        "{{- x -}}",
        "{{ env.E }}",
        "{{ x }}\r\n",  # Jinja2 turns \r\n into \n
        "{{ 'lit' }}",
        "{{ x }} {{",
    ],
)
def test_everything_else_goes_to_jinja(source: str) -> None:
    assert _names_only(source) is None


def test_missing_names_and_env_go_to_jinja() -> None:
    # an undefined name prints "" and `env` is the environment global: Jinja2 decides
    assert render_template("[{{ missing }}]", {}, {}) == "[]"
    assert render_template("{{ env }}", {}, {"A": "1"}) == "[object Object]"
    assert render_template("{{ env }}", {"env": "mine"}, {"A": "1"}) == "mine"


def test_syntax_errors_are_still_found() -> None:
    assert template_error("{{ x }") is not None
    assert template_error("{% if %}") is not None


def test_a_names_only_config_never_imports_jinja2(tmp_path: Any) -> None:
    code = (
        "import sys\n"
        "from pytest_cfgateway.config.render import render_template, template_error\n"
        "assert template_error('Say {{ w }}') is None\n"
        "assert render_template('Say {{ w }}', {'w': 'hi'}, {}) == 'Say hi'\n"
        "assert 'jinja2' not in sys.modules\n"
        "render_template('{{ w | upper }}', {'w': 'hi'}, {})\n"
        "assert 'jinja2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
