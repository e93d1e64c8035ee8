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


def test_the_corpus_renders_the_same_without_jinja(monkeypatch: pytest.MonkeyPatch) -> None:
    # every template of the public configs in tests/corpus that takes the names-only path is
    # also rendered by Jinja2, and the two texts must be equal
    from pathlib import Path

    from pytest_cfgateway.config import load_config, render

    corpus = Path(__file__).parents[2] / "corpus"
    checked: list[str] = []
    rendered = render.render_template

    def both(source: str, vars: Any, env: Any, **kw: Any) -> str:
        parts = _names_only(source)
        if parts is None or not all(n in vars and n != "env" for n in parts[1::2]):
            return rendered(source, vars, env, **kw)
        outcomes = []
        for render_it in (
            lambda: rendered(source, vars, env, **kw),
            lambda: _jinja.render(source, {"env": dict(env), **vars}, "t", None),
        ):
            try:
                outcomes.append(("text", render_it()))
            except Exception as exc:  # both paths must fail alike, or not at all
                outcomes.append(("error", type(exc).__name__))
        assert outcomes[0] == outcomes[1], source
        checked.append(source)
        return rendered(source, vars, env, **kw)

    monkeypatch.setattr(render, "render_template", both)
    for path in sorted(corpus.rglob("promptfooconfig*.y*ml")):
        if "extensions:" in path.read_text(encoding="utf-8", errors="replace"):
            continue  # its beforeAll hooks run at load and may write files beside it
        try:
            loaded = load_config(path, env={})
        except Exception:  # (a few corpus configs need files or env this test does not give)
            continue
        for case in loaded.cases:
            if case.prompt.raw.startswith("file://") or any(
                isinstance(v, str) and v.startswith("file://") for v in case.vars.values()
            ):
                continue  # user code or files: the corpus tests run those
            try:
                render.render_prompt(case, {})
            except Exception:  # a case that errors in both paths alike (corpus tests check)
                continue
    assert len(checked) > 1000  # the corpus's prompts are mostly names-only
