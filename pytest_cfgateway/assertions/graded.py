"""Model-graded assertions: a grader model (through the gateway) judges the output.

Types: llm-rubric, model-graded-closedqa, factuality (alias model-graded-factuality),
g-eval, answer-relevance, context-faithfulness, context-recall, context-relevance, and the
embedding-based similar, similar:cosine, similar:dot, similar:euclidean.

The grading prompts are this project's own wording; the *reply contracts* are promptfoo's
(JSON ``{pass, score, reason}`` for llm-rubric, a final ``Y``/``N`` for closed QA, a category
letter A-E for factuality, ``{"steps": [...]}`` then ``{"score": 0-10, "reason"}`` for g-eval,
``[Attributed]``/``[Not Attributed]`` lines for context recall, verbatim sentences or
``Insufficient Information`` for context relevance, ``Verdict: Yes/No`` per statement for
faithfulness, one integer for select-best), so a ``rubricPrompt`` written for promptfoo works
unchanged: it may use ``{{output}}``, ``{{rubric}}`` and every test var (objects are JSON);
a prompt that is a JSON chat array renders only its string values.

Grader provider: the assertion's ``provider`` > ``context.default_grader`` (which the caller
fills from test options > defaultTest options > ``--cf-grader``) > ``openai:gpt-5.2``.
Embeddings: the assertion's ``provider`` (or its ``embedding`` part) >
``context.default_embedding`` > the ``embedding`` part of a ``{text, embedding}`` default
grader > ``openai:text-embedding-3-large`` (a plain default grader id is a chat model and is
not used for embeddings).

A grader that cannot be reached or whose reply cannot be parsed gives a failed result with
``grader_error=True``, which ``not-`` never flips. ``not-`` on these types flips ``pass`` and
reports ``1 - score`` (clamped to [0, 1]).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..gateway.errors import BudgetExceededError, GatewayError, NotRecordedError
from ..gateway.types import Message
from ._helpers import output_text
from .base import (
    AssertionCall,
    AssertionConfigError,
    BuiltinHandler,
    Grader,
    GradingResult,
    ProviderRef,
)
from .scoring import format_number
from .scripts import is_file_ref, parse_file_ref, resolve_path
from .transforms import apply_transform

DEFAULT_GRADER = "openai:gpt-5.2"
DEFAULT_EMBEDDING = "openai:text-embedding-3-large"

# --- our grading prompts (reply contracts are promptfoo's) --------------------------------

LLM_RUBRIC_PROMPT: list[Message] = [
    {
        "role": "system",
        "content": (
            "You are an impartial judge checking an AI system's output against a rubric. "
            "The rubric states what a good output does (or must not do). Decide whether the "
            "output satisfies it, judging only what the output actually says.\n\n"
            "Answer with a single JSON object and nothing else, in this shape:\n"
            '{"reason": "<one or two sentences explaining your verdict>", '
            '"pass": <true if the rubric is satisfied, else false>, '
            '"score": <a number from 0.0 (not at all) to 1.0 (fully)>}\n\n'
            "Example. Output: 'The train leaves at 14:05 from platform 2.' Rubric: 'gives a "
            "departure time'. Answer: "
            '{"reason": "It states 14:05.", "pass": true, "score": 1.0}\n'
            "Example. Output: 'I cannot help with that.' Rubric: 'recommends a book'. Answer: "
            '{"reason": "It declines and names no book.", "pass": false, "score": 0.0}'
        ),
    },
    {
        "role": "user",
        "content": "<Output>\n{{ output }}\n</Output>\n<Rubric>\n{{ rubric }}\n</Rubric>",
    },
]

CLOSED_QA_PROMPT = (
    "You are checking whether a submitted answer meets a stated criterion.\n\n"
    "[Task]\n{{ input }}\n\n[Submission]\n{{ completion }}\n\n[Criterion]\n{{ criteria }}\n\n"
    "First explain your reasoning step by step, without stating the verdict up front. "
    "Then write the verdict alone on the last line: the single letter Y if the submission "
    "meets the criterion, or N if it does not."
)

FACTUALITY_PROMPT = (
    "Compare the factual content of a submitted answer with an expert answer to the same "
    "question. Ignore differences of style, wording, grammar and punctuation.\n\n"
    "[Question]\n{{ input }}\n\n[Expert answer]\n{{ ideal }}\n\n"
    "[Submitted answer]\n{{ completion }}\n\n"
    "Choose exactly one category:\n"
    "(A) The submission is a subset of the expert answer and fully consistent with it.\n"
    "(B) The submission is a superset of the expert answer and fully consistent with it.\n"
    "(C) The submission has the same details as the expert answer.\n"
    "(D) The submission and the expert answer disagree.\n"
    "(E) They differ, but the differences do not matter for factuality.\n\n"
    'Reply with a JSON object only: {"category": "<A, B, C, D or E>", '
    '"reason": "<short explanation>"}'
)

GEVAL_STEPS_PROMPT = (
    "You are preparing an evaluation procedure.\n\n[Criteria]\n{{ criteria }}\n\n"
    "Write 3 or 4 short, concrete steps an evaluator should follow to judge a reply against "
    'these criteria. Reply with minified JSON only: {"steps": ["<step>", "<step>"]}'
)

GEVAL_EVALUATE_PROMPT = (
    "Evaluate a reply against the criteria by following the evaluation steps.\n\n"
    "[Criteria]\n{{ criteria }}\n\n[Evaluation steps]\n- {{ steps }}\n\n"
    "[Source text]\n{{ input }}\n\n[Reply]\n{{ output }}\n\n"
    "Give an integer score from 0 (criteria not met at all) to {{ maxScore }} (fully met). "
    'Reply with minified JSON only: {"score": <0-{{ maxScore }}>, "reason": "<short '
    'justification>"}'
)

ANSWER_RELEVANCE_PROMPT = (
    "Here is an answer. Write the single question this answer most plausibly responds to. "
    "Reply with the question only.\n\n[Answer]\n{{ answer }}"
)

CONTEXT_RECALL_PROMPT = (
    "You are given a context and a reference answer. Split the reference answer into its "
    "sentences. For each sentence decide whether its information can be found in the "
    "context. Write one numbered line per sentence: the sentence, a short justification, and "
    "at the end the tag [Attributed] if the context supports it or [Not Attributed] if it "
    "does not.\n\n[Context]\n{{ context }}\n\n[Reference answer]\n{{ groundTruth }}"
)

CONTEXT_RELEVANCE_PROMPT = (
    "Copy from the context, word for word, every sentence that helps answer the query, one "
    "sentence per line. Do not rephrase, summarise, number or add anything. If no sentence "
    "helps, reply exactly: Insufficient Information\n\n[Query]\n{{ query }}\n\n"
    "[Context]\n{{ context }}"
)

FAITHFULNESS_STATEMENTS_PROMPT = (
    "Break the answer to the question into short, self-contained factual statements. Write "
    "one statement per line, without numbering or commentary.\n\n[Question]\n{{ question }}"
    "\n\n[Answer]\n{{ answer }}"
)

FAITHFULNESS_VERDICT_PROMPT = (
    "Decide for each statement whether the context supports it. For every statement write "
    "one line: 'Statement <n>: <short explanation>. Verdict: Yes' if the context supports "
    "it, or '... Verdict: No' if it does not.\n\n[Context]\n{{ context }}\n\n[Statements]\n"
    "{% for s in statements %}{{ loop.index }}. {{ s }}\n{% endfor %}"
)

SELECT_BEST_PROMPT = (
    "Several outputs answer the same request. Pick the one that best satisfies the "
    "criterion.\n\n[Criterion]\n{{ criteria }}\n\n"
    "{% for o in outputs %}[Output {{ loop.index0 }}]\n{{ o }}\n\n{% endfor %}"
    "Reply with the number of the best output only (0 is the first)."
)

RECALL_ATTRIBUTED = "[attributed]"
RECALL_NOT_ATTRIBUTED = "[not attributed]"
RELEVANCE_INSUFFICIENT = "Insufficient Information"

FACTUALITY_CATEGORIES = {
    "A": "The submitted answer is a subset of the expert answer and fully consistent with it.",
    "B": "The submitted answer is a superset of the expert answer and fully consistent with it.",
    "C": "The submitted answer contains all the same details as the expert answer.",
    "D": "There is a disagreement between the submitted answer and the expert answer.",
    "E": "The answers differ, but these differences don't matter for factuality.",
}

_T = TypeVar("_T")

# --- grader plumbing ----------------------------------------------------------------------


class GraderFailure(Exception):
    """The grader could not be reached or its reply could not be parsed."""


class _Tally:
    def __init__(self) -> None:
        self.tokens = 0


def _spec_field(call: AssertionCall, name: str) -> Any:
    spec = call.spec
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return spec.get(name)
    return getattr(spec, name, None)


def typed_provider(call: AssertionCall, output_type: str, entry_fix: str) -> ProviderRef | None:
    """promptfoo's provider of one output type (``moderation``, ``classification``): the
    assertion's ``provider``, else the test's (or defaultTest's) ``options.provider``; an
    object without ``id`` gives its ``output_type`` entry (an error naming ``entry_fix``
    when it has none). None when neither is set."""
    ref = _spec_field(call, "provider")
    if not ref:
        options = call.context.test.get("options") or {}
        ref = options.get("provider") if isinstance(options, Mapping) else None
    if not ref:
        return None
    if isinstance(ref, Mapping) and "id" not in ref:
        part = ref.get(output_type)
        if not part:
            raise AssertionConfigError(
                f"Invalid provider definition for output type '{output_type}': "
                f"{json.dumps(dict(ref), default=str)}. Fix: add a '{output_type}' entry "
                f"{entry_fix}."
            )
        return part  # type: ignore[no-any-return]
    return ref  # type: ignore[no-any-return]


def _pick_kind(ref: Any, kind: str) -> Any:
    if isinstance(ref, Mapping) and "id" not in ref and ("text" in ref or "embedding" in ref):
        return ref.get(kind)
    return ref


def grader_provider(call: AssertionCall, kind: str = "text") -> ProviderRef:
    """The provider a grader call of ``kind`` ("text" or "embedding") goes to."""
    own = _pick_kind(_spec_field(call, "provider"), kind)
    if own:
        return own  # type: ignore[no-any-return]
    ctx = call.context
    if kind == "embedding":
        if ctx.default_embedding:
            return ctx.default_embedding
        if isinstance(ctx.default_grader, Mapping):
            emb = _pick_kind(ctx.default_grader, "embedding")
            if emb and emb is not ctx.default_grader:
                return emb  # type: ignore[no-any-return]
        return DEFAULT_EMBEDDING
    default: ProviderRef | None = _pick_kind(ctx.default_grader, "text")
    return default if default else DEFAULT_GRADER


def provider_label(ref: ProviderRef) -> str:
    """A provider reference as a short id for messages."""
    if isinstance(ref, str):
        return ref
    return str(ref.get("id") or ref.get("label") or "provider")


def _grader(call: AssertionCall) -> Grader:
    grader = call.context.grader
    if grader is None:
        raise AssertionConfigError(
            f'"{call.base_type}" needs a grader model, but no grader is available in this '
            "context. Run it through the plugin (config items or the cf_assert fixture), "
            "which provides one."
        )
    return grader


async def _grader_call(
    call: AssertionCall,
    kind: str,
    what: str,
    send: Callable[[Grader, ProviderRef], Awaitable[_T]],
) -> tuple[ProviderRef, _T]:
    """Send one grader request of ``kind``; gateway failures become GraderFailure.

    Replay misses and budget stops pass through unchanged (they are not grader errors).
    """
    grader = _grader(call)
    provider = grader_provider(call, kind)
    try:
        return provider, await send(grader, provider)
    except (NotRecordedError, BudgetExceededError):
        raise
    except GatewayError as exc:
        raise GraderFailure(f"{what} call to {provider_label(provider)} failed: {exc}") from exc


async def ask(call: AssertionCall, messages: list[Message], tally: _Tally) -> str:
    """One grader chat call; transport failures and empty replies raise GraderFailure."""
    provider, completion = await _grader_call(
        call, "text", "Grader", lambda grader, ref: grader.complete(ref, messages)
    )
    tally.tokens += completion.usage.total_tokens
    text = completion.text if isinstance(completion.text, str) else ""
    if not text.strip():
        raise GraderFailure(f"Grader {provider_label(provider)} returned no output")
    return text


async def embed(call: AssertionCall, inputs: list[str]) -> list[list[float]]:
    """One embeddings call for ``inputs``; failures raise GraderFailure."""
    provider, vectors = await _grader_call(
        call, "embedding", "Embedding", lambda grader, ref: grader.embed(ref, inputs)
    )
    rows = list(vectors)
    if len(rows) != len(inputs) or any(not row for row in rows):
        raise GraderFailure(
            f"Embedding provider {provider_label(provider)} returned {len(rows)} vectors for "
            f"{len(inputs)} inputs"
        )
    return [[float(x) for x in row] for row in rows]


def grader_failure(reason: str, tokens: int = 0) -> GradingResult:
    """A failed result marked as a grader error (never flipped by ``not-``)."""
    return GradingResult(
        passed=False, score=0.0, reason=reason, grader_error=True, tokens_used=tokens
    )


def graded(
    fn: Callable[[AssertionCall, _Tally], Awaitable[GradingResult]],
) -> BuiltinHandler:
    """Wrap a grading function: GraderFailure -> grader-error result; tokens recorded."""

    async def handler(call: AssertionCall) -> GradingResult:
        tally = _Tally()
        try:
            result = await fn(call, tally)
        except GraderFailure as exc:
            return grader_failure(str(exc), tally.tokens)
        result.tokens_used = result.tokens_used or tally.tokens
        return result

    handler.__name__ = fn.__name__
    handler.__qualname__ = fn.__qualname__
    handler.__doc__ = fn.__doc__
    return handler


def invert_graded(result: GradingResult, inverse: bool) -> GradingResult:
    """promptfoo's ``not-`` for graded scores: flip pass, ``1 - score`` clamped to [0, 1]."""
    if not inverse or result.grader_error:
        return result
    score = result.score if math.isfinite(result.score) else 0.0
    result.passed = not result.passed
    result.score = min(1.0, max(0.0, 1.0 - score))
    return result


# --- templates ----------------------------------------------------------------------------


def _stringify_vars(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out[key] = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, list):
            out[key] = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, (Mapping, list)) else v
                for v in value
            ]
        else:
            out[key] = value
    return out


