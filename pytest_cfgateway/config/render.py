"""Templates: Jinja2 set up to behave like promptfoo's Nunjucks, plus chat-prompt parsing.

- no autoescape; undefined names render as "" (attribute access on them too);
- ``env`` global (process env merged with the config's ``env``);
- filters ``load`` (JSON-parse) and ``dump`` (JSON-serialise) and ``nl2br``;
- ``x.length``, ``s.toUpperCase()`` and friends work as in Nunjucks templates;
- values print as JavaScript ``String()`` does, as in promptfoo: objects as
  ``[object Object]``, arrays as ``a,b``, booleans as ``true``/``false``, ``1`` not ``1.0``
  (``| dump`` gives JSON);
- Nunjucks-only operators (``===``, ``!==``, ``elseif``) are translated, and
  ``{% for k, v in obj %}`` iterates an object's key/value pairs as in Nunjucks;
- ``"a" + 1`` concatenates as JavaScript does when either side is a string;
- vars may reference vars; string vars are JSON-escaped when the prompt is valid JSON.

Templates are data, not code: they render in Jinja's ``SandboxedEnvironment`` (no ``_``
attributes, no unsafe callables), ``range()`` is capped per call and per render, ``*`` and
``**`` are bounded, and the rendered text is capped (`TEMPLATE_LIMITS`).
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.exceptions
import jinja2.meta
import jinja2.sandbox
from jinja2.runtime import Undefined

from ..gateway.types import Message
from ..usercode.errors import UserCodeAborted
from .cases import EvalCase, ProviderSpec
from .errors import ConfigError, Ctx
from .files import JS_EXTENSIONS, split_function, strip_file_prefix
from .yaml12 import parse_yaml12


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


#: Bounds that keep a template from hanging or exhausting memory (real prompts stay far below).
TEMPLATE_LIMITS = {
    "range_per_call": 100_000,  # items of one range(...)
    "range_per_render": 1_000_000,  # range(...) items summed over one render (nested loops)
    "text_chars": 10_000_000,  # characters of one rendered template or one `*` product
    "power_bits": 4_096,  # bits of the result of `**`
}
_RANGE_BUDGET: contextvars.ContextVar[list[int]] = contextvars.ContextVar("cfgw_range_budget")


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


def _js_number(value: float) -> str:
    """JavaScript's ``Number.prototype.toString()``: shortest round-trip digits, plain
    notation for exponents -7 < e < 21, else ``1.5e+21`` / ``1e-7``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp or 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    e_text = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + e_text


def _js_str(value: Any) -> str:
    """``String(value)`` as JavaScript prints it (what Nunjucks writes for ``{{ value }}``).

    Objects print as ``[object Object]``; arrays as their elements joined with ``,`` (each
    element ``String()``-ed, ``null``/``undefined`` elements empty, nested arrays flattened
    the same way); ``true``/``false``; numbers as JS does (``1`` not ``1.0``). ``None`` and
    undefined print as "" (Nunjucks suppresses them; ``String(null)`` itself would be
    ``"null"``). Use ``| dump`` for JSON.
    """
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 2**53 else _js_number(float(value))
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple):
        return ",".join(_js_str(item) for item in value)
    return str(value)


def _finalize(value: Any) -> Any:
    if isinstance(value, str):
        return value
    return _js_str(value)


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
_TAG = re.compile(r"(\{\{|\{%)(.*?)(\}\}|%\})", re.S)
_RAW = re.compile(r"(\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\})", re.S)


_PAIR_FOR = re.compile(
    r"^(?P<head>\s*-?\s*for\s+\w+\s*,\s*\w+\s+in\s+)(?P<expr>.+?)(?P<tail>\s*-?\s*)$", re.S
)


def _translate_tag(m: re.Match[str]) -> str:
    body = m.group(2).replace("===", "==").replace("!==", "!=")
    body = re.sub(r"^(\s*-?\s*)elseif\b", r"\1elif", body)
    if m.group(1) == "{%":
        body = _PAIR_FOR.sub(r"\g<head>(\g<expr>)|__nj_pairs\g<tail>", body)
    return m.group(1) + body + m.group(3)


def translate_nunjucks(source: str) -> str:
    """Rewrite the Nunjucks-only bits Jinja2 would reject (outside ``{% raw %}`` blocks)."""
    if "{{" not in source and "{%" not in source:
        return source
    parts = _RAW.split(source)
    return "".join(p if i % 2 else _TAG.sub(_translate_tag, p) for i, p in enumerate(parts))


Filters = Mapping[str, str]  # nunjucksFilters: name -> JavaScript file


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


