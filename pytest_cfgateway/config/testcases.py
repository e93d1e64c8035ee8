"""``tests`` / ``defaultTest`` / scenario entries -> TestDef (validated, files loaded).

Sources: inline mappings, ``file://`` YAML/JSON/JSONL/CSV files, globs and directories.
CSV rows follow promptfoo's ``testCaseFromCsvRow`` (``__expected``, ``__metadata:x`` ...).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .assertions import parse_assertions
from .cases import AssertionSpec, ProviderSpec
from .compact import parse_compact
from .errors import ConfigError, Ctx, Source
from .files import JS_EXTENSIONS, Session, glob_paths, is_glob, split_function, strip_file_prefix
from .providers import parse_provider_entry, type_name

TEST_KEYS = (
    "description",
    "vars",
    "provider",
    "providers",
    "prompts",
    "providerOutput",
    "assert",
    "assertScoringFunction",
    "threshold",
    "metadata",
    "options",
)
_DATA_EXTS = (".yaml", ".yml", ".json", ".jsonl", ".csv")


@dataclasses.dataclass
class TestDef:
    """One test (or defaultTest, or scenario config entry) after validation."""

    ctx: Ctx
    description: str | None = None
    vars: dict[str, Any] | None = None
    asserts: list[AssertionSpec] | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    threshold: float | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    provider: ProviderSpec | None = None
    providers: list[str] | None = None
    prompts: list[str] | None = None
    provider_output: Any = None
    has_provider_output: bool = False


# ------------------------------------------------------------------ loading test lists


def load_tests(
    value: Any, ctx: Ctx, session: Session, extra_types: Collection[str]
) -> list[TestDef]:
    """The ``tests`` value -> TestDefs (inline, files, globs, directories, generators)."""
    return [
        parse_test(item, ictx, session, extra_types)
        for item, ictx in load_test_items(value, ctx, session)
    ]


def load_test_items(value: Any, ctx: Ctx, session: Session) -> list[tuple[Any, Ctx]]:
    """The ``tests`` value -> its test mappings, each with where it came from (files read and
    generators run, nothing validated yet): what promptfoo's beforeAll hook sees."""
    if value is None:
        return []
    if isinstance(value, str):
        return _load_ref(value, ctx, session)
    if isinstance(value, dict):
        if "path" in value:
            return _load_generator(value, ctx, session)
        raise ctx.error(
            "'tests' must be a list of test cases or a file reference, got a mapping",
            "put a '- ' before the test ('tests:' then '  - vars: {...}')",
        )
    if not isinstance(value, list):
        raise ctx.error(
            f"'tests' must be a list of test cases or a file reference, got {type_name(value)}",
            "write 'tests:' followed by '- vars: {...}' items, or 'tests: file://tests.csv'",
        )
    out: list[tuple[Any, Ctx]] = []
    for i, item in enumerate(value):
        ictx = ctx.at(i)
        if item is None:
            raise ictx.error(
                "this test case is empty (null: a '-' with nothing after it)",
                "remove the empty '-' line, or give the test 'vars:' and 'assert:'",
            )
        if isinstance(item, str):
            out.extend(_load_ref(item, ictx, session))
        elif isinstance(item, dict) and "path" in item and "vars" not in item:
            out.extend(_load_generator(item, ictx, session))
        else:
            out.append((item, ictx))
    return out