def template_vars(call: AssertionCall, **extra: Any) -> dict[str, Any]:
    """Test vars (objects as JSON) overlaid with the grading prompt's own variables."""
    tv = _stringify_vars(call.context.vars)
    tv.update(extra)
    return tv


def _render(text: str, tvars: Mapping[str, Any]) -> str:
    from .engine import render_template

    return render_template(text, tvars)


def _render_strings(value: Any, tvars: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render(value, tvars)
    if isinstance(value, list):
        return [_render_strings(v, tvars) for v in value]
    if isinstance(value, Mapping):
        return {k: _render_strings(v, tvars) for k, v in value.items()}
    return value


def _as_messages(value: Any) -> list[Message] | None:
    if isinstance(value, Mapping) and isinstance(value.get("role"), str):
        return [dict(value)]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, Mapping) and isinstance(m.get("role"), str) for m in value)
    ):
        return [dict(m) for m in value]
    return None


def render_prompt(template: Any, tvars: Mapping[str, Any]) -> list[Message]:
    """A grading prompt (text, JSON chat array text, or a list of messages) -> messages."""
    messages = _as_messages(template)
    if messages is not None:
        return [_render_strings(m, tvars) for m in messages]
    if not isinstance(template, str):
        raise AssertionConfigError(
            f"rubricPrompt must be text or a list of chat messages; got {type(template).__name__}"
        )
    stripped = template.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        messages = _as_messages(parsed)
        if messages is not None:
            return [_render_strings(m, tvars) for m in messages]
    return [{"role": "user", "content": _render(template, tvars)}]