#: promptfoo's test for a "partial" Nunjucks tag: an opening ``{%``, ``{{`` or ``{#`` with no
#: closing character before the end of a line (JavaScript's ``$`` in multiline mode)
_PARTIAL_TAG = re.compile(r"({%[^%]*|{{[^}]*|{#[^#]*)(?=[\n\r\u2028\u2029]|\Z)")
_RAW_OPEN = re.compile(r"{%\s*raw\s*%}")
_RAW_CLOSE = re.compile(r"{%\s*endraw\s*%}")


def auto_wrap_raw(source: str) -> str:
    """``source`` inside ``{% raw %}...{% endraw %}`` when it has a partial tag, as promptfoo
    does before rendering a prompt or a var: such text (Handlebars' ``{{#each}}``, a stray
    ``{#``) is sent as written, placeholders and all, instead of failing to render."""
    if _PARTIAL_TAG.search(source) and not (_RAW_OPEN.search(source) and _RAW_CLOSE.search(source)):
        return "{% raw %}" + source + "{% endraw %}"
    return source


def template_error(source: str, filters: Filters | None = None) -> str | None:
    """Why ``source`` is not a valid template (None when it compiles)."""
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return None
    try:
        _compile(source, filters)
    except jinja2.TemplateSyntaxError as exc:
        return f"{exc.message} (template line {exc.lineno})"
    return None


def render_template(
    source: str,
    vars: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    what: str = "template",
    filters: Filters | None = None,
) -> str:
    """Render one template string with ``vars`` and the ``env`` global (and a config's
    ``nunjucksFilters``)."""
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return source
    try:
        template = _compile(source, filters)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"{what} is not a valid template: {exc.message} (template line {exc.lineno})",
            fix="use Jinja2/Nunjucks syntax shared by both ({{ var }}, {% if %}...{% endif %}); "
            "wrap literal braces in {% raw %}...{% endraw %}",
        ) from None
    context = {"env": dict(env), **vars}
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


