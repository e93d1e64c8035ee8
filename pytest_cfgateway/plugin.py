"""The pytest11 entry point: options, hooks and fixtures, each delegating to the parts.

Every option of the plugin is in `_OPTIONS` / `_INI` below, so this is the one place to look.
Heavy imports (httpx, jinja2, syrupy extension, the gateway client) happen inside hooks that
only run when the plugin is used, so a suite that never uses it pays almost nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from .emulator import Emulator
    from .run.fixtures import BoundGateway

_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--cf-config",
        dict(
            action="append",
            default=[],
            metavar="PATH",
            help="promptfoo config to collect as pytest items (repeatable).",
        ),
    ),
    (
        "--cf-mode",
        dict(
            choices=["replay", "record", "refresh", "live"],
            default=None,
            help="replay (default): answers from snapshots, no network; record: call "
            "missing/changed requests and write them (implied by "
            "--snapshot-update); refresh: call everything and rewrite; live: "
            "call everything, never write, report drift.",
        ),
    ),
    (
        "--cf-drift",
        dict(
            choices=["warn", "fail"],
            default="warn",
            help="In live mode, whether answers that differ from their snapshot "
            "fail the item (default: warn).",
        ),
    ),
    (
        "--cf-env-file",
        dict(
            default=None,
            metavar="PATH",
            help="dotenv file with keys for live runs (default: .env in the "
            "rootdir if present). Its values are treated as secrets.",
        ),
    ),
    (
        "--cf-gateway-url",
        dict(
            default=None,
            metavar="URL",
            help="Gateway base URL (default env CF_GATEWAY_URL, else "
            "https://gateway.ai.cloudflare.com/v1).",
        ),
    ),
    (
        "--cf-grader",
        dict(
            default=None,
            metavar="PROVIDER",
            help="Default grader for model-graded assertions "
            "(default: ini cf_grader, else openai:gpt-5.2).",
        ),
    ),
    (
        "--cf-cache-ttl",
        dict(
            type=int,
            default=None,
            metavar="SECONDS",
            help="Enable gateway caching with this TTL; requests then carry "
            "cf-aig-cache-key = the request fingerprint.",
        ),
    ),
    (
        "--cf-concurrency",
        dict(type=int, default=8, metavar="N", help="Gateway calls in flight at once (default 8)."),
    ),
    (
        "--cf-http-process",
        dict(
            choices=["auto", "on", "off"],
            default="auto",
            help="Make the scheduled gateway calls' HTTP exchanges in a worker process, so "
            "they run on another core than pytest (auto: when a run schedules at least "
            "32 calls; default auto).",
        ),
    ),
    (
        "--cf-max-retries",
        dict(
            type=int,
            default=4,
            metavar="N",
            help="Retries for 429, 5xx and connection errors (default 4).",
        ),
    ),
    (
        "--cf-timeout",
        dict(
            type=float,
            default=120.0,
            metavar="SECONDS",
            help="Timeout per gateway call (default 120).",
        ),
    ),
    (
        "--cf-max-cost",
        dict(
            type=float,
            default=None,
            metavar="USD",
            help="Make no new live calls once the estimated spend passes this.",
        ),
    ),
    (
        "--cf-output",
        dict(
            action="append",
            default=[],
            metavar="PATH",
            help="Write results (.json promptfoo v3 shape, .jsonl, .csv, .html); repeatable.",
        ),
    ),
    (
        "--cf-feedback",
        dict(
            action="store_true",
            default=None,
            help="Write each judged item's verdict (feedback +1/-1, score, metadata) onto the "
            "gateway log entries of its live calls through Cloudflare's Logs API "
            "(default: ini cf_feedback). Needs an API token with AI Gateway Edit.",
        ),
    ),
    (
        "--cf-api-url",
        dict(
            default=None,
            metavar="URL",
            help="Cloudflare API base URL for --cf-feedback (default env CF_API_URL, "
            "else https://api.cloudflare.com/client/v4).",
        ),
    ),
    (
        "--cf-api-token-env",
        dict(
            default=None,
            metavar="NAME",
            help="Env var holding the Cloudflare API token for --cf-feedback (default "
            "CLOUDFLARE_API_TOKEN). Its value is treated as a secret.",
        ),
    ),
]

_INI: list[tuple[str, str, Literal["linelist", "bool", "string"], Any]] = [
    ("cf_config", "promptfoo configs to collect, relative to the rootdir", "linelist", []),
    (
        "cf_autocollect",
        "collect every promptfooconfig.yaml/.yml under collected directories",
        "bool",
        False,
    ),
    ("cf_grader", "default grader provider for model-graded assertions", "string", ""),
    ("cf_feedback", "write eval verdicts onto the gateway's log entries", "bool", False),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cfgateway", "LLM evals through Cloudflare AI Gateway")
    for name, kwargs in _OPTIONS:
        group.addoption(name, dest=name[2:].replace("-", "_"), **kwargs)
    for name, help_, type_, default in _INI:
        parser.addini(name, help_, type=type_, default=default)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cfgateway(**metadata): an item collected from a promptfoo config."
    )
    config.addinivalue_line(
        "markers",
        "cf_gateway(provider=None, cache_ttl=None, metadata=None, **options): defaults for "
        "the cf_gateway fixture in this test.",
    )
    from .run.state import RunState
    from .run.targets import select_configs

    state = RunState.install(config)
    select_configs(config, state.settings)
    if _feedback_on(config):
        from .run.feedback import Feedback

        Feedback.install(config, state)
    config.pluginmanager.register(_Records(config), "cfgateway-records")
    if config.pluginmanager.hasplugin("syrupy"):
        from .snapshots._options import configure_syrupy

        configure_syrupy(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    from .run.state import RunState

    RunState.uninstall(config)
    usercode = sys.modules.get("pytest_cfgateway.usercode")
    if usercode is not None:
        usercode.set_output_filter(None)  # the filter scrubs with this run's secrets
    hooks = sys.modules.get("pytest_cfgateway.run.hooks")  # loaded only if a config was
    if hooks is not None:  # collected or xdist workers were started
        hooks.HookStore.remove_of(config)  # the controller's store of beforeAll results


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .run.state import RunState
    from .run.targets import is_config

    state = RunState.get(parent.config)
    if state is None or not is_config(parent.config, state.settings, file_path):
        return None
    from .run.items import ConfigFile

    state.spawn_http_process()  # a run that may call: its HTTP worker starts meanwhile
    return ConfigFile.from_parent(parent, path=file_path)


def pytest_cfgateway_register_providers(register: Any) -> None:
    from .gateway.adapters.registry import builtin_adapters

    for slug, adapter in builtin_adapters().items():
        register(slug, adapter)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    from .run.schedule import Prefetcher
    from .run.state import RunState

    state = RunState.get(session.config)
    prefetcher = None
    if state is not None and not session.config.option.collectonly:
        state.started_at = time.monotonic()
        from .run.prewarm import prewarm_user_code

        prewarm_user_code(session.items)
        prefetcher = Prefetcher.install(state)
        prefetcher.begin(session.items)
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if prefetcher.scheduled and tr is not None and session.config.get_verbosity() >= 0:
            tr.write_line(
                f"cfgateway: {prefetcher.scheduled} gateway calls started, up to "
                f"{state.settings.concurrency} in flight; items report as their answers arrive"
            )
    progress = None
    if state is not None and prefetcher is not None:
        from ._progress import Progress

        progress = Progress.start(session, state, prefetcher)
    interrupted = True
    try:
        result = yield
        interrupted = bool(session.shouldstop or session.shouldfail)
        return result
    finally:
        if progress is not None:
            progress.stop()
        if prefetcher is not None:
            prefetcher.finish(interrupted=interrupted)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    from .run.schedule import Prefetcher

    prefetcher = Prefetcher.of(item.config)
    if prefetcher is not None and prefetcher.looks_ahead:
        prefetcher.lookahead(item.session, item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "setup" and call.excinfo is not None:
        from .run.errors import CaseError

        if call.excinfo.errisinstance(CaseError):
            # a render error: pytest reports setup errors with a traceback (not through
            # repr_failure); the message names the file, key and fix, which is all that helps
            report.longrepr = str(call.excinfo.value)
    if call.when == "call" and call.excinfo is not None:
        from .run.errors import CaseError

        if call.excinfo.errisinstance(CaseError):
            # The case could not be judged (bad assertion config found at render time, a
            # gateway error): promptfoo calls that an ERROR, pytest shows it as E.
            report.when = "setup"
    if call.when == "call":
        if report.failed:
            # lets the cf_gateway fixture keep partial recordings of a failed test
            item._cf_call_failed = True  # type: ignore[attr-defined]
        if _feedback_on(item.config):
            from .run.feedback import after_test

            after_test(item, report)  # --cf-feedback for cf_gateway tests (verdict = outcome)
    _scrub(item.config, report)
    if getattr(item, "case", None) is not None or _holds_record(item):
        _attach_record()(item, call.when, report)
    return report


def _holds_record(item: pytest.Item) -> bool:
    """Whether a record is held for the test: only ``run.record.keep_record`` holds one,
    so none is while that module is not loaded (and it is not imported to find out)."""
    record = sys.modules.get("pytest_cfgateway.run.record")
    return record is not None and bool(record.has_record(item))


_ATTACH: list[Any] = []


def _attach_record() -> Any:
    """``run.outcome.attach_record``, imported on first use (not by suites without config
    items or cf_gateway tests), then kept (no import statement per report)."""
    if not _ATTACH:
        from .run.outcome import attach_record

        _ATTACH.append(attach_record)
    return _ATTACH[0]


@pytest.hookimpl(wrapper=True)
def pytest_report_to_serializable(config: pytest.Config, report: Any) -> Any:
    data = yield
    if isinstance(data, dict) and hasattr(config, "workerinput"):
        from .run.record import pack_serialized_report

        pack_serialized_report(data)  # cheaper for xdist's channel (a worker's reports only)
    return data


@pytest.hookimpl(tryfirst=True)
def pytest_report_from_serializable(config: pytest.Config, data: Any) -> None:
    if isinstance(data, dict) and "cfgateway_json" in data:
        from .run.record import unpack_serialized_report

        unpack_serialized_report(data)  # then pytest builds the report from it


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    _scrub(collector.config, report)
    return report


def _scrub(config: pytest.Config, report: Any) -> None:
    """No secret (nor a piece of one) in a report's traceback, locals or captured output."""
    if report.longrepr is None and not report.sections:
        return
    from .run.state import RunState

    state = RunState.get(config)
    if state is not None:
        from ._scrub import scrub_report

        scrub_report(report, state.report_secrets())


