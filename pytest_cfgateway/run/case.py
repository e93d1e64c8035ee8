"""Runs one config item's call phase: call or replay (through the snapshot recorder), grade,
make its result record, and turn the verdict into a pytest outcome. (The setup phase renders
the prompt: ``render.py``.)"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ..modes import Mode
from .binding import Binding, bind
from .errors import CaseError, CaseFailed, CaseTimeout
from .record import CaseRecord, assertion_records, keep_record
from .render import Prepared, case_timeout_s, registers_of, render_case, take_prepared
from .settings import DEFAULT_EMBEDDING, DEFAULT_GRADER
from .state import RunState

if TYPE_CHECKING:
    from ..config.cases import EvalCase


class _Deps:
    """The lazily imported names of the call phase, imported once (an ``import`` statement
    in a function costs a module lookup each time it runs: ~1 us each, a dozen per item)."""

    def __init__(self) -> None:
        from ..assertions.base import AssertionConfigError, AssertionContext, AssertionSkipped
        from ..assertions.engine import run_assertions
        from ..assertions.registry import COMPARISON_TYPES
        from ..assertions.report import format_failure
        from ..gateway.errors import (
            BudgetExceededError,
            GatewayError,
            GatewayRateLimitError,
            NotRecordedError,
        )
        from ..gateway.http import BackgroundLoopDied
        from ..snapshots import CassetteError, assert_cassette
        from ..usercode import UserCodeAborted
        from .feedback import after_case
        from .grader import GatewayGrader

        self.AssertionContext = AssertionContext
        self.run_assertions = run_assertions
        self.GatewayGrader = GatewayGrader
        self.AssertionConfigError = AssertionConfigError
        self.AssertionSkipped = AssertionSkipped
        self.COMPARISON_TYPES = COMPARISON_TYPES
        self.format_failure = format_failure
        self.BudgetExceededError = BudgetExceededError
        self.GatewayError = GatewayError
        self.GatewayRateLimitError = GatewayRateLimitError
        self.NotRecordedError = NotRecordedError
        self.BackgroundLoopDied = BackgroundLoopDied
        self.CassetteError = CassetteError
        self.assert_cassette = assert_cassette
        self.UserCodeAborted = UserCodeAborted
        self.after_case = after_case


_deps: _Deps | None = None


def _d() -> _Deps:
    global _deps
    if _deps is None:
        _deps = _Deps()
    return _deps


def run_case(item: Any, snapshot: Any) -> None:
    """Call phase."""
    deps = _deps or _d()
    AssertionConfigError = deps.AssertionConfigError
    AssertionSkipped = deps.AssertionSkipped
    BudgetExceededError = deps.BudgetExceededError
    GatewayError = deps.GatewayError
    GatewayRateLimitError = deps.GatewayRateLimitError
    NotRecordedError = deps.NotRecordedError
    BackgroundLoopDied = deps.BackgroundLoopDied
    UserCodeAborted = deps.UserCodeAborted
    assert_cassette = deps.assert_cassette

    runtime = _runtime(item)
    case = item.case
    prepared = take_prepared(item)
    registry, _ = runtime.registries(item.path, item.ihook)
    settings = runtime.settings
    try:
        binding = bind(runtime, item, snapshot)
    except deps.CassetteError as exc:
        raise CaseError(runtime.secrets.scrub_text(str(exc))) from None
    gw = binding.gateway
    result = new_record(item, vars=prepared.vars, prompt_raw=prepared.prompt_text)

    evaluator = _Evaluator(binding, registry, settings.grader)

    async def evaluate() -> tuple[Any, Any, Any]:
        completion, output, grading = await evaluator.case(case, prepared)
        comparisons = [a for a in case.asserts if a.type in deps.COMPARISON_TYPES]
        if comparisons:
            grading = await evaluator.row(
                case, output, grading, comparisons, item.row_cases, runtime.env
            )
        return completion, output, grading

    evaluate_options = case.evaluate_options or {}
    timeout_ms = evaluate_options.get("timeoutMs") or 0
    max_eval_ms = evaluate_options.get("maxEvalTimeMs") or 0
    if max_eval_ms and runtime.elapsed_ms() > max_eval_ms:
        result.outcome = "skipped"
        result.reason = (
            f"evaluateOptions.maxEvalTimeMs = {max_eval_ms} ms has passed "
            f"({runtime.elapsed_ms():.0f} ms since the run started)"
        )
        keep_record(item, result)
        pytest.skip(
            f"evaluateOptions.maxEvalTimeMs = {max_eval_ms} ms has passed "
            f"({runtime.elapsed_ms():.0f} ms since the run started)"
        )

    async def evaluate_within_timeout() -> tuple[Any, Any, Any]:
        if not timeout_ms:
            return await evaluate()
        import asyncio

        from ..usercode import running

        with running() as unfinished:
            try:
                return await asyncio.wait_for(evaluate(), timeout_ms / 1000)
            except TimeoutError:
                what = f" (user code that did not finish: {'; '.join(unfinished)})"
                raise CaseTimeout(
                    f"the case did not finish within evaluateOptions.timeoutMs = {timeout_ms} "
                    f"ms{what if unfinished else ''}"
                ) from None

    try:
        completion, output, grading = _evaluate(
            runtime,
            gw,
            evaluate_within_timeout(),
            # (not with a time limit: on Python 3.12+ asyncio.wait_for needs a current task,
            # which only the loop has)
            sync_first=not timeout_ms and not registry.custom_names(),
        )
    except (CaseTimeout, UserCodeAborted, BackgroundLoopDied) as exc:
        # user code that timed out, exited or took its worker down: an error naming it; the
        # exchanges recorded so far are kept
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(str(exc))
        _finish(runtime, item, result, binding, snapshot, assert_cassette, completed=False)
        raise CaseError(result.reason) from None
    except AssertionSkipped as exc:
        result.outcome = "skipped"
        result.reason = runtime.secrets.scrub_text(str(exc))
        _finish(runtime, item, result, binding, snapshot, assert_cassette, completed=False)
        pytest.skip(runtime.secrets.scrub_text(str(exc)))
    except AssertionConfigError as exc:
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(f"assertion config: {exc}")
        _finish(runtime, item, result, binding, snapshot, assert_cassette, completed=False)
        raise CaseError(runtime.secrets.scrub_text(f"assertion config: {exc}")) from None
    except BudgetExceededError as exc:
        result.outcome = "skipped"
        result.budget_skipped = True
        result.reason = runtime.secrets.scrub_text(str(exc))
        _finish(runtime, item, result, binding, snapshot, assert_cassette, completed=False)
        pytest.skip(runtime.secrets.scrub_text(str(exc)))
    except NotRecordedError as exc:
        # no answer to judge: an error row (promptfoo's failureReason 2), not a failed one
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(str(exc))
        _finish(runtime, item, result, binding, snapshot, assert_cassette, completed=False)
        raise CaseError(result.reason) from None
    except GatewayError as exc:
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(str(exc))
        result.rate_limited = isinstance(exc, GatewayRateLimitError)
        _finish(runtime, item, result, binding, snapshot, assert_cassette, completed=False)
        raise CaseError(f"{case.provider.label}: {result.reason}") from None

    result.output = output if isinstance(output, str) else _json_text(output)
    stored_as = (case.options or {}).get("storeOutputAs")
    registers = registers_of(item)
    if stored_as and output and registers is not None:
        registers[str(stored_as)] = output
    result.score = grading.score
    result.reason = runtime.secrets.scrub_text(grading.reason or "")
    result.grading = plain_grading(grading)
    result.assertions = assertion_records(grading)
    if completion is not None:
        result.prompt_tokens = completion.usage.prompt_tokens
        result.completion_tokens = completion.usage.completion_tokens
        result.total_tokens = completion.usage.total_tokens
        result.cost = completion.cost
        result.latency_ms = completion.latency_ms
    drift = _finish(runtime, item, result, binding, snapshot, assert_cassette)

    problems = []
    if not grading.passed:
        problems.append(
            deps.format_failure(
                grading,
                output=result.output,
                provider=case.provider.label,
                prompt_label=case.prompt.label,
                vars=prepared.vars,
                verbose=item.config.get_verbosity() >= 2,
            )
        )
    if drift and settings.drift_fail:
        problems.append(drift)
    result.outcome = "failed" if problems else "passed"
    deps.after_case(item, result, gw)  # --cf-feedback: annotate its log entries, in the background
    if problems:
        raise CaseFailed(runtime.secrets.scrub_text("\n\n".join(problems)))


_LOOP = pytest.StashKey["asyncio.AbstractEventLoop"]()


def _evaluate(runtime: RunState, gw: Any, coro: Any, *, sync_first: bool) -> Any:
    """``runtime.run(gw, coro)``: a test's evaluation, on the run's event loop.

    In replay, with ``sync_first`` (every assertion type of the item is built in), the
    evaluation is first stepped right here: a replayed call and the usual assertions
    never wait, so the coroutine finishes in that one step without an event-loop round trip
    (which costs more than a simple assertion). It runs in a copy of the context, with the
    run's loop set as the running loop (futures, ``call_later``, user-code workers work as
    on the loop); if it does wait for something, the rest of it runs on that loop as before,
    in the same context. (Not for custom assertion types: third-party async code may look
    for the current task, which exists only on the loop.)"""
    if (
        not sync_first
        or runtime.settings.mode is not Mode.REPLAY
        or asyncio._get_running_loop() is not None
    ):
        return runtime.run(gw, coro)
    loop = runtime.config.stash.get(_LOOP, None)
    if loop is None or loop.is_closed():
        loop = runtime.config.stash[_LOOP] = runtime.run(gw, _running_loop())
    context = contextvars.copy_context()
    asyncio._set_running_loop(loop)
    try:
        waiting_for = context.run(coro.send, None)
    except StopIteration as done:
        return done.value
    finally:
        asyncio._set_running_loop(None)
    return runtime.run(gw, _rest_on_loop(_Resumed(coro, context, waiting_for)))


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class _Resumed:
    """The rest of a coroutine stepped once outside the loop (`_evaluate`): awaited on the
    loop, it passes what the coroutine waits for up to the task and each wake-up (or
    thrown exception, such as a cancellation) back down, in the coroutine's context."""

    def __init__(self, coro: Any, context: contextvars.Context, waiting_for: Any) -> None:
        self.coro = coro
        self.context = context
        self.waiting_for = waiting_for

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, run = self.coro, self.context.run
        waiting_for = self.waiting_for
        while True:
            try:
                value = yield waiting_for
            except BaseException as exc:  # thrown in by the task: into the coroutine
                try:
                    waiting_for = run(coro.throw, exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_for = run(coro.send, value)
                except StopIteration as done:
                    return done.value


async def _rest_on_loop(resumed: _Resumed) -> Any:
    return await resumed


def _json_text(output: Any) -> str:
    """An object output (tool calls, a providerOutput mapping) as promptfoo shows it: JSON."""
    import json

    try:
        return json.dumps(output, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(output)


async def _echo(text: str, delay_ms: int) -> Any:
    """promptfoo's echo provider: the rendered prompt, locally, never recorded. Like
    promptfoo's, it waits the provider's ``delay`` (ms) first, and reports the time taken as
    its latency (so ``latency`` assertions work on echo)."""
    import asyncio
    import time

    from ..gateway.types import Completion, Usage

    started = time.perf_counter()
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
    completion = Completion(
        text=text, raw=None, usage=Usage(), provider="echo", model="echo", cost=0.0
    )
    completion.latency_ms = round((time.perf_counter() - started) * 1000)
    return completion


class _Evaluator:
    """Calls and grades cases through one test's recorder-bound gateways."""

    def __init__(self, binding: Binding, registry: Any, cli_grader: str | None) -> None:
        self.binding = binding
        self.registry = registry
        self.cli_grader = cli_grader

    def context(self, case: EvalCase, prepared: Prepared, completion: Any, row: bool) -> Any:
        """The assertion context of ``case``; ``row``: a select-best row sibling's (its
        grader calls stay with the row's calls), else the item's own."""
        AssertionContext = (_deps or _d()).AssertionContext
        grader_ref = case.options.get("provider") or self.cli_grader or DEFAULT_GRADER
        return AssertionContext(
            vars=prepared.vars,
            prompt=prepared.prompt_text,
            completion=completion,
            provider_id=case.provider.id,
            provider_config=dict(case.provider.config),
            test={"options": case.options, "metadata": case.metadata, "vars": prepared.vars},
            base_dir=case.base_dir,
            grader=_LazyGrader(self.binding, case.repeat_index, row),
            default_grader=grader_ref,
            default_embedding=DEFAULT_EMBEDDING,
            metadata=case.metadata,
            webhook=_LazyWebhook(self.binding),
            timeout_s=case_timeout_s(case),
        )

    async def call(self, case: EvalCase, prepared: Prepared, gw: Any) -> tuple[Any, Any]:
        """The case's output: providerOutput, echo, or a gateway call (recorded/replayed)."""
        if case.provider_output is not None:
            return None, case.provider_output
        if case.provider.route == "echo":
            completion = await _echo(prepared.prompt_text, case.provider.delay_ms)
            output = prepared.prompt_text
        else:
            req = prepared.request  # the scheduler's, from this very render and case
            if req is None:
                options = {**case.provider.config, **case.prompt.config}
                req = gw.prepare(
                    case.provider.gateway_id,
                    prepared.messages,
                    repeat=case.repeat_index,
                    **options,
                )
            completion = await gw.aexecute(req)
            output = completion.text
        if case.provider.transform:
            output = await _provider_transform(case, prepared, output)
        return completion, output

    async def case(
        self, case: EvalCase, prepared: Prepared, *, sibling: bool = False
    ) -> tuple[Any, Any, Any]:
        run_assertions = (_deps or _d()).run_assertions
        b = self.binding
        call_gw = b.row_gateway if sibling else b.gateway
        completion, output = await self.call(case, prepared, call_gw)
        grading = await run_assertions(
            output,
            case.asserts,
            self.context(case, prepared, completion, sibling),
            registry=self.registry,
            threshold=case.threshold,
            transform=case.options.get("transform"),
        )
        if case.options.get("assertScoringFunction"):
            from ..assertions.scoring_function import apply_scoring_function

            grading = await apply_scoring_function(
                grading,
                case.options["assertScoringFunction"],
                threshold=case.threshold,
                timeout_ms=(case.evaluate_options or {}).get("timeoutMs"),
            )
        return completion, output, grading

    async def row(
        self,
        case: EvalCase,
        output: Any,
        grading: Any,
        comparisons: list[Any],
        row_cases: list[EvalCase],
        env: Mapping[str, str],
    ) -> Any:
        """select-best / max-score: obtain every output of the row, grade, fold in.

        The other items' calls go through *this* item's recorder (kind "row"), so the row
        replays from this item's own snapshot whatever subset of the row is selected and on
        whichever xdist worker it runs.
        """
        from ..assertions.compare import grade_row, merge_row_results

        outputs: dict[str, Any] = {}
        results: dict[str, Any] = {}
        for other in row_cases:
            if other.provider.route == "unsupported":
                continue
            if other.name == case.name:
                outputs[case.name], results[case.name] = output, grading
                continue
            _c, other_out, other_grading = await self.case(
                other, render_case(other, env), sibling=True
            )
            outputs[other.name], results[other.name] = other_out, other_grading
        prepared = render_case(case, env)
        ctx = self.context(case, prepared, None, False)
        verdicts = [
            (await grade_row(outputs, spec, ctx, registry=self.registry, per_item_results=results))[
                case.name
            ]
            for spec in comparisons
        ]
        return merge_row_results(grading, verdicts, threshold=case.threshold, vars=prepared.vars)


class _LazyGrader:
    """The test's `GatewayGrader` (a `Grader`), made on its first call: most assertions
    grade without a model, so most tests never need their grader gateways."""

    def __init__(self, binding: Binding, repeat: int, row: bool) -> None:
        self._binding = binding
        self._repeat = repeat
        self._row = row
        self._grader: Any = None

    def _real(self) -> Any:
        grader = self._grader
        if grader is None:
            b = self._binding
            GatewayGrader = (_deps or _d()).GatewayGrader
            if self._row:  # a row sibling's checks stay with its row calls
                gw = b.row_gateway
                grader = GatewayGrader(gw, self._repeat, gw, gw)
            else:  # the item's own: moderation and classifier checks under their roles
                grader = GatewayGrader(
                    b.grader_gateway, self._repeat, b.moderation_gateway, b.classifier_gateway
                )
            self._grader = grader
        return grader

    async def complete(self, provider: Any, messages: list[Any], **options: Any) -> Any:
        return await self._real().complete(provider, messages, **options)

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        result: list[list[float]] = await self._real().embed(provider, inputs)
        return result

    async def moderate(self, provider: Any, text: str) -> Any:
        return await self._real().moderate(provider, text)

    async def moderate_chat(self, provider: Any, messages: list[Any]) -> Any:
        return await self._real().moderate_chat(provider, messages)

    async def classify(self, provider: Any, text: str) -> Any:
        return await self._real().classify(provider, text)


class _LazyWebhook:
    """The webhook assertion's recorded POST (`Binding.webhook`), made on first use."""

    def __init__(self, binding: Binding) -> None:
        self._binding = binding

    async def __call__(self, url: str, body: Any) -> tuple[int, str]:
        result: tuple[int, str] = await self._binding.webhook(url, body)
        return result


async def _provider_transform(case: EvalCase, prepared: Prepared, output: Any) -> Any:
    """A provider's ``transform`` over its output (context: vars and prompt), as promptfoo."""
    from ..assertions.base import AssertionContext
    from ..assertions.transforms import apply_transform

    ctx = AssertionContext(
        vars=prepared.vars,
        prompt=prepared.prompt_text,
        base_dir=case.base_dir,
        timeout_s=case_timeout_s(case),
    )
    return await apply_transform(
        case.provider.transform,
        output,
        ctx,
        what=f"provider transform of {case.provider.label}",
        ctx={"vars": prepared.vars, "prompt": {"raw": prepared.prompt_text}},
    )


def _finish(
    runtime: RunState,
    item: pytest.Item,
    result: CaseRecord,
    binding: Binding,
    snapshot: Any,
    assert_cassette: Any,
    *,
    completed: bool = True,
) -> str:
    """Close the recorder, write/mark the snapshot, count calls, keep the record for the
    item's report; return a drift report."""
    outcome = binding.recorder.finish(completed=completed)
    result.replayed = outcome.replayed_count
    result.live = outcome.live_count
    result.cache_hits = outcome.cache_hits
    result.drift = len(outcome.drift)
    result.committed_output = outcome.committed_text
    result.changed = outcome.changed
    if outcome.changed:
        result.previous_outcome = previous_outcome(item)
    result.spend = binding.tally.spend
    result.prefetched = binding.tally.prefetched
    keep_record(item, result)
    if outcome.cassette is not None:
        assert_cassette(snapshot, outcome.cassette)
    if not outcome.drift:
        return ""
    lines = [f"drift: {len(outcome.drift)} answer(s) differ from the stored snapshot"]
    lines += [d.describe() for d in outcome.drift]
    text = "\n".join(lines)
    result.drift_report = runtime.secrets.scrub_text(text)
    return text


def new_record(item: Any, **fields: Any) -> CaseRecord:
    """A config item's record before it ran: what collection knows of it."""
    case = item.case
    return CaseRecord(
        nodeid=item.nodeid,
        kind="case",
        config=item.nodeid.split("::", 1)[0],
        provider=case.provider.label,
        provider_id=case.provider.id,
        prompt=case.prompt.label,
        prompt_idx=getattr(item, "prompt_idx", None),
        test_idx=getattr(item, "test_idx", None),
        description=case.description,
        options={**case.provider.config, **case.prompt.config},
        output_paths=list(getattr(item, "output_paths", [])),
        **{"vars": dict(case.vars), "prompt_raw": case.prompt.raw, **fields},
    )


def plain_grading(grading: Any) -> dict[str, Any] | None:
    """The verdict in promptfoo's GradingResult shape, as plain data."""
    from .record import grading_dict

    if grading is None:
        return None
    return grading_dict(grading)


def _runtime(item: pytest.Item) -> RunState:
    runtime = RunState.get(item.config)
    assert runtime is not None, "pytest-cfgateway state missing (plugin disabled?)"
    return runtime


__all__ = ["CaseError", "CaseFailed", "CaseTimeout", "new_record", "run_case"]


_PREVIOUS = pytest.StashKey[tuple[frozenset[str], frozenset[str]]]()


def previous_outcome(item: pytest.Item) -> str | None:
    """The item's verdict in the previous run, from pytest's cache (read once per session,
    before the cache provider rewrites it at the end): "failed", "passed" or None."""
    config = item.config
    known = config.stash.get(_PREVIOUS, None)
    if known is None:
        cache = getattr(config, "cache", None)
        failed = cache.get("cache/lastfailed", {}) if cache is not None else {}
        seen = cache.get("cache/nodeids", []) if cache is not None else []
        known = (frozenset(failed or ()), frozenset(seen or ()))
        config.stash[_PREVIOUS] = known
    if item.nodeid in known[0]:
        return "failed"
    return "passed" if item.nodeid in known[1] else None
