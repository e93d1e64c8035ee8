"""Session state of the plugin, kept in ``config.stash`` (never in globals).

The runtime owns: resolved settings, the environment (process env over the env file), the
secrets to scrub, the per-directory registries of assertions and providers (built through the
plugin hooks, so a conftest.py applies below its directory), the gateway clients, and the
results that reporting reads.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from ._settings import Settings, build_settings, effective_env, read_env_file
from .modes import Mode

if TYPE_CHECKING:
    from .assertions.registry import AssertionRegistry
    from .gateway.adapters.base import Adapter
    from .gateway.client import Gateway
    from .gateway.redact import Secrets

T = TypeVar("T")
_KEY = pytest.StashKey["Runtime"]()
CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml")


@dataclasses.dataclass
class CaseResult:
    """One finished item, as the summary and the outputs see it."""

    nodeid: str
    config: str
    provider: str
    prompt: str
    outcome: str  # passed | failed | error | skipped
    score: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    latency_ms: float | None = None
    cache_hits: int = 0
    replayed: int = 0
    live: int = 0
    drift: int = 0
    output: str = ""
    reason: str = ""
    vars: dict[str, Any] = dataclasses.field(default_factory=dict)
    provider_id: str = ""
    prompt_raw: str = ""
    description: str = ""
    grading: Any = None  # the GradingResult (converted to promptfoo's shape when written)
    rate_limited: bool = False  # the error was a 429 that outlived the retries
    #: gateway log entries annotated by --cf-feedback: {logId, call, status}
    feedback: list[dict[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Binding:
    recorder: Any
    gateway: Gateway
    grader_gateway: Gateway
    #: calls made for the other items of a select-best/max-score row
    row_gateway: Gateway
    #: the webhook assertion's POSTs, recorded with the item (`_grader.RecordedWebhook`)
    webhook: Any = None


class Runtime:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings: Settings = build_settings(config)
        file_values = read_env_file(self.settings.env_file) if self.settings.env_file else {}
        self.env_file_values = file_values
        self.env: dict[str, str] = effective_env(file_values)
        self._explicit: set[Path] = set()
        self._collected: set[Path] = set()
        self._registries: dict[Path, tuple[AssertionRegistry, dict[str, Adapter]]] = {}
        self._gateways: dict[int, Gateway] = {}
        self._secrets: Secrets | None = None
        self._report_secrets: tuple[tuple[int, ...], Secrets] | None = None
        self.results: list[CaseResult] = []
        self.spent_usd = 0.0
        self.drift_reports: list[tuple[str, str]] = []
        self._spend_lock = threading.Lock()
        self._loop: Any = None  # replay's in-thread event loop, made on first use
        self.budget_skips = 0
        self.started_at = time.monotonic()
        from .scheduler import Prefetcher

        self.prefetcher = Prefetcher(self)

    # lifecycle -----------------------------------------------------------------------

    @classmethod
    def install(cls, config: pytest.Config) -> None:
        runtime = cls(config)
        config.stash[_KEY] = runtime
        runtime._add_configs_to_args()

    @classmethod
    def uninstall(cls, config: pytest.Config) -> None:
        runtime = config.stash.get(_KEY, None)
        if runtime is not None:
            runtime.close()
            del config.stash[_KEY]

    @classmethod
    def get(cls, config: pytest.Config) -> Runtime | None:
        return config.stash.get(_KEY, None)

    def close(self) -> None:
        self.prefetcher.cancel()
        loop, self._loop = self._loop, None
        for gw in self._gateways.values():
            if loop is not None:
                loop.run_until_complete(gw.aclose())  # this loop's clients, then the background
            else:
                gw.close()
        self._gateways.clear()
        if loop is not None:
            loop.close()

    def run(self, gw: Gateway, coro: Coroutine[Any, Any, T]) -> T:
        """Run a test's evaluation.

        Modes that may call the network run it on the gateway's background loop, next to the
        scheduler's calls (measured: evaluating on this thread instead, with the calls on the
        other, made 1,000 live cases 27% slower, as two busy threads fight over the GIL).
        Replay runs it on an event loop in this thread, which saves a thread hop per item.
        """
        if self.settings.mode is not Mode.REPLAY:
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

    def elapsed_ms(self) -> float:
        """Milliseconds since the test run started (for evaluateOptions.maxEvalTimeMs)."""
        return (time.monotonic() - self.started_at) * 1000

    # spending ------------------------------------------------------------------------

    def check_budget(self) -> None:
        """Refuse a new live call once the estimated spend has passed --cf-max-cost."""
        limit = self.settings.max_cost
        if limit is not None and self.spent_usd >= limit:
            from .gateway.errors import BudgetExceededError

            raise BudgetExceededError(
                f"--cf-max-cost {limit:g}: the estimated spend is ${self.spent_usd:.4f}, so no "
                "new live calls are made; raise the budget or record fewer cases"
            )

    def add_spend(self, finish: Callable[[Any, Any], Any], req: Any, raw: Any) -> None:
        """Count a live reply's estimated cost (``finish`` parses it, as Gateway.finish)."""
        if not 200 <= raw.status < 300 or getattr(raw, "replayed", False):
            return
        from .gateway.errors import GatewayError

        try:
            cost = finish(req, raw).cost
        except GatewayError:
            return  # a malformed reply: the test that gets it reports the error itself
        if cost:
            with self._spend_lock:
                self.spent_usd += cost

    def _add_configs_to_args(self) -> None:
        """Explicit configs become collection arguments, so pytest visits them even outside
        the directories it was asked to collect (``-k``, ``--lf`` and node ids then work)."""
        configs = list(self.settings.configs)
        args_source = getattr(self.config, "args_source", None)
        if args_source == pytest.Config.ArgsSource.ARGS:
            # The user named what to run; ini cf_config is like testpaths: only a default.
            configs = [Path(p) for p in self.config.option.cf_config or []]
        base = Path(self.config.invocation_params.dir)
        for arg in self.config.args:
            # a promptfooconfig.yaml named on the command line (or a node id in it) is
            # collected even without --cf-config, so `pytest promptfooconfig.yaml::case` works
            named = base / arg.split("::", 1)[0]
            if named.name in CONFIG_NAMES and named.is_file():
                self._explicit.add(named.resolve())
        for path in configs:
            resolved = (base / path).resolve()
            if not resolved.is_file():
                raise pytest.UsageError(f"--cf-config / cf_config: no such file: {path}")
            self._explicit.add(resolved)
            arg = str(resolved)
            if not any(Path(a.split("::")[0]).resolve() == resolved for a in self.config.args):
                self.config.args.append(arg)

    def wants(self, path: Path) -> bool:
        """Is this file a promptfoo config to collect (once)?"""
        if path.suffix not in (".yaml", ".yml"):
            return False
        resolved = path.resolve()
        if resolved in self._collected:
            return False
        if resolved in self._explicit or (self.settings.autocollect and path.name in CONFIG_NAMES):
            self._collected.add(resolved)
            return True
        return False

    def note_setup_outcome(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Config items that never reached the call phase (render errors, skipped providers)
        still count in the summary and in --cf-output, as promptfoo counts error rows."""
        case = getattr(item, "case", None)
        if case is None:
            return
        reason = report.longreprtext if report.failed else str(getattr(report, "longrepr", ""))
        self.results.append(
            CaseResult(
                nodeid=item.nodeid,
                config=item.nodeid.split("::", 1)[0],
                provider=case.provider.label,
                prompt=case.prompt.label,
                outcome="error" if report.failed else "skipped",
                reason=self.secrets.scrub_text(reason),
                vars=dict(case.vars),
                provider_id=case.provider.id,
                prompt_raw=case.prompt.raw,
                description=case.description,
            )
        )

    # secrets, registries, gateways ---------------------------------------------------

    @property
    def secrets(self) -> Secrets:
        if self._secrets is None:
            from .gateway.redact import Secrets

            secrets = Secrets.from_env(self.env)
            # every value of the env file counts as a secret, whatever its name
            secrets.update({k: v for k, v in self.env_file_values.items()})
            from .gateway.redact import url_secrets

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

    def registries(self, path: Path, ihook: Any) -> tuple[AssertionRegistry, dict[str, Adapter]]:
        """Assertion and provider registries as seen from ``path``'s directory.

        ``ihook`` is the node's hook proxy (``node.ihook``), so the conftest.py files above
        ``path`` take part and those elsewhere do not. Built-in assertions come from the
        registry itself; built-in providers register through the hook like any plugin's.
        """
        key = path.parent
        cached = self._registries.get(key)
        if cached is not None:
            return cached
        from .assertions.registry import AssertionRegistry

        assertions = AssertionRegistry.with_builtins()
        ihook.pytest_cfgateway_register_assertions(register=assertions.register)
        adapters: dict[str, Adapter] = {}
        ihook.pytest_cfgateway_register_providers(register=_adapter_register(adapters))
        self._registries[key] = (assertions, adapters)
        return assertions, adapters

    def gateway(self, adapters: Mapping[str, Adapter]) -> Gateway:
        gw = self._gateways.get(id(adapters))
        if gw is None:
            from .gateway.client import Gateway

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
            )
            if s.mode is Mode.REPLAY:
                kwargs["transport"] = _closed_transport()
            gw = Gateway(**kwargs)
            self._gateways[id(adapters)] = gw
        return gw

    def bind(self, node: pytest.Item, snapshot: Any) -> Binding:
        """The recorder and gateways of one test (config item or ``cf_gateway`` test)."""
        from ._grader import RecordedWebhook
        from .snapshots import Recorder, load_recorded
        from .snapshots.summary import Summary

        _, adapters = self.registries(Path(node.path), node.ihook)
        base = self.gateway(adapters)

        finished: dict[int, Any] = {}  # id(raw) -> Completion: parse each reply once here

        def finish(req: Any, raw: Any) -> Any:
            done = finished.get(id(raw))
            if done is None:
                done = finished[id(raw)] = base.finish(req, raw)
            return done

        def describe(req: Any, raw: Any) -> Summary:
            if not 200 <= raw.status < 300 or req.adapter not in base.adapters:
                return Summary()  # an error, or not a model call (a webhook verdict)
            done = finish(req, raw)
            finished.pop(id(raw), None)
            text = getattr(done, "text", None)
            usage = done.usage
            return Summary(
                text=text,
                usage={
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                },
                cost=done.cost,
            )

        prefetcher = self.prefetcher
        nodeid = node.nodeid

        from ._feedback import note_call

        async def send_or_take(req: Any, send: Any, kind: str | None) -> Any:
            """The network leg of this test's recorder: a call the scheduler already started
            for this item, else a new call (within the cost budget)."""
            future = prefetcher.take(nodeid, base.fingerprint(req))
            if future is not None:
                import asyncio

                raw = await asyncio.wrap_future(future)
            else:
                self.check_budget()
                raw = await send(req)
            self.add_spend(finish, req, raw)
            note_call(node, base, req, raw, kind)  # its log id, for --cf-feedback
            return raw

        recorder = Recorder(
            mode=self.settings.mode.value,
            recorded=load_recorded(snapshot),
            secrets=self.secrets,
            nodeid=node.nodeid,
            record_hint=record_command(node),
            describe=describe,
        )

        def through(kind: str | None) -> Any:
            resolve = recorder.resolver(kind) if kind else recorder.resolve

            async def resolver(req: Any, send: Any) -> Any:
                return await resolve(req, lambda r: send_or_take(r, send, kind))

            return base.with_resolver(resolver)

        return Binding(
            recorder=recorder,
            gateway=through(None),
            grader_gateway=through("grader"),
            row_gateway=through("row"),
            webhook=RecordedWebhook(recorder.resolver("webhook")),
        )

    # reporting -----------------------------------------------------------------------

    def report(self, tr: Any) -> None:
        if not self.results:
            return
        from .reporting import write_summary

        write_summary(tr, self)

    def write_outputs(self, session: pytest.Session) -> None:
        if not self.settings.outputs:
            return
        from .reporting import write_outputs

        write_outputs(self, self.settings.outputs)


def record_command(node: pytest.Item) -> str:
    """The command that records one test (config items name their config, so the command
    works whatever the config file is called)."""
    case = getattr(node, "case", None)
    if case is None:
        return f"pytest --cf-mode record '{node.nodeid}'"
    config = node.nodeid.split("::", 1)[0]
    return f"pytest --cf-mode record --cf-config {config} '{node.nodeid}'"


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

    from .gateway.errors import NotRecordedError

    def refuse(request: httpx.Request) -> httpx.Response:
        raise NotRecordedError(
            f"replay mode: refusing a network call to {request.method} {request.url.path} "
            "(run with --cf-mode record to record it)"
        )

    return httpx.MockTransport(refuse)


def group_results(results: list[CaseResult]) -> dict[tuple[str, str, str], list[CaseResult]]:
    groups: dict[tuple[str, str, str], list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[(r.config, r.provider, r.prompt)].append(r)
    return groups