def _load_ref(ref: str, ctx: Ctx, session: Session) -> list[tuple[Any, Ctx]]:
    for scheme in ("huggingface://", "https://", "http://", "az://", "s3://", "gs://"):
        if ref.startswith(scheme):
            raise ctx.error(
                f"remote test sources ({ref!r}) are not supported by pytest-cfgateway",
                "download the tests into a local CSV/YAML file and reference it with file://",
            )
    path_text, fn = split_function(strip_file_prefix(ref))
    base = path_text.split("#", 1)[0]
    if fn is not None or base.lower().endswith((".py", *JS_EXTENSIONS)):
        return _run_generator(ref, None, ctx, session)
    if base.lower().endswith(".xlsx"):
        raise ctx.error(
            f"Excel test files ({ref!r}) are not supported by pytest-cfgateway",
            "export the sheet as CSV and reference the .csv file",
        )
    if is_glob(base):
        paths = glob_paths(session.base_dir, base)
        if not paths:
            raise ctx.error(
                f"no files match {ref!r} (searched under {session.display(session.base_dir)})",
                "fix the glob pattern; paths are relative to the config's directory",
            )
    else:
        target = session.resolve(base)
        if target.is_dir():
            paths = [p for p in glob_paths(target, "**/*") if p.suffix.lower() in _DATA_EXTS]
            if not paths:
                raise ctx.error(
                    f"directory {session.display(target)} holds no test files",
                    "add .yaml/.yml/.json/.jsonl/.csv test files or point at a file",
                )
        else:
            paths = [session.require_file(base, ctx, "tests file")]
    out: list[tuple[Any, Ctx]] = []
    for path in paths:
        out.extend(_load_file(path, ctx, session))
    return out


def _load_generator(spec: dict[str, Any], ctx: Ctx, session: Session) -> list[tuple[Any, Ctx]]:
    ref = spec.get("path")
    if not isinstance(ref, str) or not ref.strip():
        raise ctx.at("path").error(
            "a test generator's 'path' must be a file://path.py:function or "
            "file://path.js:function string",
            "write e.g. 'path: file://gen.py:generate_tests'",
        )
    return _run_generator(ref, spec.get("config"), ctx.at("path"), session)


def _run_generator(ref: str, config: Any, ctx: Ctx, session: Session) -> list[tuple[Any, Ctx]]:
    """Tests from a Python or JavaScript generator (user-code executor, time limit)."""
    from .generators import run_generator

    path_text, fn = split_function(strip_file_prefix(ref))
    path = session.require_file(path_text, ctx, "test generator")
    items = run_generator(path, fn, config, ctx)
    return [(item, ctx.at(i)) for i, item in enumerate(items)]


def _load_file(path: Path, ctx: Ctx, session: Session) -> list[tuple[Any, Ctx]]:
    ext = path.suffix.lower()
    if ext == ".csv":
        return list(_csv_tests(path, ctx, session))
    if ext not in _DATA_EXTS:
        raise ctx.error(
            f"cannot read tests from {session.display(path)} (unsupported type {ext or 'none'})",
            "use a .yaml, .yml, .json, .jsonl or .csv file",
        )
    data, fctx = session.load_data(path, ctx)
    if isinstance(data, dict):
        return [(data, fctx)]
    if not isinstance(data, list):
        raise fctx.error(
            f"a tests file must hold a list of test cases, got {type_name(data)}",
            "write '- vars: {...}' items at the top level of the file",
        )
    return [(item, fctx.at(i)) for i, item in enumerate(data)]


# ------------------------------------------------------------------ CSV


_EXPECTED = re.compile(r"^__expected(?:(\d+)|\[(\d+)\])?$")


def _csv_tests(path: Path, ctx: Ctx, session: Session) -> list[tuple[dict[str, Any], Ctx]]:
    text = session.read_text(path, ctx)
    shown = session.display(path)
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise ConfigError(
            f"invalid CSV: {exc}",
            path=path,
            line=reader.line_num,
            fix="check the quoting on this line: quote fields that contain commas, and write "
            'a literal quote as "" inside a quoted field',
            display_path=shown,
        ) from None
    if not header or all(not h.strip() for h in header):
        raise ConfigError(
            "CSV file is empty (no header row)",
            path=path,
            line=1,
            fix="start the file with a header row naming the vars, e.g. 'question,__expected'",
            display_path=shown,
        )
    names = [h.strip() for h in header]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name:
            raise ConfigError(
                f"CSV header column {i + 1} has no name",
                path=path,
                line=1,
                fix="name every column in the header row",
                display_path=shown,
            )
        if name in seen:
            raise ConfigError(
                f"CSV header repeats column {name!r}",
                path=path,
                line=1,
                fix="give every column a unique name",
                display_path=shown,
            )
        seen.add(name)
        if (
            not name.startswith("__")
            and name.startswith("_")
            and name.lstrip("_").split(":")[0].rstrip("0123456789[]")
            in (
                "expected",
                "prefix",
                "suffix",
                "description",
                "providerOutput",
                "metric",
                "threshold",
                "metadata",
                "config",
            )
        ):
            session.warnings.append(
                f"{shown}: column {name!r} has a single underscore; did you mean "
                f"{'_' + name!r}? It is treated as a var"
            )
        if name == "__metadata":
            session.warnings.append(
                f"{shown}: the '__metadata' column needs a key (e.g. '__metadata:category'); "
                "it is ignored"
            )
    lines = {"rows": 1}
    src = Source(path, lines, shown)
    out: list[tuple[dict[str, Any], Ctx]] = []
    for index, (line, row) in enumerate(rows):
        lines[f"rows[{index}]"] = line
        rctx = Ctx(src, f"rows[{index}]")
        if len(row) != len(names):
            raise rctx.error(
                f"row has {len(row)} fields but the header has {len(names)}",
                "give every row one value per header column (quote values that contain commas)",
            )
        out.append((_csv_row(dict(zip(names, row, strict=True)), rctx), rctx))
    return out


