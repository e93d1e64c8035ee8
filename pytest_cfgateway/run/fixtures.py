"""The ``cf_gateway`` and ``cf_assert`` fixtures for ordinary pytest tests."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .binding import bind
from .record import CaseRecord, keep_record
from .settings import DEFAULT_EMBEDDING, DEFAULT_GRADER
from .state import RunState

if TYPE_CHECKING:
    from ..assertions.base import GradingResult
    from ..gateway.client import Gateway
    from ..gateway.types import Completion, Embeddings


class BoundGateway:
    """The `Gateway` a test gets: recorded/replayed per test, with the test's marker defaults.

    ``complete(provider, prompt, **options)`` as on `Gateway`; when the ``cf_gateway`` marker
    names a ``provider``, ``complete(prompt, **options)`` works too.
    """

    def __init__(self, gateway: Gateway, defaults: dict[str, Any]) -> None:
        self._gw = gateway
        self.grader_gateway = gateway
        self.moderation_gateway: Gateway | None = None  # the moderation assertion's calls
        self.classifier_gateway: Gateway | None = None  # the classifier assertion's calls
        self.webhook: Any = None  # the webhook assertion's recorded POST
        self._provider: str | None = defaults.pop("provider", None)
        self._defaults = defaults

    @property
    def gateway(self) -> Gateway:
        return self._gw

    def _args(
        self, args: tuple[Any, ...], options: dict[str, Any]
    ) -> tuple[str, Any, dict[str, Any]]:
        if len(args) == 2:
            provider, prompt = args
        elif len(args) == 1 and self._provider:
            provider, prompt = self._provider, args[0]
        elif len(args) == 1:
            raise TypeError(
                "cf_gateway.complete(provider, prompt): no provider given and the test has no "
                "@pytest.mark.cf_gateway(provider=...) default"
            )
        else:
            raise TypeError(
                f"cf_gateway.complete takes (provider, prompt), got {len(args)} arguments"
            )
        return provider, prompt, {**self._defaults, **options}

    def complete(self, *args: Any, **options: Any) -> Completion:
        provider, prompt, opts = self._args(args, options)
        return self._gw.complete(provider, prompt, **opts)

    async def acomplete(self, *args: Any, **options: Any) -> Completion:
        provider, prompt, opts = self._args(args, options)
        return await self._gw.acomplete(provider, prompt, **opts)

    def embed(self, provider: str, inputs: list[str] | str, **options: Any) -> Embeddings:
        return self._gw.embed(provider, inputs, **options)

    async def aembed(self, provider: str, inputs: list[str] | str, **options: Any) -> Embeddings:
        return await self._gw.aembed(provider, inputs, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gw, name)


def _marker_defaults(node: pytest.Item) -> dict[str, Any]:
    marker = node.get_closest_marker("cf_gateway")
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.cf_gateway takes keyword arguments only "
            "(provider=..., cache_ttl=..., metadata=..., model options)"
        )
    defaults = dict(marker.kwargs)
    if "cache_ttl" in defaults:
        defaults["cacheTtl"] = defaults.pop("cache_ttl")
    return defaults


def gateway_for_test(request: pytest.FixtureRequest, snapshot: Any) -> Iterator[BoundGateway]:
    from ..snapshots import CassetteError, assert_cassette

    runtime = _runtime(request)
    node = request.node
    try:
        binding = bind(runtime, node, snapshot, count_usage=True)
    except CassetteError as exc:  # an unreadable snapshot: the message names file and fix
        pytest.fail(runtime.secrets.scrub_text(str(exc)), pytrace=False)
    recorder = binding.recorder
    bound = BoundGateway(binding.gateway, _marker_defaults(node))
    bound.grader_gateway = binding.grader_gateway
    bound.moderation_gateway = binding.moderation_gateway
    bound.classifier_gateway = binding.classifier_gateway
    bound.webhook = binding.webhook
    yield bound
    failed = getattr(node, "_cf_call_failed", False)
    outcome = recorder.finish(completed=not failed)
    text = "\n".join(d.describe() for d in outcome.drift)
    if outcome.live_count or outcome.replayed_count:
        tally = binding.tally
        keep_record(
            node,
            CaseRecord(
                nodeid=node.nodeid,
                kind="fixture",
                config=node.nodeid.split("::", 1)[0],
                provider="cf_gateway",
                outcome="fixture",
                replayed=outcome.replayed_count,
                live=outcome.live_count,
                cache_hits=outcome.cache_hits,
                drift=len(outcome.drift),
                drift_report=runtime.secrets.scrub_text(text),
                prompt_tokens=tally.prompt_tokens,
                completion_tokens=tally.completion_tokens,
                total_tokens=tally.total_tokens,
                cost=tally.cost,
                spend=tally.spend,
                prefetched=tally.prefetched,
            ),
        )
    if outcome.cassette is not None:
        assert_cassette(snapshot, outcome.cassette)
    if outcome.drift and runtime.settings.drift_fail:
        pytest.fail(runtime.secrets.scrub_text(f"drift (--cf-drift fail):\n{text}"), pytrace=False)


def make_cf_assert(
    request: pytest.FixtureRequest, gw: BoundGateway
) -> Callable[..., GradingResult]:
    from ..assertions.base import AssertionContext, AssertionSkipped
    from ..assertions.engine import run_assertion
    from ..config.cases import AssertionSpec
    from ..gateway.types import Completion
    from .grader import GatewayGrader

    runtime = _runtime(request)
    node = request.node
    registry, _ = runtime.registries(Path(node.path), node.ihook)
    base_dir = Path(node.path).parent

    def cf_assert(
        output: str | Completion | Any,
        type: str,
        value: Any = None,
        *,
        vars: dict[str, Any] | None = None,
        prompt: str | None = None,
        raise_on_fail: bool = True,
        threshold: float | None = None,
        weight: float = 1.0,
        metric: str | None = None,
        provider: Any = None,
        rubricPrompt: Any = None,
        transform: str | None = None,
        config: dict[str, Any] | None = None,
        **options: Any,
    ) -> GradingResult:
        base = type[4:] if type.startswith("not-") else type
        if base not in registry.names():
            close = difflib.get_close_matches(base, sorted(registry.names()), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"cf_assert: unknown assertion type {type!r}.{hint}")
        spec = AssertionSpec(
            type=type,
            value=value,
            threshold=threshold,
            weight=weight,
            metric=metric,
            provider=provider,
            rubric_prompt=rubricPrompt,
            transform=transform,
            config={**(config or {}), **options},
            key_path=f"cf_assert({type!r})",
        )
        completion = output if isinstance(output, Completion) else None
        text = output.text if isinstance(output, Completion) else output
        grader_ref = runtime.settings.grader or DEFAULT_GRADER
        ctx = AssertionContext(
            vars=dict(vars or {}),
            prompt=prompt,
            completion=completion,
            provider_id=completion.provider if completion else None,
            base_dir=base_dir,
            grader=GatewayGrader(
                gw.grader_gateway,
                moderation_gateway=gw.moderation_gateway,
                classifier_gateway=gw.classifier_gateway,
            ),
            default_grader=grader_ref,
            default_embedding=DEFAULT_EMBEDDING,
            webhook=gw.webhook,
        )
        try:
            result = runtime.run(gw.gateway, run_assertion(text, spec, ctx, registry=registry))
        except AssertionSkipped as exc:
            pytest.skip(str(exc))
        if raise_on_fail and not result.passed:
            raise AssertionError(runtime.secrets.scrub_text(f"{type}: {result.reason}"))
        return result

    return cf_assert


def _runtime(request: pytest.FixtureRequest) -> RunState:
    runtime = RunState.get(request.config)
    assert runtime is not None
    return runtime
