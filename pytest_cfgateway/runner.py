"""Runs one config item: render (setup phase, so template errors are E), call or replay
(through the snapshot recorder), grade, and turn the verdict into a pytest outcome."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ._runtime import Binding, CaseResult, Runtime
from ._settings import DEFAULT_EMBEDDING, DEFAULT_GRADER

if TYPE_CHECKING:
    from .collect import CaseItem
    from .config.cases import EvalCase


class CaseFailed(AssertionError):
    """The case ran and its assertions failed; the message is the readable report."""


class CaseError(Exception):
    """The case could not run (bad template, bad assertion config, gateway error)."""


class CaseTimeout(Exception):
    """The case ran past ``evaluateOptions.timeoutMs``."""


@dataclasses.dataclass
class _Prepared:
    prompt_text: str
    messages: list[dict[str, Any]]
    vars: dict[str, Any]


_PREPARED = pytest.StashKey[_Prepared]()


def prepare_case(item: CaseItem) -> None:
    """Setup phase: resolve vars and render the prompt. Failures here are item errors (E)."""
    from .config import ConfigError

    runtime = _runtime(item)
    if _PREPARED in item.stash:  # rendered already by the scheduler
        return
    try:
        item.stash[_PREPARED] = render_case(item.case, runtime.env, _registers(item))
    except (ConfigError, ValueError, OSError) as exc:
        raise CaseError(
            runtime.secrets.scrub_text(f"{item.nodeid}: cannot render the prompt: {exc}")
        ) from None


def _transform_vars(code: Any, variables: dict[str, Any], case: EvalCase) -> dict[str, Any]:
    """promptfoo's ``options.transformVars``: a (Python) transform of the vars, run before the
    prompt is rendered; the mapping it returns is merged into the vars."""
    import asyncio

    from .assertions.base import AssertionContext
    from .assertions.scripts import apply_transform

    ctx = AssertionContext(vars=dict(variables), base_dir=case.base_dir, metadata=case.metadata)
    result = asyncio.run(apply_transform(code, dict(variables), ctx, what="transformVars"))
    if not isinstance(result, dict):
        raise ValueError(
            f"options.transformVars must return a mapping of vars to merge, got "
            f"{type(result).__name__}; e.g. {{**output, 'upper': output['name'].upper()}}"
        )
    return {**variables, **result}


_REGISTERS = pytest.StashKey[dict[str, Any]]()


def _registers(item: CaseItem) -> dict[str, Any] | None:
    """promptfoo's registers: outputs stored by ``storeOutputAs`` for later tests' vars,
    shared by the items of one config file (in this process)."""
    if not item.case.register_names or item.parent is None:
        return None
    return item.parent.stash.setdefault(_REGISTERS, {})


def remember_render(item: pytest.Item, prepared: _Prepared) -> None:
    """Keep a render made ahead of time (by the scheduler) for the item's setup."""
    item.stash[_PREPARED] = prepared


def render_case(
    case: EvalCase, env: Mapping[str, str], registers: Mapping[str, Any] | None = None
) -> _Prepared:
    """Resolve vars and render the prompt (and, for gateway providers, the chat messages)."""
    from .config import parse_chat, render_prompt, resolve_vars

    variables = resolve_vars(case)
    if case.register_names:
        from .config import missing_registers

        missing = missing_registers(case, registers or {})
        if missing:
            raise ValueError(
                f"storeOutputAs {', '.join(map(repr, missing))} has no value yet: the test that "
                "stores it has not run in this process (select it too; under xdist use "
                "--dist loadfile so one worker runs the whole config)"
            )
        variables = {**variables, **(registers or {})}  # registers win, as in promptfoo
    transform_vars = (case.options or {}).get("transformVars")
    if transform_vars:
        variables = _transform_vars(transform_vars, variables, case)
    text = render_prompt(dataclasses.replace(case, vars=variables), env)
    # Chat detection belongs to the provider, as in promptfoo: echo answers with the rendered
    # text as it is, whatever its shape; gateway providers get chat messages.
    messages = parse_chat(text) if case.provider.route == "gateway" else []
    return _Prepared(text, messages, variables)


