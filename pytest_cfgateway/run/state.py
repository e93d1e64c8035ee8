"""What one pytest run holds, kept in ``config.stash`` (never in globals).

`RunState` owns: the resolved settings, the environment (process env over the env file), the
secrets to scrub, the per-directory registries of assertions and providers (built through the
plugin hooks, so a conftest.py applies below its directory), the gateway clients, the event
loop replay evaluates on, the session-wide budget, and (on the process that reports) the
result records that reached it. It holds no logic about items, scheduling or reporting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from ..modes import Mode
from .budget import Budget
from .settings import Settings, build_settings, effective_env, read_env_file

if TYPE_CHECKING:
    from ..assertions.registry import AssertionRegistry
    from ..gateway._wire import WireProcess
    from ..gateway.adapters.base import Adapter
    from ..gateway.client import Gateway
    from ..gateway.redact import Secrets
    from .record import CaseRecord

T = TypeVar("T")
_KEY = pytest.StashKey["RunState"]()


class RunState:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings: Settings = build_settings(config)
        file_values = read_env_file(self.settings.env_file) if self.settings.env_file else {}
        self.env_file_values = file_values
        self.env: dict[str, str] = effective_env(file_values)
        self._registries: dict[Path, tuple[AssertionRegistry, dict[str, Adapter]]] = {}
        self._registries_of_file: dict[Path, tuple[AssertionRegistry, dict[str, Adapter]]] = {}
        self._gateways: dict[int, Gateway] = {}
        self._secrets: Secrets | None = None
        self._report_secrets: tuple[tuple[int, ...], Secrets] | None = None
        self._lock = threading.Lock()
        self._loop: Any = None  # replay's in-thread event loop, made on first use
        self.budget = Budget.for_config(config, self.settings)
        #: the records that reached this process's reports (the controller's, under xdist)
        self.records: list[CaseRecord] = []
        #: pytest's verdict per node id, from the reports this process saw (fixture tests)
        self.test_outcomes: dict[str, str] = {}
        self.started_at = time.monotonic()
        #: the HTTP worker process spawned ahead, until a gateway adopts it (`schedule`)
        self._spare_wire: WireProcess | None = None
        self._wire_spawned = False

    # lifecycle -----------------------------------------------------------------------

    @classmethod
    def install(cls, config: pytest.Config) -> RunState:
        state = cls(config)
        config.stash[_KEY] = state
        return state

    @classmethod
    def uninstall(cls, config: pytest.Config) -> None:
        runtime = config.stash.get(_KEY, None)
        if runtime is not None:
            runtime.close()
            del config.stash[_KEY]

    @classmethod
    def get(cls, config: pytest.Config) -> RunState | None:
        return config.stash.get(_KEY, None)

    def spawn_http_process(self) -> None:
        """Start the HTTP worker process ahead of the run loop (once per run; not in replay
        or with ``--cf-http-process off``), so it is ready when the first call is scheduled:
        it starts on the other core while pytest collects."""
        s = self.settings
        if self._wire_spawned or s.mode is Mode.REPLAY or s.http_process == "off":
            return
        self._wire_spawned = True
        from ..gateway._wire import WireProcess

        self._spare_wire = WireProcess.spawn(s.concurrency)

    def take_http_process(self) -> WireProcess | None:
        """The worker spawned ahead, for a gateway to adopt (then it is the gateway's)."""
        wire, self._spare_wire = self._spare_wire, None
        return wire

    def drop_http_process(self) -> None:
        """End the worker spawned ahead when the run does not need it."""
        wire, self._spare_wire = self._spare_wire, None
        if wire is not None:
            wire.close_unattached()

    def close(self) -> None:
        self.drop_http_process()
        loop, self._loop = self._loop, None
        for gw in self._gateways.values():
            if loop is not None:
                loop.run_until_complete(gw.aclose())  # this loop's clients, then the background
            else:
                gw.close()
        self._gateways.clear()
        if loop is not None:
            loop.close()
        self.budget.close()

    def run(self, gw: Gateway, coro: Coroutine[Any, Any, T]) -> T:
        """Run a test's evaluation.

        Replay runs it on an event loop in this thread, which saves a thread hop per item.
        So do modes that call the network once the gateway's exchanges go through the HTTP
        worker process (`Gateway.http_offloaded`): the background loop then only hands
        frames over, and the hop was most of an item's wait (measured: 1,000 live cases,
        the item loop's wall 2.61 -> 2.35 s). Without the worker they run on the
        background loop, next to the scheduler's calls (evaluating on this thread while
        httpx ran on the other was measured 27% slower: two busy threads fight over the GIL).
        """
        if not self.runs_here(gw):
            return gw.run(coro)
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            loop: asyncio.AbstractEventLoop = self._loop
            # run_until_complete rather than asyncio.Runner.run: the latter installs a Ctrl-C
            # handler on every call, which costs more than the evaluation of a replayed item
            return loop.run_until_complete(coro)
        return gw.run(coro)  # called from inside a running loop (an async test)

    def runs_here(self, gw: Gateway) -> bool:
        """Whether `run` evaluates in this thread (see there) rather than on ``gw``'s
        background loop."""
        return self.settings.mode is Mode.REPLAY or gw.http_offloaded

    def elapsed_ms(self) -> float:
        """Milliseconds since the test run started (for evaluateOptions.maxEvalTimeMs)."""
        return (time.monotonic() - self.started_at) * 1000

    # secrets, registries, gateways ---------------------------------------------------

    @property
    def secrets(self) -> Secrets:
        if self._secrets is None:
            from ..gateway.redact import Secrets

            secrets = Secrets.from_env(self.env)
            # every value of the env file counts as a secret, whatever its name
            secrets.update({k: v for k, v in self.env_file_values.items()})
            from ..gateway.redact import url_secrets

            for where, url in (("--cf-gateway-url", self.settings.gateway_url),
                               ("CF_GATEWAY_URL", self.env.get("CF_GATEWAY_URL"))):  # fmt: skip
                secrets.update(url_secrets(url or "", where))
            self._secrets = secrets
        return self._secrets

    def report_secrets(self) -> Secrets:
        """Every secret known to the session and its gateways (the failure-report scrub)."""
        gateways = list(self._gateways.values())
        key = (len(self.secrets), *(len(gw.secrets) for gw in gateways))
        cached = self._report_secrets
        if cached is None or cached[0] != key:
            merged = self.secrets
            for gw in gateways:
                merged = merged.merged(gw.secrets)
            cached = self._report_secrets = (key, merged)
        return cached[1]

    def scrub_output(self, text: str) -> str:
        """``text`` (what user code printed) without the session's secrets."""
        return self.report_secrets().scrub_text(text)

    def bind_usercode_output(self) -> None:
        """Scrub what user code prints from now on (it may run outside pytest's capture)."""
        from ..usercode import set_output_filter

        set_output_filter(self.scrub_output)

    def gateway_clients(self) -> list[Gateway]:
        """The gateway clients made so far (for the progress line's retry count)."""
        return list(self._gateways.values())

    def registries(self, path: Path, ihook: Any) -> tuple[AssertionRegistry, dict[str, Adapter]]:
        """Assertion and provider registries as seen from ``path``'s directory.

        ``ihook`` is the node's hook proxy (``node.ihook``), so the conftest.py files above
        ``path`` take part and those elsewhere do not. Built-in assertions come from the
        registry itself; built-in providers register through the hook like any plugin's.
        """
        cached = self._registries_of_file.get(path)
        if cached is not None:  # (a dict hit on the item's own path: no Path.parent per call)
            return cached
        key = path.parent
        cached = self._registries.get(key)
        if cached is not None:
            self._registries_of_file[path] = cached
            return cached
        from ..assertions.registry import AssertionRegistry

        assertions = AssertionRegistry.with_builtins()
        ihook.pytest_cfgateway_register_assertions(register=assertions.register)
        adapters: dict[str, Adapter] = {}
        ihook.pytest_cfgateway_register_providers(register=_adapter_register(adapters))
        self._registries[key] = self._registries_of_file[path] = (assertions, adapters)
        return assertions, adapters

    def gateway(self, adapters: Mapping[str, Adapter]) -> Gateway:
        gw = self._gateways.get(id(adapters))
        if gw is None:
            from ..gateway.client import Gateway

            s = self.settings
            env = self.env
            kwargs: dict[str, Any] = dict(
                account_id=env.get("CLOUDFLARE_ACCOUNT_ID") or None,
                gateway_id=env.get("CLOUDFLARE_GATEWAY_ID") or None,
                token=env.get("CF_AIG_TOKEN") or None,
                base_url=s.gateway_url or env.get("CF_GATEWAY_URL") or None,
                env=env,
                adapters=dict(adapters),
                timeout=s.timeout,
                max_retries=s.max_retries,
                cache_ttl=s.cache_ttl,
                skip_cache=s.mode.skips_cache,
                secrets=self.secrets,
                concurrency=s.concurrency,
                # the run's places in flight and 429 pauses (through the budget, whose
                # ledger moves to a file when xdist workers start)
                pacer=self.budget if self.budget.ledger is not None else None,
            )
            if s.mode is Mode.REPLAY:
                # a factory: made (and httpx imported) only if something tries a call
                kwargs["transport_factory"] = _closed_transport
            gw = Gateway(**kwargs)
            self._gateways[id(adapters)] = gw
        return gw


def _adapter_register(target: dict[str, Any]) -> Callable[[str, Any], None]:
    def register(slug: str, adapter: Any) -> None:
        if not isinstance(slug, str) or not slug or "/" in slug or ":" in slug:
            raise ValueError(
                f"pytest_cfgateway_register_providers: invalid slug {slug!r}; use the gateway "
                "provider name, e.g. 'deepseek' or 'custom-mine'"
            )
        for method in ("route", "body", "parse"):
            if not callable(getattr(adapter, method, None)):
                raise TypeError(
                    f"pytest_cfgateway_register_providers: adapter for {slug!r} has no "
                    f"{method}() method; subclass pytest_cfgateway.adapters.Adapter"
                )
        existing = target.get(slug)
        if existing is adapter:
            return  # the same adapter again: a no-op
        if existing is not None:
            raise ValueError(
                f"pytest_cfgateway_register_providers: provider {slug!r} is registered twice "
                f"({type(existing).__name__} and {type(adapter).__name__}); pick another slug"
            )
        target[slug] = adapter

    return register


def _closed_transport() -> Any:
    """In replay mode the plugin's own client cannot reach the network at all."""
    import httpx

    from ..gateway.errors import NotRecordedError

    def refuse(request: httpx.Request) -> httpx.Response:
        raise NotRecordedError(
            f"replay mode: refusing a network call to {request.method} {request.url.path} "
            "(run with --cf-mode record to record it)"
        )

    return httpx.MockTransport(refuse)