def render_value(value: Any, vars: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """Render an assertion value or metric name: strings and string items of lists."""
    if isinstance(value, str):
        return render_template(value, vars, env, what="assertion value")
    if isinstance(value, list):
        return [
            render_template(v, vars, env, what="assertion value") if isinstance(v, str) else v
            for v in value
        ]
    return value


def render_config_templates(value: Any, env: Mapping[str, str], ctx: Ctx) -> Any:
    """Render ``{{ env.X }}`` templates inside provider config at load time."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        err = template_error(value)
        if err:
            raise ctx.error(f"invalid template: {err}", "fix the {{ ... }} expression")
        try:
            return render_template(value, {}, env)
        except ConfigError as exc:
            raise ctx.error(exc.message, exc.fix) from None
    if isinstance(value, dict):
        return {k: render_config_templates(v, env, ctx.at(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [render_config_templates(v, env, ctx.at(i)) for i, v in enumerate(value)]
    return value


# ---------------------------------------------------------------------------- vars


_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
_VIDEO_EXTS = (".mp4", ".webm", ".mov", ".mkv")


def resolve_vars(case: EvalCase) -> dict[str, Any]:
    """Vars with ``file://`` values loaded: .txt -> text, .json/.yaml -> data, .py -> get_var.

    Runs user code (``.py`` loaders), so call it only at run time.
    """
    out = dict(case.vars)
    for name, value in case.vars.items():
        if isinstance(value, str) and value.startswith("file://"):
            out[name] = _load_var(name, value, case, out)
    return out


def _var_error(case: EvalCase, name: str, message: str, fix: str) -> ConfigError:
    return ConfigError(
        message,
        path=case.source_path or case.config_path,
        key_path=f"{case.key_path}.vars.{name}" if case.key_path else f"vars.{name}",
        line=case.line,
        fix=fix,
    )


def _load_var(name: str, ref: str, case: EvalCase, current: dict[str, Any]) -> Any:
    raw_path, fn = split_function(strip_file_prefix(ref))
    path = Path(raw_path)
    if not path.is_absolute():
        path = case.base_dir / path
    if not path.is_file():
        raise _var_error(
            case, name, f"var file not found: {path.as_posix()}", "check the file:// path"
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".py":
            from .usercode import call_function, case_timeout_s

            result = call_function(
                path,
                fn or "get_var",
                [name, case.prompt.raw, dict(current)],
                timeout=case_timeout_s(case.evaluate_options),
                what=f"var loader of {name!r}",
            )
            if isinstance(result, dict):
                if result.get("error"):
                    raise RuntimeError(str(result["error"]))
                if "output" in result:
                    return result["output"]
            return result
        if suffix in JS_EXTENSIONS:
            from .usercode import TYPESCRIPT_EXTENSIONS, call_js_var_loader, case_timeout_s

            if suffix in TYPESCRIPT_EXTENSIONS:
                raise _var_error(
                    case,
                    name,
                    f"TypeScript var loaders ({ref}) are not supported by pytest-cfgateway "
                    "(it has no TypeScript compiler)",
                    "compile the loader to .js, or write it in Python "
                    "(get_var(var_name, prompt, other_vars))",
                )
            provider = {"id": case.provider.id, "label": case.provider.label}
            return call_js_var_loader(
                path,
                fn,
                [name, case.prompt.raw, dict(current), provider],
                timeout=case_timeout_s(case.evaluate_options),
                what=f"var loader of {name!r}",
            )
        if suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8-sig"))
        if suffix in (".yaml", ".yml"):
            return parse_yaml12(path.read_text(encoding="utf-8-sig"))
        if suffix in _IMAGE_EXTS or suffix in _VIDEO_EXTS:
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
        if suffix == ".pdf":
            raise _var_error(
                case,
                name,
                f"PDF var files ({ref}) are not supported by pytest-cfgateway",
                "extract the text into a .txt file and reference that",
            )
        return path.read_text(encoding="utf-8-sig").strip()
    except (ConfigError, UserCodeAborted):
        raise  # a time-out, exit or crash names the loader itself
    except Exception as exc:
        raise _var_error(
            case,
            name,
            f"loading var from {ref} failed: {type(exc).__name__}: {exc}",
            "fix the file or the loader function",
        ) from exc


def _referenced_names(source: str) -> set[str]:
    try:
        return set(jinja2.meta.find_undeclared_variables(_ENV.parse(translate_nunjucks(source))))
    except jinja2.TemplateSyntaxError:
        return {"\0invalid"}


def missing_registers(case: EvalCase, registers: Mapping[str, Any]) -> list[str]:
    """``storeOutputAs`` names ``case`` uses (in its prompt or vars) that an earlier test
    stores but that hold no value yet (its item has not run in this process)."""
    used = _referenced_names(case.prompt.raw)
    for value in case.vars.values():
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            used |= _referenced_names(value)
    return sorted(
        name
        for name, first in case.register_names.items()
        if name in used and first < case.test_index and name not in registers
    )


def render_vars_in_vars(
    vars: Mapping[str, Any], env: Mapping[str, str], passes: int = 3
) -> dict[str, Any]:
    """Render string vars that reference other vars (``item: 'about {{topic}}'``)."""
    out = dict(vars)
    for _ in range(passes):
        changed = False
        for key, value in out.items():
            if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
                continue
            names = _referenced_names(value) - {"env"}
            if not names <= set(out):  # references something undefined: leave it alone
                continue
            rendered = render_template(auto_wrap_raw(value), out, env, what=f"var {key!r}")
            if rendered != value:
                out[key] = rendered
                changed = True
        if not changed:
            break
    return out


# ---------------------------------------------------------------------------- prompts


def _walk_json(
    obj: Any, vars: Mapping[str, Any], env: Mapping[str, str], what: str, filters: Filters
) -> Any:
    if isinstance(obj, str):
        return render_template(obj, vars, env, what=what, filters=filters)
    if isinstance(obj, list):
        return [_walk_json(v, vars, env, what, filters) for v in obj]
    if isinstance(obj, dict):
        return {k: _walk_json(v, vars, env, what, filters) for k, v in obj.items()}
    return obj


def _run_prompt_function(case: EvalCase, vars: dict[str, Any]) -> str:
    from .usercode import call_function, call_prompt_function, case_timeout_s, run_script

    spec = case.prompt.function or ""
    raw_path, fn = split_function(spec)
    path = Path(raw_path)
    context = {"vars": vars, "provider": {"id": case.provider.id, "label": case.provider.label}}
    if path.suffix.lower() in JS_EXTENSIONS:
        context["config"] = dict(case.prompt.config)
        result = call_prompt_function(
            path, fn, context, (case.evaluate_options or {}).get("timeoutMs")
        )
    elif fn is None:
        return run_script(path, context, timeout=case_timeout_s(case.evaluate_options))
    else:
        result = call_function(
            path,
            fn,
            [context],
            timeout=case_timeout_s(case.evaluate_options),
            what="prompt function",
        )
    if isinstance(result, dict) and "prompt" in result:
        result = result["prompt"]
    if isinstance(result, str):
        return result
    if isinstance(result, dict | list):
        return json.dumps(result, ensure_ascii=False)
    raise TypeError(f"prompt function must return a string or object, got {result!r}")


def render_prompt(
    case: EvalCase, env: Mapping[str, str], *, vars: dict[str, Any] | None = None
) -> str:
    """The final prompt text of ``case``: prefix/suffix, prompt function, vars, JSON escaping.

    ``env`` is the process environment; the config's ``env`` is merged over it. Runs user
    code (``file://x.py:fn`` prompts, ``.py`` var loaders), so call it only at run time.
    As in promptfoo, ``options.prefix``/``suffix`` wrap template prompts, not the output of
    prompt functions. ``vars``: the vars to render with instead of the case's, already
    resolved (no ``file://`` value left in them).
    """
    what = f"prompt {_short(case.prompt.label)!r}"
    template_env = {**env, **case.config_env} if case.config_env else env
    if vars is None:
        vars = resolve_vars(case)
    if case.prompt.function:
        try:
            base = _run_prompt_function(case, vars)
        except UserCodeAborted:
            raise  # a time-out, exit or crash names the function itself
        except Exception as exc:
            raise ConfigError(
                f"{what}: prompt function {case.prompt.function} failed: "
                f"{type(exc).__name__}: {exc}",
                path=case.config_path,
                key_path=case.key_path,
                fix="fix the prompt function; it gets {'vars': ..., 'provider': {...}} and "
                "returns a string or a list of chat messages",
            ) from exc
    else:
        prefix = case.options.get("prefix") or ""
        suffix = case.options.get("suffix") or ""
        base = f"{prefix}{case.prompt.raw}{suffix}"
    vars = {k: v[:-1] if isinstance(v, str) and v.endswith("\n") else v for k, v in vars.items()}
    parsed = _NOT_JSON
    if base.lstrip(" \t\n\r")[:1] in _JSON_STARTS:  # else json.loads would raise: skip it
        try:
            parsed = json.loads(base)
        except ValueError:
            parsed = _NOT_JSON
    try:
        filters = case.nunjucks_filters
        if parsed is not _NOT_JSON:
            rendered = _walk_json(parsed, vars, template_env, what, filters)
            return json.dumps(rendered, ensure_ascii=False, indent=2)
        return render_template(
            auto_wrap_raw(base),
            render_vars_in_vars(vars, template_env),
            template_env,
            what=what,
            filters=filters,
        )
    except ConfigError as exc:
        if exc.path is not None:
            raise
        raise ConfigError(
            exc.message,
            path=case.config_path,
            key_path=case.key_path,
            line=case.line,
            fix=exc.fix,
        ) from exc


_NOT_JSON = object()
#: the characters a text json.loads accepts can start with (after JSON whitespace; Python's
#: json also reads NaN and Infinity)
_JSON_STARTS = frozenset('{["-0123456789tfnNI')


def _short(label: str, limit: int = 60) -> str:
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _looks_like_json(text: str) -> bool:
    if text.startswith("{") and text.endswith("}"):
        return True
    if text.startswith("[") and text.endswith("]"):
        after = text[1:].lstrip()
        return (
            not after or after[0] in '"{[-0123456789' or after.startswith(("true", "false", "null"))
        )
    return False


def parse_chat(rendered: str) -> list[Message]:
    """promptfoo's ``parseChatPrompt``: ``- role:`` YAML, a JSON message array, else one
    user message. Text that looks like JSON but does not parse is an error."""
    text = rendered.strip()
    if (
        rendered.lstrip(" \t\n\r")[:1] not in _JSON_STARTS  # json.loads would raise
        and text[:1] not in ("{", "[", "-")  # nor does it look like JSON or YAML messages
    ):
        return [{"role": "user", "content": rendered}]  # (plain text: the usual prompt)
    if text.startswith("- role:"):
        import yaml

        try:
            data = parse_yaml12(rendered)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"chat prompt is not valid YAML: {exc}",
                fix="a prompt starting with '- role:' must be a YAML list of {role, content}",
            ) from None
        return _messages(data)
    try:
        data = json.loads(rendered)
    except ValueError as exc:
        if _looks_like_json(text):
            raise ConfigError(
                f"chat prompt is not valid JSON: {exc}",
                fix="fix the JSON (a JSON prompt is sent as a list of chat messages); check "
                "that vars inserted into it are escaped (use '| dump')",
            ) from None
        return [{"role": "user", "content": rendered}]
    if isinstance(data, list):
        return _messages(data)
    return [{"role": "user", "content": rendered}]


def _messages(data: Any) -> list[Message]:
    if not isinstance(data, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in data
    ):
        raise ConfigError(
            "chat prompt must be a list of messages, each with a 'role' and 'content'",
            fix='write e.g. [{"role": "user", "content": "Hi"}]',
        )
    return [dict(m) for m in data]


def provider_for_display(spec: ProviderSpec) -> str:
    """``label (id)`` when they differ, else the id."""
    return spec.id if spec.label == spec.id else f"{spec.label} ({spec.id})"