def _load_prompt_file(value: Any, base_dir: Path) -> Any:
    if isinstance(value, str) and is_file_ref(value):
        path = resolve_path(parse_file_ref(value)[0], base_dir)
        if not path.is_file():
            raise AssertionConfigError(
                f"rubricPrompt file not found: {path}. Fix: make the `file://` path relative "
                "to the config file's directory."
            )
        return path.read_text(encoding="utf-8")
    return value


def custom_prompt(call: AssertionCall, key: str | None = None) -> Any:
    """The ``rubricPrompt`` override (assertion, then test options), or None.

    ``key`` picks one part of an object prompt (g-eval's ``steps``/``evaluate``).
    """
    value = _spec_field(call, "rubric_prompt")
    if value is None and isinstance(call.spec, Mapping):
        value = call.spec.get("rubricPrompt")
    if value is None:
        options = call.context.test.get("options") or {}
        if isinstance(options, Mapping):
            value = options.get("rubricPrompt", options.get("rubric_prompt"))
    if value in (None, "", {}, []):
        return None
    if key is not None:
        if isinstance(value, Mapping) and "role" not in value:
            value = value.get(key)
        else:
            return None
        if value in (None, ""):
            return None
    elif isinstance(value, Mapping) and "role" not in value:
        value = json.dumps(value)
    return _load_prompt_file(value, call.context.base_dir)