class _Records:
    """Keeps the result records of the reports this process sees (a plugin object, because
    ``pytest_runtest_logreport`` is not given the config)."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self._outcome
        if outcome is None:
            from .run import outcome

            self._outcome = outcome
        outcome.note_outcome(self._config, report)
        if getattr(report, "cfgateway", None) is not None:
            outcome.collect_record(self._config, report)

    #: ``run.outcome``, imported at the first report (then kept: no import per report)
    _outcome: Any = None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from .run.state import RunState

    state = RunState.get(config)
    if state is not None and state.records:  # no records, no summary (and no heavy import)
        from .run.outcome import summarise

        summarise(config, terminalreporter)
    feedback = _feedback_of(config)
    for line in feedback.summary_lines(config.get_verbosity() > 0) if feedback else []:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from .run.state import RunState

    if _feedback_on(session.config):  # waits for this process's PATCHes (workers: before
        from .run.outcome import finish_feedback

        finish_feedback(session.config)  # they report that they finished)
    state = RunState.get(session.config)
    if state is not None and state.records and not hasattr(session.config, "workerinput"):
        from .run.after_hooks import after_all

        after_all(session.config)  # promptfoo's afterAll extension hooks, once per run
    # --cf-output, or a config's outputPath (carried on the records)
    if state is not None and (state.settings.outputs or state.records):
        from .run.outcome import write_files

        write_files(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand each worker the run's ledger (budgets, claims, 429 pauses)."""
    from .run.state import RunState

    state = RunState.get(node.config)
    if state is not None:
        state.budget.hand_to(node.workerinput)
        from .run.hooks import HookStore

        HookStore.of(node.config).hand_to(node.workerinput)  # beforeAll once per run


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker's --cf-feedback outcome (sent in its workeroutput)."""
    feedback = _feedback_of(node.config)
    data = getattr(node, "workeroutput", {}).get("cfgateway_feedback")
    if feedback is not None and data is not None:
        feedback.merge_worker(data)


