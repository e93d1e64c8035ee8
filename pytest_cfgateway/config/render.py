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
import json
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..gateway.types import Message
from ..usercode.errors import UserCodeAborted
from ._nunjucks import TEMPLATE_LIMITS, _finalize
from .cases import EvalCase, ProviderSpec
from .errors import ConfigError, Ctx
from .files import JS_EXTENSIONS, split_function, strip_file_prefix
from .yaml12 import parse_yaml12

Filters = Mapping[str, str]  # nunjucksFilters: name -> JavaScript file

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


#: a template that only prints names (``Repeat after me: {{ word }}``): rendered without
#: Jinja2, to the same text (its lexer would also turn ``\r\n`` into ``\n``: such text is
#: left to it). Anything else (tags, comments, filters, attributes) goes to Jinja2.
_NAME_ONLY = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _names_only(source: str) -> list[str] | None:
    """``source`` split into text and names (odd places), when it only prints names."""
    if "\r" in source or "{%" in source or "{#" in source:
        return None
    parts = _NAME_ONLY.split(source)
    if any("{{" in text for text in parts[::2]):
        return None  # a `{{` that is not a bare name
    return parts


def template_error(source: str, filters: Filters | None = None) -> str | None:
    """Why ``source`` is not a valid template (None when it compiles)."""
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return None
    if _names_only(source) is not None:
        return None
    from ._jinja import compile_error

    return compile_error(source, filters)


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
    parts = _names_only(source)
    if parts is not None and all(name in vars and name != "env" for name in parts[1::2]):
        for i in range(1, len(parts), 2):
            parts[i] = _finalize(vars[parts[i]])  # as Jinja2 prints it (`Environment.finalize`)
        text = "".join(parts)
        if len(text) <= TEMPLATE_LIMITS["text_chars"]:
            return text
    from ._jinja import render

    return render(source, {"env": dict(env), **vars}, what, filters)


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
    parts = _names_only(source)
    if parts is not None:
        return set(parts[1::2])
    from ._jinja import referenced_names

    return referenced_names(source)


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