def _test_option(call: AssertionCall, name: str) -> Any:
    options = call.context.test.get("options") or {}
    return options.get(name) if isinstance(options, Mapping) else None


# --- reply parsing ------------------------------------------------------------------------


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object embedded in ``text`` (prose, code fences...), or None."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start >= 0:
        try:
            obj, _end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    return None


_TRUTHY = re.compile(r"^(true|yes|pass|y)$", re.IGNORECASE)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_rubric_verdict(text: str, threshold: float | None) -> GradingResult:
    """promptfoo's lenient JSON verdict: pass defaults to true, score to Number(pass)."""
    obj = first_json_object(text)
    if obj is None:
        raise GraderFailure(f"Could not extract JSON from llm-rubric response: {text[:300]}")
    raw_pass = obj.get("pass", True)
    passed = raw_pass if isinstance(raw_pass, bool) else bool(_TRUTHY.match(str(raw_pass)))
    score = _as_number(obj.get("score")) if obj.get("score") is not None else None
    if score is None:
        score = 1.0 if passed else 0.0
    if threshold is not None:
        passed = passed and score >= threshold
    reason = obj.get("reason")
    if not isinstance(reason, str) or not reason:
        reason = (
            "Grading passed"
            if passed
            else f"Score {format_number(score)} below threshold "
            + (format_number(threshold) if threshold is not None else "undefined")
        )
    return GradingResult(passed=passed, score=score, reason=reason)