def _feedback_on(config: pytest.Config) -> bool:
    """--cf-feedback / cf_feedback, checked without importing the feature."""
    ini = config.getini("cf_feedback")
    return bool(config.option.cf_feedback) or ini is True or str(ini).lower() in ("1", "true")


def _feedback_of(config: pytest.Config) -> Any:
    if not _feedback_on(config):
        return None
    from .run.feedback import Feedback

    return Feedback.get(config)


# fixtures ------------------------------------------------------------------------------


@pytest.fixture
def cf_gateway(request: pytest.FixtureRequest, snapshot: Any) -> Iterator[BoundGateway]:
    """A `Gateway` bound to this test and ``--cf-mode``: calls are recorded/replayed per test
    (by request fingerprint and its nth occurrence) in the test's syrupy snapshot."""
    from .run.fixtures import gateway_for_test

    yield from gateway_for_test(request, snapshot)


@pytest.fixture
def cf_assert(request: pytest.FixtureRequest, cf_gateway: BoundGateway) -> Any:
    """``cf_assert(output, type, value=None, *, vars=None, prompt=None, **options)``: run any
    promptfoo assertion; raise AssertionError with the reason, or return the GradingResult
    with ``raise_on_fail=False``. Model-graded types go through ``cf_gateway``."""
    from .run.fixtures import make_cf_assert

    return make_cf_assert(request, cf_gateway)


@pytest.fixture(scope="session")
def cf_gateway_emulator() -> Iterator[Emulator]:
    """The gateway emulator on a free loopback port for the session: ``.url`` (a gateway base
    URL), ``.requests`` (what it saw) and its fault/latency/auth knobs."""
    from .emulator import Emulator

    emu = Emulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
