"""The pytest11 entry point: options, hooks and fixtures, each delegating to the parts.

Every option of the plugin is in `_OPTIONS` / `_INI` below, so this is the one place to look.
Heavy imports (httpx, jinja2, syrupy extension, the gateway client) happen inside hooks that
only run when the plugin is used, so a suite that never uses it pays almost nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from .emulator import Emulator
    from .fixtures import BoundGateway

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
]


def pytest_addoption(parser: pytest.Parser) -> None:
    from . import _feedback

    group = parser.getgroup("cfgateway", "LLM evals through Cloudflare AI Gateway")
    for name, kwargs in _OPTIONS + _feedback.OPTIONS:
        group.addoption(name, dest=name[2:].replace("-", "_"), **kwargs)
    for name, help_, type_, default in _INI + _feedback.INI:
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
    from ._feedback import Feedback
    from ._runtime import Runtime

    Runtime.install(config)
    Feedback.install(config, Runtime.get(config))
    if config.pluginmanager.hasplugin("syrupy"):
        from .snapshots._options import configure_syrupy

        configure_syrupy(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    from ._runtime import Runtime

    Runtime.uninstall(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from ._runtime import Runtime

    runtime = Runtime.get(parent.config)
    if runtime is None or not runtime.wants(file_path):
        return None
    from .collect import ConfigFile

    return ConfigFile.from_parent(parent, path=file_path)


def pytest_cfgateway_register_providers(register: Any) -> None:
    from .gateway.adapters.registry import builtin_adapters

    for slug, adapter in builtin_adapters().items():
        register(slug, adapter)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    from ._runtime import Runtime

    runtime = Runtime.get(session.config)
    if runtime is not None and not session.config.option.collectonly:
        runtime.started_at = time.monotonic()
        if not runtime.prefetcher.on_xdist_worker():  # workers look ahead item by item
            runtime.prefetcher.start(session.items)
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if runtime.prefetcher.scheduled and tr is not None and session.config.get_verbosity() >= 0:
            tr.write_line(
                f"cfgateway: {runtime.prefetcher.scheduled} gateway calls started, up to "
                f"{runtime.settings.concurrency} in flight; items report as their answers arrive"
            )
    try:
        return (yield)
    finally:
        if runtime is not None:
            runtime.prefetcher.cancel()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    from ._runtime import Runtime

    runtime = Runtime.get(item.config)
    if runtime is not None and runtime.prefetcher.on_xdist_worker():
        runtime.prefetcher.lookahead(item.session, item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call" and call.excinfo is not None:
        from .runner import CaseError

        if call.excinfo.errisinstance(CaseError):
            # The case could not be judged (bad assertion config found at render time, a
            # gateway error): promptfoo calls that an ERROR, pytest shows it as E.
            report.when = "setup"
    if call.when == "setup" and not report.passed:
        from ._runtime import Runtime

        runtime = Runtime.get(item.config)
        if runtime is not None:
            runtime.note_setup_outcome(item, report)
    if call.when == "call" and report.failed:
        # lets the cf_gateway fixture keep partial recordings of a failed test
        item._cf_call_failed = True  # type: ignore[attr-defined]
    if call.when == "call":
        from ._feedback import after_test

        after_test(item, report)  # --cf-feedback for cf_gateway tests (verdict = outcome)
    _scrub(item.config, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    _scrub(collector.config, report)
    return report


def _scrub(config: pytest.Config, report: Any) -> None:
    """No secret (nor a piece of one) in a report's traceback, locals or captured output."""
    if report.longrepr is None and not report.sections:
        return
    from ._runtime import Runtime

    runtime = Runtime.get(config)
    if runtime is not None:
        from ._scrub import scrub_report

        scrub_report(report, runtime.report_secrets())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from ._runtime import Runtime

    runtime = Runtime.get(config)
    if runtime is not None:
        runtime.report(terminalreporter)
    from ._feedback import Feedback

    feedback = Feedback.get(config)
    for line in feedback.summary_lines(config.get_verbosity() > 0) if feedback else []:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from ._runtime import Runtime

    runtime = Runtime.get(session.config)
    if runtime is not None:
        from ._feedback import Feedback

        feedback = Feedback.get(session.config)
        if feedback is not None:  # waits for this process's PATCHes (workers: before finishing)
            feedback.finish(session.config, runtime.results)
        runtime.write_outputs(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker's --cf-feedback outcome (sent in its workeroutput)."""
    from ._feedback import WORKER_KEY, Feedback

    feedback = Feedback.get(node.config)
    data = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if feedback is not None and data is not None:
        feedback.merge_worker(data)


# fixtures ------------------------------------------------------------------------------


@pytest.fixture
def cf_gateway(request: pytest.FixtureRequest, snapshot: Any) -> Iterator[BoundGateway]:
    """A `Gateway` bound to this test and ``--cf-mode``: calls are recorded/replayed per test
    (by request fingerprint and its nth occurrence) in the test's syrupy snapshot."""
    from .fixtures import gateway_for_test

    yield from gateway_for_test(request, snapshot)


@pytest.fixture
def cf_assert(request: pytest.FixtureRequest, cf_gateway: BoundGateway) -> Any:
    """``cf_assert(output, type, value=None, *, vars=None, prompt=None, **options)``: run any
    promptfoo assertion; raise AssertionError with the reason, or return the GradingResult
    with ``raise_on_fail=False``. Model-graded types go through ``cf_gateway``."""
    from .fixtures import make_cf_assert

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
