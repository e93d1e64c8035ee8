"""Runs one config item: render (setup phase, so template errors are E), call or replay
(through the snapshot recorder), grade, and turn the verdict into a pytest outcome."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from ._runtime import CaseResult, Runtime
from ._settings import DEFAULT_EMBEDDING, DEFAULT_GRADER

if TYPE_CHECKING:
    from .collect import CaseItem


class CaseFailed(AssertionError):
    """The case ran and its assertions failed; the message is the readable report."""


class CaseError(Exception):
    """The case could not run (bad template, bad assertion config, gateway error)."""


@dataclasses.dataclass
class _Prepared:
    prompt_text: str
    messages: list[dict[str, Any]]
    vars: dict[str, Any]


_PREPARED = pytest.StashKey[_Prepared]()


def prepare_case(item: CaseItem) -> None:
    """Setup phase: resolve vars and render the prompt. Failures here are item errors (E)."""
    from .config import ConfigError, parse_chat, render_prompt, resolve_vars

    runtime = _runtime(item)
    case = item.case
    try:
        variables = resolve_vars(case)
        case_v = dataclasses.replace(case, vars=variables)
        text = render_prompt(case_v, runtime.env)
        messages = parse_chat(text)
    except (ConfigError, ValueError, OSError) as exc:
        raise CaseError(
            runtime.secrets.scrub_text(f"{item.nodeid}: cannot render the prompt: {exc}")
        ) from None
    item.stash[_PREPARED] = _Prepared(text, messages, variables)


def run_case(item: CaseItem, snapshot: Any) -> None:
    """Call phase."""
    from ._grader import GatewayGrader
    from .assertions.base import AssertionConfigError, AssertionContext, AssertionSkipped
    from .assertions.engine import run_assertions
    from .assertions.report import format_failure
    from .gateway.errors import GatewayError, NotRecordedError
    from .snapshots import assert_cassette

    runtime = _runtime(item)
    case = item.case
    prepared = item.stash[_PREPARED]
    registry, _ = runtime.registries(item.path, item.ihook)
    settings = runtime.settings
    binding = runtime.bind(item, snapshot)
    recorder, gw = binding.recorder, binding.gateway
    result = CaseResult(
        nodeid=item.nodeid,
        config=_rel(item),
        provider=case.provider.label,
        prompt=case.prompt.label,
        outcome="failed",
        vars=prepared.vars,
    )

    async def evaluate() -> tuple[Any, Any, Any]:
        completion: Any = None
        if case.provider_output is not None:
            output: Any = case.provider_output
        elif case.provider.route == "echo":
            completion = await gw.acomplete("echo", prepared.messages)
            output = completion.text
        else:
            options = {**case.provider.config, **case.prompt.config}
            req = gw.prepare(
                case.provider.gateway_id, prepared.messages, repeat=case.repeat_index, **options
            )
            completion = await gw.aexecute(req)
            output = completion.text
        grader_ref = case.options.get("provider") or settings.grader or DEFAULT_GRADER
        ctx = AssertionContext(
            vars=prepared.vars,
            prompt=prepared.prompt_text,
            completion=completion,
            provider_id=case.provider.id,
            provider_config=dict(case.provider.config),
            test={"options": case.options, "metadata": case.metadata, "vars": prepared.vars},
            base_dir=case.base_dir,
            grader=GatewayGrader(binding.grader_gateway, repeat=case.repeat_index),
            default_grader=grader_ref,
            default_embedding=_embedding_ref(grader_ref),
            metadata=case.metadata,
        )
        grading = await run_assertions(
            output,
            case.asserts,
            ctx,
            registry=registry,
            threshold=case.threshold,
            transform=case.options.get("transform"),
        )
        return completion, output, grading

    try:
        completion, output, grading = gw.run(evaluate())
    except AssertionSkipped as exc:
        result.outcome = "skipped"
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        pytest.skip(runtime.secrets.scrub_text(str(exc)))
    except AssertionConfigError as exc:
        result.outcome = "error"
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseError(runtime.secrets.scrub_text(f"assertion config: {exc}")) from None
    except NotRecordedError as exc:
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseFailed(runtime.secrets.scrub_text(str(exc))) from None
    except GatewayError as exc:
        result.outcome = "error"
        result.reason = runtime.secrets.scrub_text(str(exc))
        _finish(runtime, result, recorder, snapshot, assert_cassette, completed=False)
        raise CaseError(f"{case.provider.label}: {result.reason}") from None

    result.output = output if isinstance(output, str) else str(output)
    result.score = grading.score
    result.reason = grading.reason
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
    if problems:
        raise CaseFailed(runtime.secrets.scrub_text("\n\n".join(problems)))


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


def _embedding_ref(grader: Any) -> Any:
    return DEFAULT_EMBEDDING


__all__ = ["CaseError", "CaseFailed", "prepare_case", "run_case"]