def _csv_row(row: dict[str, str], ctx: Ctx) -> dict[str, Any]:
    vars: dict[str, Any] = {}
    asserts: list[tuple[int, dict[str, Any]]] = []  # (column order index, assertion)
    options: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    configs: dict[int, dict[str, Any]] = {}
    test: dict[str, Any] = {}
    metric: str | None = None
    for key, value in row.items():
        m = _EXPECTED.match(key)
        if m:
            number = m.group(1) or m.group(2)
            idx = int(number) - 1 if number else 0
            if value.strip():
                try:
                    spec = parse_compact(value)
                except ConfigError as exc:
                    raise ctx.at(key).error(exc.message, exc.fix) from None
                entry: dict[str, Any] = {"type": spec.type}
                if spec.value is not None:
                    entry["value"] = spec.value
                if spec.threshold is not None:
                    entry["threshold"] = spec.threshold
                asserts.append((idx, entry))
        elif key.startswith("__expected"):
            vars[key] = value  # e.g. "__expectedFoo": promptfoo treats it as an assertion too
        elif key == "__prefix":
            options["prefix"] = value
        elif key == "__suffix":
            options["suffix"] = value
        elif key == "__description":
            if value:
                test["description"] = value
        elif key == "__providerOutput":
            if value:
                test["providerOutput"] = value
        elif key == "__metric":
            metric = value or None
        elif key == "__threshold":
            if value.strip():
                test["threshold"] = _csv_float(value, ctx.at(key), "__threshold")
        elif key.startswith("__metadata:"):
            mkey = key[len("__metadata:") :]
            if not value.strip():
                continue
            if mkey.endswith("[]"):
                parts = re.split(r"(?<!\\),", value)
                metadata[mkey[:-2]] = [p.strip().replace("\\,", ",") for p in parts]
            else:
                metadata[mkey] = value
        elif key == "__metadata":
            continue
        elif key.startswith("__config:"):
            target, config_key = _csv_config_key(key, ctx.at(key))
            configs.setdefault(target, {})[config_key] = _csv_float(value, ctx.at(key), key)
        else:
            vars[key] = value
    ordered = [entry for _, entry in asserts]
    for col_index, entry in asserts:
        if metric is not None:
            entry["metric"] = metric
        entry.update(configs.get(col_index, {}))
    test["vars"] = vars
    test["assert"] = ordered
    if options:
        test["options"] = options
    if metadata:
        test["metadata"] = metadata
    return test


def _csv_config_key(key: str, ctx: Ctx) -> tuple[int, str]:
    parts = key[len("__config:") :].rsplit(":", 1)
    if len(parts) != 2:
        raise ctx.error(
            f"invalid __config column {key!r}",
            "use '__config:__expected:threshold' or '__config:__expected<N>:threshold'",
        )
    target, config_key = parts
    m = _EXPECTED.match(target)
    if not m:
        raise ctx.error(
            f"invalid expected key {target!r} in __config column {key!r}",
            "name the assertion column: __expected or __expected<N> (N >= 1)",
        )
    n = m.group(1) or m.group(2)
    if n is not None and int(n) < 1:
        raise ctx.error(f"invalid expected key {target!r}", "__expected columns count from 1")
    if config_key != "threshold":
        raise ctx.error(
            f"invalid config key {config_key!r} in __config column {key!r}",
            "the only per-assertion config key is 'threshold'",
        )
    return (int(n) - 1 if n is not None else 0), config_key


