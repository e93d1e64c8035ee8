"""``prompts`` -> PromptSpec list, following promptfoo's prompt processors and labels."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

from .cases import PromptSpec
from .errors import Ctx
from .files import (
    JS_EXTENSIONS,
    Session,
    glob_paths,
    is_glob,
    maybe_file_path,
    split_function,
    strip_file_prefix,
)
from .providers import type_name
from .render import auto_wrap_raw, template_error

DEFAULT_PROMPT = "{{prompt}}"
_PROMPT_KEYS = ("id", "label", "raw", "config", "messages")
#: promptfoo prompt keys with no meaning here (``display`` is its old name for ``label``).
_IGNORED_PROMPT_KEYS = ("template", "function", "display")
_EXECUTABLE_EXTS = (".sh", ".bash", ".exe", ".bat", ".cmd", ".ps1", ".rb", ".pl", ".go")


def parse_prompts(value: Any, ctx: Ctx, session: Session) -> list[PromptSpec]:
    """The whole ``prompts`` value -> PromptSpecs (default ``{{prompt}}`` when absent)."""
    if value is None:
        return [PromptSpec(raw=DEFAULT_PROMPT, label=DEFAULT_PROMPT, base_dir=session.base_dir)]
    entries: list[tuple[dict[str, Any], Ctx]] = []
    if isinstance(value, str):
        entries.append(({"raw": value}, ctx))
    elif isinstance(value, list):
        if not value:
            raise ctx.error("is empty", "list at least one prompt, or remove 'prompts'")
        for i, item in enumerate(value):
            entries.append((_normalize(item, ctx.at(i), session), ctx.at(i)))
    elif isinstance(value, dict) and value:
        if any(k in value for k in ("raw", "id", "messages")):
            entries.append((_normalize(value, ctx, session), ctx))
        else:  # legacy map {path: label}
            for raw, label in value.items():
                ictx = ctx.at(str(raw))
                if not isinstance(label, str):
                    raise ictx.error(
                        "in the legacy 'prompts: {path: label}' form the value must be a label",
                        "use a list instead: '- id: file://prompts.txt' / '  label: mine'",
                    )
                entries.append(({"raw": str(raw), "label": label}, ictx))
    else:
        raise ctx.error(
            f"must be a string, a list or a mapping, got {type_name(value)}",
            "write e.g. 'prompts: [\"Answer: {{question}}\"]' or 'prompts: [file://prompts.txt]'",
        )
    out: list[PromptSpec] = []
    for partial, pctx in entries:
        specs = _process(partial, pctx, session, depth=1)
        if not specs:
            raise pctx.error(
                f"there are no prompts in {partial.get('raw')!r}",
                "add prompt text to the file (prompts in .txt files are separated by lines '---')",
            )
        for spec in specs:
            if spec.function is None:
                err = template_error(auto_wrap_raw(spec.raw), session.nunjucks_filters)
                if err:  # as in promptfoo, the prompt's own rows error; the others run
                    line = pctx.line
                    where = f"{pctx.src.display}:{line}" if line else pctx.src.display
                    session.warn_once(
                        pctx,
                        "template",
                        spec.raw,
                        f"{where}: {pctx.key_path}: prompt {_short(spec.label)!r} is not a "
                        f"valid template ({err}); its items will error",
                    )
        out.extend(specs)
    return out


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _normalize(item: Any, ctx: Ctx, session: Session) -> dict[str, Any]:
    if isinstance(item, str):
        return {"raw": item}
    if not isinstance(item, dict):
        raise ctx.error(
            f"a prompt must be a string or an object, got {type_name(item)}",
            "write the prompt text, a file://path, or {raw: ..., label: ...}",
        )
    out = {}
    for key, val in item.items():
        if key in _PROMPT_KEYS:
            out[key] = val
        elif key == "display" and "label" not in item:
            out["label"] = val
        elif key not in _IGNORED_PROMPT_KEYS:
            session.unknown_key(ctx, key, "prompt", _PROMPT_KEYS)
    for key in ("raw", "id", "label"):
        if key in out and out[key] is not None and not isinstance(out[key], str):
            raise ctx.at(key).error(f"prompt '{key}' must be a string", "quote it")
    if "config" in out and not isinstance(out["config"] or {}, dict):
        raise ctx.at("config").error("prompt 'config' must be a mapping", "write 'config: {...}'")
    if out.get("id") and out.get("raw") and out["id"] != out["raw"]:
        out["name"] = out["id"]  # {id: my-prompt, raw: ...}: the id names the prompt
    if "messages" not in out:
        raw = out.get("raw") or out.get("id")
        if not raw:
            raise ctx.error("prompt object has neither 'raw' nor 'id'", "add 'raw: <prompt text>'")
        out["raw"] = raw
    return out


def _process(partial: dict[str, Any], ctx: Ctx, session: Session, depth: int) -> list[PromptSpec]:
    """`_specs`, each named for item ids (`PromptSpec.name`): the explicit label, else the
    naming ``id``, else the file name (``-<k>`` when a file holds several prompts)."""
    specs = _specs(partial, ctx, session, depth)
    explicit = partial.get("label") or partial.get("name")
    if not explicit:
        return specs
    if len(specs) == 1:
        return [dataclasses.replace(specs[0], name=explicit)]
    return [
        dataclasses.replace(s, name=f"{explicit}-{s.name or k + 1}") for k, s in enumerate(specs)
    ]


def _specs(partial: dict[str, Any], ctx: Ctx, session: Session, depth: int) -> list[PromptSpec]:
    label: str | None = partial.get("label")
    config = dict(partial.get("config") or {})
    if "messages" in partial:
        raw = json.dumps(_messages(partial["messages"], ctx.at("messages"), session))
        return [PromptSpec(raw=raw, label=label or raw, config=config, base_dir=session.base_dir)]
    raw = partial["raw"]
    if raw.startswith("exec:"):
        raise ctx.error(
            f"executable prompts ({raw!r}) are not supported by pytest-cfgateway",
            "use a Python prompt function instead: 'file://prompt.py:function_name'",
        )
    if not maybe_file_path(raw):
        return [_inline(raw, label, config, session)]
    explicit = raw.startswith("file://")
    ref, fn = split_function(strip_file_prefix(raw))
    if is_glob(ref):
        matches = glob_paths(session.base_dir, ref) if depth > 0 else []
        if not matches:
            if explicit:
                raise ctx.error(
                    f"no files match {raw!r} (searched under {session.display(session.base_dir)})",
                    "fix the glob, or drop 'file://' if this is prompt text",
                )
            return [_inline(raw, label, config, session)]
        out: list[PromptSpec] = []
        for path in matches:
            rel = session.rel(path)
            sub = {
                "raw": f"file://{rel}" + (f":{fn}" if fn else ""),
                "label": f"{label}: {rel}" if label else None,
                "config": config,
            }
            # named by the file (the label is shared by every match)
            out.extend(
                dataclasses.replace(spec, name=spec.name or path.name)
                for spec in _specs(sub, ctx, session, depth - 1)
            )
        return out
    path = session.resolve(ref)
    if path.is_dir():
        raise ctx.error(
            f"prompt path {raw!r} is a directory", f"use a glob such as 'file://{ref}/*.txt'"
        )
    if not path.is_file():
        if explicit:
            raise ctx.error(
                f"prompt file not found: {session.display(path)}",
                "check the path; it is resolved against the config's directory",
            )
        return [_inline(raw, label, config, session)]
    specs = _from_file(path, session.rel(path), fn, label, config, ctx, session)
    file_name = path.name + (f":{fn}" if fn else "")
    if len(specs) > 1:
        return [dataclasses.replace(s, name=f"{file_name}-{k + 1}") for k, s in enumerate(specs)]
    return [dataclasses.replace(s, name=file_name) for s in specs]


def _inline(raw: str, label: str | None, config: dict[str, Any], session: Session) -> PromptSpec:
    return PromptSpec(raw=raw, label=label or raw, config=config, base_dir=session.base_dir)


def _from_file(
    path: Path,
    rel: str,
    fn: str | None,
    label: str | None,
    config: dict[str, Any],
    ctx: Ctx,
    session: Session,
) -> list[PromptSpec]:
    ext = path.suffix.lower()
    base = session.base_dir

    def spec(raw: str, lab: str, function: str | None = None) -> PromptSpec:
        return PromptSpec(raw=raw, label=lab, config=config, function=function, base_dir=base)

    if ext in JS_EXTENSIONS:  # run at render time by the user-code executor (TypeScript: the
        # items error, naming it); labelled as promptfoo labels them
        text = session.read_text(path, ctx)
        lab = label if label is not None else (f"{rel}:{fn}" if fn else rel)
        return [spec(text, lab, path.resolve().as_posix() + (f":{fn}" if fn else ""))]
    if ext in _EXECUTABLE_EXTS:
        raise ctx.error(
            f"executable prompts ({rel}) are not supported by pytest-cfgateway",
            "use a Python prompt function: 'file://prompt.py:function_name'",
        )
    text = session.read_text(path, ctx)
    if ext == ".py":
        lab = label if label is not None else (f"{rel}:{fn}" if fn else f"{rel}: {text}")
        function = path.resolve().as_posix() + (f":{fn}" if fn else "")
        return [spec(text, lab, function)]
    if ext in (".md", ".j2"):
        return [spec(text, label or f"{rel}: {text[:50]}...")]
    if ext == ".json":
        raw = text
        try:
            raw = json.dumps(
                _resolve_nested(json.loads(text), session),
                separators=(",", ":"),
                ensure_ascii=False,
            )
        except ValueError:
            pass  # not JSON: used as text, as promptfoo does
        return [spec(raw, label or f"{rel}: {raw}")]
    if ext == ".jsonl":
        lines = [ln for ln in text.splitlines() if ln]
        many = len(lines) > 1
        return [
            spec(ln, (f"{label}: {ln}" if label else f"{rel}: {ln}") if many else (label or rel))
            for ln in lines
        ]
    if ext in (".yaml", ".yml"):
        data, _ = session.load_data(path, ctx)
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return [spec(raw, label or f"{rel}: {raw[:80]}")]
    if ext == ".csv":
        return [spec(r, lab) for r, lab in _csv_prompts(text, label, ctx, rel)]
    # .txt and any other text file: split on lines that are exactly '---'
    prompts: list[PromptSpec] = []
    buffer: list[str] = []

    def flush() -> None:
        raw = "\n".join(buffer).strip()
        if raw:
            prompts.append(spec(raw, f"{label}: {rel}: {raw}" if label else f"{rel}: {raw}"))
        buffer.clear()

    for line in text.splitlines():
        if line.strip() == "---":
            flush()
        else:
            buffer.append(line)
    flush()
    return prompts


def _csv_prompts(text: str, label: str | None, ctx: Ctx, rel: str) -> list[tuple[str, str]]:
    if "," not in text:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        start = 1 if lines and lines[0].strip().lower() == "prompt" else 0
        return [(ln, label or f"Prompt {i + 1} - {ln}") for i, ln in enumerate(lines[start:])]
    reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    if not reader.fieldnames or "prompt" not in [f.strip() for f in reader.fieldnames]:
        raise ctx.error(
            f"prompt CSV {rel} has no 'prompt' column",
            "use a header row 'prompt,label' (label optional)",
        )
    out: list[tuple[str, str]] = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        if not clean.get("prompt"):
            continue
        p = clean["prompt"]
        out.append((p, clean.get("label") or label or f"Prompt {len(out) + 1} - {p}"))
    return out


def _messages(value: Any, ctx: Ctx, session: Session) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ctx.error(
            "'messages' must be a non-empty list of {role, content}",
            "write e.g. '- role: user' / '  content: Hi {{name}}'",
        )
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(value):
        mctx = ctx.at(i)
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise mctx.error("each message needs a 'role' and 'content'", "write '- role: user'")
        msg = dict(msg)
        content = msg.get("content")
        if isinstance(content, str) and content.startswith("file://"):
            path = session.require_file(content, mctx.at("content"), "message content file")
            if path.suffix.lower() in JS_EXTENSIONS:
                raise mctx.at("content").error(
                    "JavaScript message content is not supported by pytest-cfgateway",
                    "use a .txt, .md, .j2 or .json file",
                )
            text = session.read_text(path, mctx.at("content"))
            if path.suffix.lower() == ".json":
                try:
                    msg["content"] = json.loads(text)
                except ValueError:
                    msg["content"] = text
            else:
                msg["content"] = text
        out.append(msg)
    return out


def _resolve_nested(value: Any, session: Session) -> Any:
    """Load ``file://`` strings inside a JSON prompt (text; .json/.yaml parsed)."""
    if isinstance(value, str) and value.startswith("file://"):
        path = session.resolve(value)
        if path.is_file():
            if path.suffix.lower() in (".json", ".yaml", ".yml"):
                return session.load_data(path, Ctx(session.source(path)))[0]
            return path.read_text(encoding="utf-8-sig")
        return value
    if isinstance(value, list):
        return [_resolve_nested(v, session) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_nested(v, session) for k, v in value.items()}
    return value
