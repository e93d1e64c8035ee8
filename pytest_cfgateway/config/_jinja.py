"""The Jinja2 side of templates (see `render`): an environment set up to behave like
promptfoo's Nunjucks, compiled templates, and bounded rendering. Imported on first use."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.exceptions
import jinja2.meta
import jinja2.sandbox
from jinja2.runtime import Undefined

from ._nunjucks import _RANGE_BUDGET, TEMPLATE_LIMITS, _finalize, _js_str, translate_nunjucks
from .errors import ConfigError

Filters = Mapping[str, str]  # nunjucksFilters: name -> JavaScript file


class _Undefined(jinja2.ChainableUndefined):
    """Renders as "", tolerates attribute/item access and calls (``{{ a.b() }}`` -> "")."""

    def __call__(self, *args: Any, **kwargs: Any) -> _Undefined:  # type: ignore[override]
        return self


_STR_METHODS: dict[str, Any] = {
    "toUpperCase": lambda s: lambda: s.upper(),
    "toLowerCase": lambda s: lambda: s.lower(),
    "trim": lambda s: lambda: s.strip(),
    "includes": lambda s: lambda x: str(x) in s,
    "startsWith": lambda s: lambda x: s.startswith(str(x)),
    "endsWith": lambda s: lambda x: s.endswith(str(x)),
}
_LIST_METHODS: dict[str, Any] = {
    "join": lambda xs: lambda sep=",": sep.join(_js_str(x) for x in xs),
    "includes": lambda xs: lambda x: x in xs,
}


class TemplateLimitError(jinja2.exceptions.SecurityError):
    """A template went past one of `TEMPLATE_LIMITS`."""


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > TEMPLATE_LIMITS["range_per_call"]:
        raise TemplateLimitError(
            f"range() of {len(r)} items is over the limit of {TEMPLATE_LIMITS['range_per_call']}"
        )
    budget = _RANGE_BUDGET.get(None)
    if budget is not None:
        budget[0] += len(r)
        if budget[0] > TEMPLATE_LIMITS["range_per_render"]:
            raise TemplateLimitError(
                "loops over range() went past "
                f"{TEMPLATE_LIMITS['range_per_render']} items in one render"
            )
    return r


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _NunjucksLikeEnvironment(jinja2.sandbox.SandboxedEnvironment):
    """Mapping keys win over methods (``d.items`` is the ``items`` key), JS-isms work.

    Sandboxed: an unsafe attribute (``cycler.__init__``) raises instead of rendering.
    """

    intercepted_binops = frozenset({"*", "**", "+"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is not "
            "allowed in templates"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "+":
            if isinstance(left, str) != isinstance(right, str):  # JavaScript concatenation
                return _js_str(left) + _js_str(right)
            return left + right
        if operator == "*":
            count = right if isinstance(left, str | list | tuple) else left
            seq = left if isinstance(left, str | list | tuple) else right
            if (
                isinstance(count, int)
                and _size(seq) * max(count, 0) > TEMPLATE_LIMITS["text_chars"]
            ):
                raise TemplateLimitError("a template `*` product is too large")
            return left * right
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and abs(left).bit_length() * right > TEMPLATE_LIMITS["power_bits"]
        ):
            raise TemplateLimitError("a template `**` result is too large")
        return left**right

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        if attribute == "length" and isinstance(obj, str | list | tuple | Mapping):
            return len(obj)
        if isinstance(obj, str) and attribute in _STR_METHODS:
            return _STR_METHODS[attribute](obj)
        if isinstance(obj, list | tuple) and attribute in _LIST_METHODS:
            return _LIST_METHODS[attribute](obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, list | tuple | str) and isinstance(argument, str) and argument.isdigit():
            argument = int(argument)
        return super().getitem(obj, argument)


def _join_filter(value: Any, separator: str = "", attribute: Any = None) -> str:
    """Nunjucks ``join``: ``Array.join`` (items ``String()``-ed, null/undefined empty)."""
    if isinstance(value, Undefined) or value is None:
        return ""
    if isinstance(value, str):
        return value
    items = list(value)
    if attribute is not None:
        items = [item.get(attribute) if isinstance(item, Mapping) else None for item in items]
    return _js_str(separator).join(_js_str(item) for item in items)


def _load_filter(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return json.loads(value)


def _dump_filter(value: Any, spaces: int | str | None = None) -> str:
    if isinstance(value, Undefined):
        value = None
    if spaces:
        indent = spaces if isinstance(spaces, int) else len(str(spaces))
        return json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _pairs_filter(value: Any) -> Any:
    """Nunjucks ``{% for k, v in obj %}``: an object's (key, value) pairs; lists as they are."""
    if isinstance(value, Mapping):
        return list(value.items())
    return value