def _csv_float(value: str, ctx: Ctx, column: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ctx.error(f"{column} must be a number, got {value!r}", "write e.g. 0.8")
    return number


# ------------------------------------------------------------------ one test


def parse_test(
    item: Any,
    ctx: Ctx,
    session: Session,
    extra_types: Collection[str],
    *,
    allow_description: bool = True,
    what: str = "test case",
) -> TestDef:
    """Validate one test mapping into a TestDef (vars files loaded, asserts parsed)."""
    if item is None:
        item = {}
    if not isinstance(item, dict):
        raise ctx.error(
            f"a {what} must be a mapping, got {type_name(item)}",
            "write e.g. '- vars: {question: ...}' with 'assert:' items",
        )
    for key in list(item):
        if key == "description" and not allow_description:
            raise ctx.at(key).error(f"a {what} has no 'description'", "remove it")
        if key not in TEST_KEYS:
            session.unknown_key(ctx, key, what, TEST_KEYS)
    t = TestDef(ctx=ctx)
    if "description" in item and item["description"] is not None:
        desc = item["description"]
        if isinstance(desc, dict | list):
            raise ctx.at("description").error("'description' must be text", "quote it")
        t.description = str(desc)
    if "vars" in item:
        t.vars = _parse_vars(item["vars"], ctx.at("vars"), session)
    if "assert" in item:
        t.asserts = list(parse_assertions(item["assert"], ctx.at("assert"), session, extra_types))
    if "options" in item:
        t.options = _parse_options(item["options"], ctx.at("options"))
    if item.get("assertScoringFunction") is not None:
        # carried in options so that a test's own one wins over defaultTest's, as in promptfoo
        t.options = {
            **t.options,
            "assertScoringFunction": _scoring_function(
                item["assertScoringFunction"], ctx.at("assertScoringFunction"), session
            ),
        }
    if "threshold" in item and item["threshold"] is not None:
        thr = item["threshold"]
        if isinstance(thr, bool) or not isinstance(thr, int | float) or thr != thr:
            raise ctx.at("threshold").error(
                f"'threshold' must be a number, got {type_name(thr)}",
                "write e.g. 'threshold: 0.75' (no quotes)",
            )
        t.threshold = float(thr)
    if "metadata" in item and item["metadata"] is not None:
        if not isinstance(item["metadata"], dict):
            raise ctx.at("metadata").error(
                f"'metadata' must be a mapping, got {type_name(item['metadata'])}",
                "write e.g. 'metadata: {category: geography}'",
            )
        t.metadata = dict(item["metadata"])
    if item.get("provider") is not None:
        specs = parse_provider_entry(item["provider"], ctx.at("provider"), session)
        if len(specs) != 1:
            raise ctx.at("provider").error(
                "a test's 'provider' must name exactly one provider", "use one id or object"
            )
        t.provider = specs[0]
    for key in ("providers", "prompts"):
        if item.get(key) is not None:
            setattr(t, key, _string_list(item[key], ctx.at(key), key))
    if "providerOutput" in item:
        out = item["providerOutput"]
        if not isinstance(out, str | dict | list):
            raise ctx.at("providerOutput").error(
                "'providerOutput' must be a string, a mapping or a list (e.g. tool calls)",
                "quote the output text",
            )
        t.provider_output = out
        t.has_provider_output = True
    return t


def _string_list(value: Any, ctx: Ctx, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ctx.error(
        f"'{key}' must be a list of {key[:-1]} labels or ids",
        f"write e.g. '{key}: [my-label]' (wildcards like 'openai:*' work)",
    )


def _scoring_function(value: Any, ctx: Ctx, session: Session) -> str:
    """``assertScoringFunction: file://score.js[:fn]`` -> ``/abs/score.js[:fn]``."""
    if not isinstance(value, str) or not value.startswith("file://"):
        raise ctx.error(
            "'assertScoringFunction' must be a file://path.js or file://path.py[:function]",
            "write e.g. 'assertScoringFunction: file://scoring.py:calculate_score'",
        )
    path_text, fn = split_function(strip_file_prefix(value))
    path = session.require_file(path_text, ctx, "scoring function file")
    if path.suffix.lower() != ".py" and path.suffix.lower() not in JS_EXTENSIONS:
        raise ctx.error(
            f"scoring function file {path.name!r} must be JavaScript or Python",
            "use a .js or .py file",
        )
    return path.resolve().as_posix() + (f":{fn}" if fn else "")


def _parse_options(value: Any, ctx: Ctx) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error(
            f"'options' must be a mapping, got {type_name(value)}",
            "write e.g. 'options: {prefix: ..., provider: openai:gpt-4o-mini}'",
        )
    for key in (
        "disableVarExpansion",
        "disableDefaultAsserts",
        "disableConversationVar",
        "runSerially",
    ):
        if key in value and not isinstance(value[key], bool):
            raise ctx.at(key).error(f"'{key}' must be true or false", f"write '{key}: true'")
    for key in ("prefix", "suffix", "transform", "transformVars"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            raise ctx.at(key).error(f"'{key}' must be a string", "quote it")
    if (
        "provider" in value
        and value["provider"] is not None
        and not isinstance(value["provider"], str | dict)
    ):
        raise ctx.at("provider").error(
            "options.provider (the grader) must be a provider id or an object",
            "write e.g. 'provider: openai:gpt-4o-mini'",
        )
    stored = value.get("storeOutputAs")
    if stored is not None and not (isinstance(stored, str) and stored.isidentifier()):
        raise ctx.at("storeOutputAs").error(
            f"'storeOutputAs' must be a variable name, got {stored!r}",
            "write e.g. 'storeOutputAs: first_answer' and use {{ first_answer }} in later tests",
        )
    return dict(value)


def _parse_vars(value: Any, ctx: Ctx, session: Session) -> dict[str, Any]:
    if value is None:
        raise ctx.error(
            "'vars' is empty (null)", "give it entries ('vars: {name: value}') or remove the key"
        )
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ctx.error(
                "'vars' must be a mapping (or a file:// reference to one)",
                "write 'vars:' followed by 'name: value' lines",
            )
        merged: dict[str, Any] = {}
        # a vars file named inside an external tests file is relative to that file's folder
        folder = ctx.src.path.parent
        for i, ref in enumerate(value):
            rctx = ctx.at(i) if len(value) > 1 else ctx
            base = strip_file_prefix(ref)
            if is_glob(base):
                paths = glob_paths(folder, base)
            elif folder == session.base_dir:
                paths = [session.require_file(ref, rctx, "vars file")]
            else:
                found = Path(base) if Path(base).is_absolute() else folder / base
                if not found.is_file():
                    raise rctx.error(
                        f"vars file {ref!r} not found (looked for {session.display(found)})",
                        "paths in a tests file are relative to that file's folder",
                    )
                paths = [found]
            if not paths:
                raise rctx.error(f"no vars files match {ref!r}", "fix the glob pattern")
            for path in paths:
                data, fctx = session.load_data(path, rctx)
                if not isinstance(data, dict):
                    raise fctx.error(
                        f"a vars file must hold a mapping, got {type_name(data)}",
                        "write 'name: value' lines at the top level",
                    )
                merged.update(_check_var_values(data, fctx))
        return merged
    if not isinstance(value, dict):
        raise ctx.error(
            f"'vars' must be a mapping, got {type_name(value)}",
            "write 'vars:' followed by 'name: value' lines",
        )
    return _check_var_values(value, ctx)


def _check_var_values(data: dict[Any, Any], ctx: Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in data.items():
        if val is None:
            raise ctx.at(str(key)).error(
                f"var {key!r} is null",
                f"give it a value, or write {key}: '' for an empty string",
            )
        if isinstance(val, float) and val != val:
            raise ctx.at(str(key)).error(f"var {key!r} is NaN", "use a number or a string")
        out[str(key)] = val
    return out