# --- llm-rubric ---------------------------------------------------------------------------


@graded
async def llm_rubric(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``llm-rubric``: the grader decides whether the output satisfies the rubric."""
    rubric = call.value
    if rubric is None:
        rubric = ""
    if not isinstance(rubric, (str, Mapping, list)):
        raise AssertionConfigError(
            '"llm-rubric" assertion must have a string (or object) value: the rubric. '
            f"Got {type(rubric).__name__}."
        )
    rubric_text = rubric if isinstance(rubric, str) else json.dumps(rubric, ensure_ascii=False)
    tvars = template_vars(call, output=output_text(call.output), rubric=rubric_text)
    template = custom_prompt(call) or LLM_RUBRIC_PROMPT
    reply = await ask(call, render_prompt(template, tvars), tally)
    result = parse_rubric_verdict(reply, call.threshold)
    return invert_graded(result, call.inverse)


def _text_value(call: AssertionCall, what: str) -> str:
    """The assertion's ``value`` as a non-empty string, else a config error saying what it is."""
    value = call.value
    if not isinstance(value, str) or not value.strip():
        raise AssertionConfigError(f'"{call.base_type}" assertion must have a string value: {what}')
    return value


# --- model-graded-closedqa ------------------------------------------------------------------


@graded
async def closed_qa(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``model-graded-closedqa``: pass when the grader's reply ends with ``Y``."""
    criteria = _text_value(call, "the criterion.")
    tvars = template_vars(
        call,
        input=call.context.prompt or "",
        criteria=criteria,
        completion=output_text(call.output),
    )
    reply = await ask(call, render_prompt(custom_prompt(call) or CLOSED_QA_PROMPT, tvars), tally)
    tail = reply.rstrip()
    if tail.endswith("Y"):
        result = GradingResult(True, 1.0, f"The submission meets the criterion:\n{reply}")
    elif tail.endswith("N"):
        result = GradingResult(False, 0.0, f"The submission does not meet the criterion:\n{reply}")
    else:
        raise GraderFailure(f"Model grader produced a malformed response:\n{reply}")
    return invert_graded(result, call.inverse)


# --- factuality ---------------------------------------------------------------------------

_FACTUALITY_KEYS = {
    "A": "subset",
    "B": "superset",
    "C": "agree",
    "D": "disagree",
    "E": "differButFactual",
}


def factuality_scores(options: Any) -> dict[str, float]:
    """Category -> score; A, B, C, E = 1 and D = 0 unless ``options.factuality`` says else."""
    defaults = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 0.0, "E": 1.0}
    if not isinstance(options, Mapping):
        return defaults
    out = dict(defaults)
    for letter, key in _FACTUALITY_KEYS.items():
        snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key)
        raw = options.get(key, options.get(snake))
        if raw is not None:
            number = _as_number(raw)
            if number is None:
                raise AssertionConfigError(
                    f"options.factuality.{key} must be a number; got {raw!r}"
                )
            out[letter] = number
    return out


def parse_factuality(text: str) -> tuple[str, str]:
    """(category letter, reason) from a JSON reply, else from a legacy ``(X)`` reply."""
    obj = first_json_object(text)
    if obj is not None and isinstance(obj.get("category"), str):
        letter = obj["category"].strip().upper()
        if not re.fullmatch(r"[A-E]", letter):
            raise GraderFailure(f"Invalid category value: {letter}")
        reason = obj.get("reason")
        reason_text = reason.strip() if isinstance(reason, str) and reason.strip() else ""
        return letter, reason_text or f"Category {letter}: {FACTUALITY_CATEGORIES[letter]}"
    match = re.search(r"\s*\(?([a-eA-E])\)", text)
    if not match:
        raise GraderFailure(
            f"Factuality checker output did not match expected format: {text[:300]}"
        )
    letter = match.group(1).upper()
    rest = re.search(r"\)\s*(.*)", text, re.DOTALL)
    return letter, rest.group(1).strip() if rest and rest.group(1).strip() else text