def _nl2br(value: Any) -> str:
    return re.sub(r"\r\n|\n", "<br />\n", _js_str(value))


def _make_environment() -> jinja2.Environment:
    env = _NunjucksLikeEnvironment(
        autoescape=False,
        undefined=_Undefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters["load"] = _load_filter
    env.filters["dump"] = _dump_filter
    env.filters["nl2br"] = _nl2br
    env.filters["join"] = _join_filter
    env.filters["__nj_pairs"] = _pairs_filter
    env.globals["range"] = _bounded_range
    return env


_ENV = _make_environment()


@functools.lru_cache(maxsize=32)
def _environment(filters: tuple[tuple[str, str], ...]) -> jinja2.Environment:
    """The template environment with a config's ``nunjucksFilters`` added."""
    if not filters:
        return _ENV
    env = _make_environment()
    for name, path in filters:
        env.filters[name] = _custom_filter(name, path)
    return env


def _custom_filter(name: str, path: str) -> Any:
    def run(value: Any, *args: Any) -> Any:
        from .usercode import run_nunjucks_filter

        return run_nunjucks_filter(name, path, value, list(args))

    return run


def _key(filters: Filters | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(filters.items())) if filters else ()


@functools.lru_cache(maxsize=1024)
def _compile_in(source: str, filters: tuple[tuple[str, str], ...]) -> jinja2.Template:
    return _environment(filters).from_string(translate_nunjucks(source))


def _compile(source: str, filters: Filters | None = None) -> jinja2.Template:
    return _compile_in(source, _key(filters))


def _render_bounded(template: jinja2.Template, context: dict[str, Any]) -> str:
    parts: list[str] = []
    total = 0
    for chunk in template.generate(context):
        total += len(chunk)
        if total > TEMPLATE_LIMITS["text_chars"]:
            raise TemplateLimitError(
                f"the rendered text is longer than {TEMPLATE_LIMITS['text_chars']} characters"
            )
        parts.append(chunk)
    return "".join(parts)


def referenced_names(source: str) -> set[str]:
    """The names ``source`` reads (``{"\\0invalid"}`` when it does not compile)."""
    try:
        return set(jinja2.meta.find_undeclared_variables(_ENV.parse(translate_nunjucks(source))))
    except jinja2.TemplateSyntaxError:
        return {"\0invalid"}


def compile_error(source: str, filters: Filters | None = None) -> str | None:
    """Why ``source`` is not a valid template (None when it compiles)."""
    try:
        _compile(source, filters)
    except jinja2.TemplateSyntaxError as exc:
        return f"{exc.message} (template line {exc.lineno})"
    return None


def render(source: str, context: dict[str, Any], what: str, filters: Filters | None) -> str:
    """`render.render_template` through Jinja2 (errors as `ConfigError`)."""
    try:
        template = _compile(source, filters)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"{what} is not a valid template: {exc.message} (template line {exc.lineno})",
            fix="use Jinja2/Nunjucks syntax shared by both ({{ var }}, {% if %}...{% endif %}); "
            "wrap literal braces in {% raw %}...{% endraw %}",
        ) from None
    token = _RANGE_BUDGET.set([0])
    try:
        return _render_bounded(template, context)
    except TemplateLimitError as exc:
        raise ConfigError(
            f"{what} went past a template limit: {exc}",
            fix="templates are bounded (see the README's Limits); loop over smaller ranges or "
            "build large values in a var file",
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise ConfigError(
            f"{what} tried something templates may not do: {exc}",
            fix="templates render in a sandbox: use vars, filters and loops, not Python internals",
        ) from None
    except Exception as exc:  # a filter or expression failed at render time
        raise ConfigError(
            f"{what} failed to render: {type(exc).__name__}: {exc}",
            fix="check the filters and expressions used in the template against the vars",
        ) from exc
    finally:
        _RANGE_BUDGET.reset(token)
