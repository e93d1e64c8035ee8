"""promptfoo configs as pytest collectors: one `CaseItem` (a real `pytest.Function`, so syrupy,
``-k``, ``--lf`` and xdist treat it as any test) per EvalCase."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .errors import CaseError, CaseFailed
from .pytest_compat import align_node_id
from .render import prepare_case
from .state import RunState


class ConfigCollectError(Exception):
    """A config that cannot be collected; rendered without a Python traceback."""


class ConfigFile(pytest.File):
    """A promptfooconfig.yaml (or any config named with --cf-config / cf_config)."""

    def collect(self) -> Iterator[pytest.Item]:
        from ..config import ConfigError, ConfigWarning, load_config

        runtime = RunState.get(self.config)
        assert runtime is not None
        runtime.bind_usercode_output()  # generators, var loaders and hooks print from here on
        try:
            assertions, adapters = runtime.registries(self.path, self.ihook)
        except (ValueError, TypeError) as exc:
            raise ConfigCollectError(f"{self._relpath()}: {exc}") from None
        from .hooks import run_once

        try:
            loaded = load_config(
                self.path,
                env=runtime.env,
                rootdir=runtime.settings.rootdir,
                extra_assertion_types=assertions.custom_names(),
                run_once=run_once(self.config),  # beforeAll hooks: once per run
            )
        except ConfigError as exc:
            raise ConfigCollectError(runtime.secrets.scrub_text(str(exc))) from None
        from ..gateway.redact import literal_secrets

        # apiKey literals, provider headers, config env values: scrubbed like env keys
        runtime.secrets.update(literal_secrets(loaded.raw))
        for message in loaded.warnings:
            self.warn(ConfigWarning(runtime.secrets.scrub_text(message)))
        cases = _skip_unroutable(loaded.cases, adapters)
        rows: dict[str, list[Any]] = {}
        for case in cases:
            rows.setdefault(case.row_key, []).append(case)
        columns: dict[tuple[str, str, str], int] = {}
        row_index = {key: i for i, key in enumerate(rows)}
        output_paths, ignored = _output_paths(loaded.raw, self.path, self._relpath())
        for message in ignored:
            self.warn(ConfigWarning(message))
        fixtureinfo = None  # the same for every item of this file: computed once, as pytest
        for case in cases:  # does for the items of one parametrized function
            item = CaseItem.from_case(self, case, rows[case.row_key], fixtureinfo)
            fixtureinfo = item._fixtureinfo
            # promptfoo's indexes: promptIdx is the (prompt, provider) column, testIdx the row
            column = (case.prompt.label, case.prompt.raw, case.provider.id)
            item.prompt_idx = columns.setdefault(column, len(columns))
            item.test_idx = row_index[case.row_key]
            item.output_paths = output_paths
            yield item

    def _relpath(self) -> str:
        return _posix_rel(self.path, Path(self.config.rootpath))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ConfigCollectError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _output_paths(raw: Any, path: Path, where: str) -> tuple[list[str], list[str]]:
    """The config's ``outputPath`` (a string or a list), relative to the config's directory,
    as absolute paths (the extension picks the format, as with ``--cf-output``), and a
    warning for each path with a format this plugin does not write: promptfoo runs such a
    config and only fails to write that file, so the rows still run here."""
    value = raw.get("outputPath") if isinstance(raw, dict) else None
    if value is None:
        return [], []
    values = value if isinstance(value, list) else [value]
    out: list[str] = []
    ignored: list[str] = []
    for v in values:
        if not isinstance(v, str) or not v.strip():  # promptfoo runs the rows, then fails
            ignored.append(
                f"{where}: outputPath: expected a file name or a list of them, got {v!r}; "
                "nothing is written for it (the tests still run). Fix: write e.g. "
                "'outputPath: results.json'"
            )
            continue
        suffix = Path(v).suffix.lower()
        if suffix not in (".json", ".jsonl", ".csv", ".html"):
            ignored.append(
                f"{where}: outputPath: {v!r} has an unsupported extension {suffix!r}; it is "
                "not written (the tests still run). Fix: use .json, .jsonl, .csv or .html"
            )
            continue
        out.append(str((path.parent / v).resolve()))
    return out, ignored


def _skip_unroutable(cases: list[Any], adapters: dict[str, Any]) -> list[Any]:
    """Cases whose provider (or one of its fallbacks) names a gateway provider slug that no
    adapter serves become skipped items with the reason, as an unknown ``apiBaseUrl`` host
    does: what cannot go through the gateway is skipped, the rest of the config runs."""
    import dataclasses

    problems: dict[int, str | None] = {}
    out = []
    for case in cases:
        key = id(case.provider)
        if key not in problems:
            problems[key] = _provider_problem(case.provider, adapters)
        problem = problems[key]
        if problem:
            provider = dataclasses.replace(case.provider, route="unsupported", skip_reason=problem)
            case = dataclasses.replace(case, provider=provider)
        out.append(case)
    return out


def _provider_problem(provider: Any, adapters: dict[str, Any]) -> str | None:
    """Why a gateway provider cannot be routed (an unknown slug, also in its fallbacks), as
    a skip reason; None when it can."""
    if provider.route != "gateway" or not provider.gateway_id:
        return None
    from ..gateway.routes import parse_provider_id

    try:
        parse_provider_id(provider.gateway_id, known=adapters)
    except ValueError as exc:
        return f"providers: {provider.id!r}: {exc}"
    fallbacks = provider.config.get("fallbacks") or []
    for fb in fallbacks:
        fb_id = fb.get("id") if isinstance(fb, dict) else fb
        try:
            parse_provider_id(str(fb_id), known=adapters)
        except ValueError as exc:
            return f"providers: {provider.id!r}: fallbacks: {exc}"
    return None


def _posix_rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def _case_function(name: str, module: str) -> tuple[Any, list[Any]]:
    """The test function of a config item, and the cell its item goes into once made.

    It takes no fixture: it finds its item in the cell (pytest 9 builds a ``FixtureDef``
    and a ``SubRequest`` for every test that takes ``request``, measured as 6% of a
    replay). It builds its syrupy assertion directly on our extension (one registration
    with syrupy per item, instead of the ``snapshot`` fixture's plus ours)."""
    cell: list[Any] = []

    def cfgateway_case() -> None:
        from ..snapshots import case_snapshot
        from .case import run_case  # (loaded at the first item: after the first calls left)

        item = cell[0]
        run_case(item, case_snapshot(item))

    cfgateway_case.__name__ = name
    cfgateway_case.__qualname__ = name
    cfgateway_case.__module__ = module
    return cfgateway_case, cell


class CaseItem(pytest.Function):
    """One eval case: render, call (or replay), grade; report like promptfoo would."""

    case: Any
    #: every case of this item's row (same test, var combination and repeat), for
    #: select-best and max-score
    row_cases: list[Any]
    #: promptfoo's promptIdx / testIdx of the case within its config
    prompt_idx: int | None = None
    test_idx: int | None = None
    output_paths: list[str] = []  # noqa: RUF012  (set per item at collection)

    @classmethod
    def from_case(
        cls, parent: ConfigFile, case: Any, row_cases: list[Any], fixtureinfo: Any = None
    ) -> CaseItem:
        function, cell = _case_function(case.name, parent.path.stem)
        item: CaseItem = cls.from_parent(
            parent, name=case.name, callobj=function, fixtureinfo=fixtureinfo
        )
        cell.append(item)
        align_node_id(item)  # --lf/--ff/--nf/--sw on pytest 9.2 (see pytest_compat)
        item.case = case
        item.row_cases = row_cases
        meta = {
            k: v for k, v in (case.metadata or {}).items() if _is_scalar(v) and k.isidentifier()
        }
        item.add_marker(pytest.mark.cfgateway(**meta) if meta else _BARE_MARK)
        if case.provider.route == "unsupported":
            item.add_marker(pytest.mark.skip(reason=case.provider.skip_reason or case.provider.id))
        return item

    def setup(self) -> None:
        super().setup()
        prepare_case(self)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        line = self.case.line - 1 if getattr(self.case, "line", None) else None
        return self.path, line, self.name

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed | CaseError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _traceback_filter(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        return excinfo.traceback


#: the marker of an item without metadata (one object for all: marks are immutable)
_BARE_MARK = pytest.mark.cfgateway()


def _is_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None