@graded
async def factuality(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``factuality``: is the output factually consistent with the reference answer?"""
    expected = _text_value(call, "the reference answer.")
    options = _test_option(call, "factuality")
    config = _spec_field(call, "config")
    if options is None and isinstance(config, Mapping):
        options = config.get("factuality")
    scores = factuality_scores(options)
    tvars = template_vars(
        call, input=call.context.prompt or "", ideal=expected, completion=output_text(call.output)
    )
    reply = await ask(call, render_prompt(custom_prompt(call) or FACTUALITY_PROMPT, tvars), tally)
    letter, reason = parse_factuality(reply)
    score = scores[letter]
    result = GradingResult(passed=score > 0, score=score, reason=reason)
    return invert_graded(result, call.inverse)


# --- g-eval -------------------------------------------------------------------------------


def _parse_steps(text: str) -> list[str]:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "steps" in obj:
            steps = obj["steps"]
            if not isinstance(steps, list) or not steps:
                raise GraderFailure(f"G-Eval steps response has no steps: {text[:300]}")
            if not all(isinstance(s, str) and s.strip() for s in steps):
                raise GraderFailure(f"G-Eval steps response contains invalid steps: {steps!r}")
            return [s.strip() for s in steps]
    raise GraderFailure(f"LLM-proposed evaluation steps are not in JSON format: {text[:300]}")


async def _geval_one(
    call: AssertionCall, criteria: str, threshold: float, tally: _Tally
) -> GradingResult:
    max_score = 10
    steps_template = custom_prompt(call, "steps") or GEVAL_STEPS_PROMPT
    steps_reply = await ask(
        call, render_prompt(steps_template, template_vars(call, criteria=criteria)), tally
    )
    steps = _parse_steps(steps_reply)
    eval_template = custom_prompt(call, "evaluate") or GEVAL_EVALUATE_PROMPT
    tvars = template_vars(
        call,
        criteria=criteria,
        steps="\n- ".join(steps),
        maxScore=str(max_score),
        input=call.context.prompt or "",
        output=output_text(call.output),
    )
    reply = await ask(call, render_prompt(eval_template, tvars), tally)
    obj = first_json_object(reply)
    if obj is None:
        raise GraderFailure(f"LLM-proposed evaluation result is not in JSON format: {reply[:300]}")
    raw = obj.get("score")
    score = None if isinstance(raw, bool) else _as_number(raw)
    if score is None:
        raise GraderFailure(f"G-Eval result has invalid or missing score: {raw!r}")
    if score < 0 or score > max_score:
        raise GraderFailure(f"G-Eval result score {format_number(score)} is outside 0-{max_score}")
    reason = obj.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise GraderFailure(f"G-Eval result has invalid or missing reason: {reason!r}")
    normalized = score / max_score
    return GradingResult(passed=normalized >= threshold, score=normalized, reason=reason)


@graded
async def g_eval(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``g-eval``: grader-written steps, then a 0-10 score (normalised) vs threshold 0.7."""
    value = call.value
    criteria_list: list[str]
    if isinstance(value, str) and value.strip():
        criteria_list = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        criteria_list = list(value)
    else:
        raise AssertionConfigError(
            '"g-eval" assertion must have a string value (the criteria) or a list of them.'
        )
    threshold = 0.7 if call.threshold is None else call.threshold
    results = [await _geval_one(call, c, threshold, tally) for c in criteria_list]
    if len(results) == 1:
        result = results[0]
    else:
        mean = sum(r.score for r in results) / len(results)
        result = GradingResult(
            passed=mean >= threshold,
            score=mean,
            reason="\n\n".join(r.reason for r in results),
        )
    return invert_graded(result, call.inverse)


# --- vectors ------------------------------------------------------------------------------


def _same_size(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b):
        raise GraderFailure(f"embedding sizes differ ({len(a)} vs {len(b)})")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity (0 when either vector is zero)."""
    _same_size(a, b)
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def dot_product(a: Sequence[float], b: Sequence[float]) -> float:
    """Dot product."""
    _same_size(a, b)
    return sum(x * y for x, y in zip(a, b, strict=True))


def euclidean(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance."""
    _same_size(a, b)
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


# --- similar ------------------------------------------------------------------------------

_EPS = 2.220446049250313e-16


def _similar_one(measure: float, threshold: float, inverse: bool, metric: str) -> GradingResult:
    if metric == "euclidean":
        distance = measure
        passed = distance >= threshold - _EPS if inverse else distance <= threshold + _EPS
        normalized = 1 / (1 + distance)
        score = 1 - normalized if inverse else normalized
        below = (
            f"Distance {distance:.2f} is less than or equal to threshold {format_number(threshold)}"
        )
        above = f"Distance {distance:.2f} is greater than threshold {format_number(threshold)}"
        reason = (above if inverse else below) if passed else (below if inverse else above)
        return GradingResult(passed=passed, score=score, reason=reason)
    passed = measure <= threshold + _EPS if inverse else measure >= threshold - _EPS
    score = 1 - measure if inverse else measure
    ge = (
        f"Similarity {measure:.2f} is greater than or equal to threshold {format_number(threshold)}"
    )
    lt = f"Similarity {measure:.2f} is less than threshold {format_number(threshold)}"
    reason = (lt if inverse else ge) if passed else (ge if inverse else lt)
    return GradingResult(passed=passed, score=score, reason=reason)


@graded
async def similar(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``similar[:cosine|:dot|:euclidean]``: embedding similarity to the value(s).

    A list passes if any value is similar enough; ``not-similar`` must be dissimilar to all.
    """
    value = call.value
    if isinstance(value, str) and value:
        expected = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        expected = list(value)
    else:
        raise AssertionConfigError(
            f'"{call.base_type}" assertion must have a string value or a list of strings.'
        )
    metric = {"similar:dot": "dot", "similar:euclidean": "euclidean"}.get(call.base_type, "cosine")
    threshold = 0.75 if call.threshold is None else call.threshold
    vectors = await embed(call, [output_text(call.output), *expected])
    out_vec = vectors[0]
    measure_fn = {"cosine": cosine, "dot": dot_product, "euclidean": euclidean}[metric]
    results = [
        _similar_one(measure_fn(vec, out_vec), threshold, call.inverse, metric)
        for vec in vectors[1:]
    ]
    if call.inverse:
        failing = [r for r in results if not r.passed]
        return (
            min(failing, key=lambda r: r.score) if failing else min(results, key=lambda r: r.score)
        )
    passing = [r for r in results if r.passed]
    return max(passing or results, key=lambda r: r.score)


# --- answer-relevance ---------------------------------------------------------------------


@graded
async def answer_relevance(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``answer-relevance``: questions the output answers, compared with the query."""
    query = call.context.vars.get("query")
    if not isinstance(query, str) or not query.strip():
        query = call.context.prompt
    if not isinstance(query, str) or not query.strip():
        raise AssertionConfigError(
            '"answer-relevance" needs the user query: set `vars.query` (or grade a rendered '
            "prompt)."
        )
    threshold = 0.7 if call.threshold is None else call.threshold
    template = custom_prompt(call) or ANSWER_RELEVANCE_PROMPT
    messages = render_prompt(template, template_vars(call, answer=output_text(call.output)))
    questions = [(await ask(call, messages, tally)).strip() for _ in range(3)]
    vectors = await embed(call, [query, *questions])
    sims = [cosine(vectors[0], v) for v in vectors[1:]]
    mean = sum(sims) / len(sims)
    passed = mean >= threshold - _EPS
    word = "greater than" if passed else "less than"
    result = GradingResult(
        passed=passed,
        score=mean,
        reason=f"Relevance {mean:.2f} is {word} threshold {format_number(threshold)}",
    )
    return invert_graded(result, call.inverse)


# --- context-* ----------------------------------------------------------------------------


def _as_context(value: Any) -> str | list[str] | None:
    """A non-empty string or non-empty list of strings as context, else None."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


async def resolve_context(call: AssertionCall) -> str | list[str]:
    """The retrieved context: ``contextTransform`` over the output, else ``vars.context``."""
    name = call.base_type
    transform = _spec_field(call, "context_transform")
    if transform:
        value = await apply_transform(
            transform, call.output, call.context, spec=call.spec, what=f"contextTransform of {name}"
        )
        context = _as_context(value)
        if context is not None:
            return context
        raise AssertionConfigError(
            f"contextTransform of {name} must return a non-empty string or list of strings; "
            f"got {type(value).__name__} {str(value)[:80]!r}"
        )
    context = _as_context(call.context.vars.get("context"))
    if context is not None:
        return context
    raise AssertionConfigError(
        f'"{name}" needs the retrieved context: set `vars.context` (a string or a list of '
        "chunks) or give the assertion a `contextTransform` that extracts it from the output."
    )


def _require_query(call: AssertionCall) -> str:
    query = call.context.vars.get("query")
    if not isinstance(query, str) or not query.strip():
        raise AssertionConfigError(
            f'"{call.base_type}" needs the user question: set `vars.query` in the test.'
        )
    return query


def _context_text(context: str | list[str]) -> str:
    return context if isinstance(context, str) else "\n\n".join(context)


def split_lines(text: str) -> list[str]:
    """Non-empty lines."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def split_sentences(text: str) -> list[str]:
    """Sentences of prose (split after ``.``, ``!``, ``?`` and at line breaks)."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if p.strip()]


def _threshold0(call: AssertionCall) -> float:
    return 0.0 if call.threshold is None else call.threshold


def _score_vs_threshold(call: AssertionCall, label: str, score: float) -> GradingResult:
    """Pass when ``score`` reaches the threshold (default 0); ``not-`` applied."""
    threshold = _threshold0(call)
    passed = score >= threshold - _EPS
    op = ">=" if passed else "<"
    result = GradingResult(
        passed=passed,
        score=score,
        reason=f"{label} {score:.2f} is {op} {format_number(threshold)}",
    )
    return invert_graded(result, call.inverse)


@graded
async def context_recall(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``context-recall``: share of the reference answer's sentences the context supports."""
    truth = _text_value(
        call, "the expected answer (ground truth) whose facts the context should contain."
    )
    context = await resolve_context(call)
    tvars = template_vars(call, context=_context_text(context), groundTruth=truth)
    reply = await ask(
        call, render_prompt(custom_prompt(call) or CONTEXT_RECALL_PROMPT, tvars), tally
    )
    lines = [
        line
        for line in split_lines(reply)
        if RECALL_ATTRIBUTED in line.lower() or RECALL_NOT_ATTRIBUTED in line.lower()
    ]
    if not lines:
        raise GraderFailure("Grader returned no [Attributed]/[Not Attributed] classifications")
    attributed = sum(
        1
        for line in lines
        if RECALL_NOT_ATTRIBUTED not in line.lower() and RECALL_ATTRIBUTED in line.lower()
    )
    return _score_vs_threshold(call, "Recall", attributed / len(lines))


def _normalize_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


@graded
async def context_relevance(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``context-relevance``: share of the context's units that are relevant to the query."""
    query = _require_query(call)
    context = await resolve_context(call)
    text = _context_text(context)
    tvars = template_vars(call, context=text, query=query)
    reply = await ask(
        call, render_prompt(custom_prompt(call) or CONTEXT_RELEVANCE_PROMPT, tvars), tally
    )
    pre_segmented = isinstance(context, list) or len(split_lines(text)) > 1
    units = (
        [c for c in context if c.strip()]
        if isinstance(context, list)
        else (split_lines(text) if pre_segmented else split_sentences(text))
    )
    insufficient = RELEVANCE_INSUFFICIENT.lower() in reply.lower()
    segment = split_lines if pre_segmented else split_sentences
    relevant = [] if insufficient else list(dict.fromkeys(segment(reply)))
    if relevant:
        haystack = _normalize_ws(text)
        quoted = any(
            _normalize_ws(re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", s)) in haystack for s in relevant
        )
        if not quoted:
            raise GraderFailure("Grader output does not quote the provided context")
    score = min(len(relevant), len(units)) / len(units) if units else 0.0
    return _score_vs_threshold(call, "Context relevance", score)


def parse_faithfulness(reply: str, n_statements: int) -> float:
    """Score from per-statement Yes/No verdicts (missing verdicts count as unsupported)."""
    marker = "final verdict for each statement in order:"
    lowered = reply.lower().strip()
    if marker in lowered:
        answers = [
            a for a in lowered[lowered.index(marker) + len(marker) :].split(".") if a.strip()
        ]
        if answers and all(re.search(r"\b(?:yes|no)\b", a) for a in answers):
            unsupported = sum(1 for a in answers if "yes" not in a)
            missing = max(0, n_statements - len(answers))
            return min(1.0, max(0.0, 1 - (unsupported + missing) / n_statements))
    no = len(re.findall(r"verdict:\s*no\b", lowered))
    yes = len(re.findall(r"verdict:\s*yes\b", lowered))
    if no + yes == 0:
        raise GraderFailure("Could not parse context-faithfulness verdicts")
    missing = max(0, n_statements - no - yes)
    return min(1.0, max(0.0, 1 - (no + missing) / n_statements))


@graded
async def context_faithfulness(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``context-faithfulness``: share of the output's statements the context supports."""
    query = _require_query(call)
    context = await resolve_context(call)
    custom = custom_prompt(call)
    long_template: Any = FAITHFULNESS_STATEMENTS_PROMPT
    nli_template: Any = FAITHFULNESS_VERDICT_PROMPT
    if custom is not None:
        parts = json.loads(custom) if isinstance(custom, str) and custom.startswith("[") else custom
        if not isinstance(parts, list) or len(parts) != 2:
            raise AssertionConfigError(
                "context-faithfulness rubricPrompt must be a list of two prompts: "
                "[statements prompt, verdicts prompt]"
            )
        long_template, nli_template = (
            p.get("content") if isinstance(p, Mapping) else p for p in parts
        )
    answer = output_text(call.output)
    reply = await ask(
        call,
        render_prompt(long_template, template_vars(call, question=query, answer=answer)),
        tally,
    )
    statements = split_lines(reply)
    if not statements:
        raise GraderFailure("Could not extract context-faithfulness statements")
    tvars = template_vars(call, context=_context_text(context), statements=statements)
    verdicts = await ask(call, render_prompt(nli_template, tvars), tally)
    score = parse_faithfulness(verdicts, len(statements))
    return _score_vs_threshold(call, "Faithfulness", score)


HANDLERS: dict[str, BuiltinHandler] = {
    "llm-rubric": llm_rubric,
    "model-graded-closedqa": closed_qa,
    "factuality": factuality,
    "model-graded-factuality": factuality,
    "g-eval": g_eval,
    "answer-relevance": answer_relevance,
    "context-faithfulness": context_faithfulness,
    "context-recall": context_recall,
    "context-relevance": context_relevance,
    "similar": similar,
    "similar:cosine": similar,
    "similar:dot": similar,
    "similar:euclidean": similar,
}