def run_case(item: CaseItem, snapshot: Any) -> None:
    """Call phase."""
    from .assertions.base import AssertionConfigError, AssertionSkipped
    from .assertions.registry import COMPARISON_TYPES
    from .assertions.report import format_failure
    from .gateway.errors import (
        BudgetExceededError,
        GatewayError,
        GatewayRateLimitError,
        NotRecordedError,
    )
    from .snapshots import CassetteError, assert_cassette

    runtime = _runtime(item)
    case = item.case
    prepared = item.stash[_PREPARED]
    registry, _ = runtime.registries(item.path, item.ihook)
    settings = runtime.settings
    try:
        binding = runtime.bind(item, snapshot)
    except CassetteError as exc:
        raise CaseError(runtime.secrets.scrub_text(str(exc))) from None
    recorder, gw = binding.recorder, binding.gateway
    result = CaseResult(
        nodeid=item.nodeid,
        config=_rel(item),
        provider=case.provider.label,
        prompt=case.prompt.label,
        outcome="failed",
        vars=prepared.vars,
        provider_id=case.provider.id,
        prompt_raw=prepared.prompt_text,
        description=case.description,
    )

    evaluator = _Evaluator(binding, registry, settings.grader)

    async def evaluate() -> tuple[Any, Any, Any]:
        completion, output, grading = await evaluator.case(case, prepared)
        comparisons = [a for a in case.asserts if a.type in COMPARISON_TYPES]
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
        runtime.results.append(result)
        pytest.skip(
            f"evaluateOptions.maxEvalTimeMs = {max_eval_ms} ms has passed "
            f"({runtime.elapsed_ms():.0f} ms since the run started)"
        )

    async def evaluate_within_timeout() -> tuple[Any, Any, Any]:
        if not timeout_ms:
            return await evaluate()
        import asyncio

        try:
            return await asyncio.wait_for(evaluate(), timeout_ms / 1000)
        except TimeoutError:
            raise CaseTimeout(
                f"the case did not finish within evaluateOptions.timeoutMs = {timeout_ms} ms"
            ) from None

    try:
        completion, output, grading = runtime.run(gw, evaluate_within_timeout())
    except CaseTimeout as exc:
        result.outcome = "error"
        result.reason = str(exc)
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseError(str(exc)) from None
    except AssertionSkipped as exc:
        result.outcome = "skipped"
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        pytest.skip(runtime.secrets.scrub_text(str(exc)))
    except AssertionConfigError as exc:
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(f"assertion config: {exc}")
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseError(runtime.secrets.scrub_text(f"assertion config: {exc}")) from None
    except BudgetExceededError as exc:
        result.outcome = "skipped"
        runtime.budget_skips += 1
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        pytest.skip(runtime.secrets.scrub_text(str(exc)))
    except NotRecordedError as exc:
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseFailed(runtime.secrets.scrub_text(str(exc))) from None
    except GatewayError as exc:
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(str(exc))
        result.rate_limited = isinstance(exc, GatewayRateLimitError)
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseError(f"{case.provider.label}: {result.reason}") from None

    result.output = output if isinstance(output, str) else str(output)
    stored_as = (case.options or {}).get("storeOutputAs")
    registers = _registers(item)
    if stored_as and output and registers is not None:
        registers[str(stored_as)] = output
    result.score = grading.score
    result.reason = grading.reason
    result.grading = grading
    if completion is not None:
        result.prompt_tokens = completion.usage.prompt_tokens
        result.completion_tokens = completion.usage.completion_tokens
        result.cost = completion.cost
        result.latency_ms = completion.latency_ms
    drift = _finish(runtime, result, recorder, snapshot, assert_cassette)

    problems = []
    if not grading.passed:
        problems.append(
            format_failure(
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
    from ._feedback import after_case

    after_case(item, result, gw)  # --cf-feedback: annotate its log entries, in the background
    if problems:
        raise CaseFailed(runtime.secrets.scrub_text("\n\n".join(problems)))


def _echo(text: str) -> Any:
    """promptfoo's echo provider: the rendered prompt, locally, never recorded."""
    from .gateway.types import Completion, Usage

    return Completion(text=text, raw=None, usage=Usage(), provider="echo", model="echo", cost=0.0)


class _Evaluator:
    """Calls and grades cases through one test's recorder-bound gateways."""

    def __init__(self, binding: Binding, registry: Any, cli_grader: str | None) -> None:
        self.binding = binding
        self.registry = registry
        self.cli_grader = cli_grader

    def context(self, case: EvalCase, prepared: _Prepared, completion: Any, gw: Any) -> Any:
        from ._grader import GatewayGrader
        from .assertions.base import AssertionContext

        grader_ref = case.options.get("provider") or self.cli_grader or DEFAULT_GRADER
        return AssertionContext(
            vars=prepared.vars,
            prompt=prepared.prompt_text,
            completion=completion,
            provider_id=case.provider.id,
            provider_config=dict(case.provider.config),
            test={"options": case.options, "metadata": case.metadata, "vars": prepared.vars},
            base_dir=case.base_dir,
            grader=GatewayGrader(gw, repeat=case.repeat_index),
            default_grader=grader_ref,
            default_embedding=DEFAULT_EMBEDDING,
            metadata=case.metadata,
            webhook=self.binding.webhook,
        )

    async def call(self, case: EvalCase, prepared: _Prepared, gw: Any) -> tuple[Any, Any]:
        """The case's output: providerOutput, echo, or a gateway call (recorded/replayed)."""
        if case.provider_output is not None:
            return None, case.provider_output
        if case.provider.route == "echo":
            return _echo(prepared.prompt_text), prepared.prompt_text
        options = {**case.provider.config, **case.prompt.config}
        req = gw.prepare(
            case.provider.gateway_id, prepared.messages, repeat=case.repeat_index, **options
        )
        completion = await gw.aexecute(req)
        return completion, completion.text

    async def case(
        self, case: EvalCase, prepared: _Prepared, *, sibling: bool = False
    ) -> tuple[Any, Any, Any]:
        from .assertions.engine import run_assertions

        b = self.binding
        call_gw, grade_gw = (
            (b.row_gateway, b.row_gateway) if sibling else (b.gateway, b.grader_gateway)
        )
        completion, output = await self.call(case, prepared, call_gw)
        grading = await run_assertions(
            output,
            case.asserts,
            self.context(case, prepared, completion, grade_gw),
            registry=self.registry,
            threshold=case.threshold,
            transform=case.options.get("transform"),
        )
        if case.options.get("assertScoringFunction"):
            from .assertions.scoring_function import apply_scoring_function

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
        from .assertions.compare import grade_row, merge_row_results

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
        ctx = self.context(case, prepared, None, self.binding.grader_gateway)
        verdicts = [
            (await grade_row(outputs, spec, ctx, registry=self.registry, per_item_results=results))[
                case.name
            ]
            for spec in comparisons
        ]
        return merge_row_results(grading, verdicts, threshold=case.threshold, vars=prepared.vars)


def _finish(
    runtime: Runtime,
    result: CaseResult,
    recorder: Any,
    snapshot: Any,
    assert_cassette: Any,
    *,
    completed: bool = True,
) -> str:
    """Close the recorder, write/mark the snapshot, count calls; return a drift report."""
    outcome = recorder.finish(completed=completed)
    result.replayed = outcome.replayed_count
    result.live = outcome.live_count
    result.cache_hits = outcome.cache_hits
    result.drift = len(outcome.drift)
    runtime.results.append(result)
    if outcome.cassette is not None:
        assert_cassette(snapshot, outcome.cassette)
    if not outcome.drift:
        return ""
    lines = [f"drift: {len(outcome.drift)} answer(s) differ from the stored snapshot"]
    lines += [d.describe() for d in outcome.drift]
    text = "\n".join(lines)
    runtime.drift_reports.append((result.nodeid, text))
    return text


def _runtime(item: pytest.Item) -> Runtime:
    runtime = Runtime.get(item.config)
    assert runtime is not None, "pytest-cfgateway runtime missing (plugin disabled?)"
    return runtime


def _rel(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


__all__ = ["CaseError", "CaseFailed", "prepare_case", "remember_render", "render_case", "run_case"]
