"""``conversation-relevance``: is each assistant turn relevant to the conversation so far?

promptfoo 0.123.1's algorithm: the conversation is ``vars._conversation`` (a list of
``{input, output}`` turns) when it is a non-empty list, else the one turn ``{prompt,
output}``. For each turn ``i`` the grader judges the window of turns ``i - windowSize + 1
.. i`` (``config.windowSize``, default 5) and answers JSON ``{"verdict": "yes"|"no",
"reason"}`` about the window's last assistant message. The score is the fraction of relevant
windows; the check passes when ``score >= threshold`` (default 0.5). When some window was
judged irrelevant (with a reason) the grader is asked once more to summarise those reasons
into the result's reason; otherwise, and when that summary fails, the reason is
``"<n> out of <m> conversation windows were relevant"``.

A grader reply without a JSON object, or with another verdict, makes the whole check a
grader error (never flipped by ``not-``). ``rubricPrompt`` replaces the verdict prompt; it
is rendered with the test vars and ``messages`` (the window's ``{input, output}`` turns).
The grading prompts are this project's wording; the reply contracts are promptfoo's.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from typing import Any

from ..gateway.types import Message
from ._helpers import js_string, output_text
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult
from .graded import (
    GraderFailure,
    _Tally,
    ask,
    custom_prompt,
    first_json_object,
    graded,
    render_prompt,
    template_vars,
)

DEFAULT_WINDOW_SIZE = 5
DEFAULT_THRESHOLD = 0.5
#: promptfoo leaves this default reason out of the list of irrelevancies
NOT_RELEVANT = "Response is not relevant to the conversation context"

VERDICT_PROMPT = (
    "Below is a conversation between a user and an AI assistant, as a JSON list of "
    "messages. Judge only the LAST assistant message: is it relevant to what the user "
    "asked, given the earlier messages?\n\n"
    "Answer 'no' only when that message has nothing to do with the conversation. A vague "
    "reply to a vague message (a greeting, small talk) is relevant.\n\n"
    "Reply with one JSON object and nothing else:\n"
    '{"verdict": "yes"} when it is relevant, or\n'
    '{"verdict": "no", "reason": "<which message is off-topic and why, in one sentence>"}\n\n'
    "Messages:\n{{ messages_json }}"
)

REASON_PROMPT = (
    "Some assistant replies in a conversation were judged irrelevant to the user's "
    "messages; the reasons are listed below. The conversation's relevancy score, from 0 "
    "(nothing relevant) to 1 (all relevant), is {{ score }}.\n\n"
    "Summarise in one or two sentences why the score is what it is, naming the irrelevant "
    "replies and what they said. Reply with one JSON object and nothing else: "
    '{"reason": "The score is <score> because <reason>."}\n\n'
    "Reasons:\n{{ irrelevancies_json }}"
)


def conversation_of(call: AssertionCall) -> list[Mapping[str, Any]]:
    """The turns to judge: ``vars._conversation``, else the prompt and the output."""
    turns = call.context.vars.get("_conversation")
    if isinstance(turns, list) and turns:
        bad = [i for i, t in enumerate(turns) if not isinstance(t, Mapping)]
        if bad:
            raise AssertionConfigError(
                f"vars._conversation[{bad[0]}] must be a mapping with 'input' and 'output'; "
                "Fix: write each turn as {input: ..., output: ...}."
            )
        return list(turns)
    if isinstance(turns, str) and turns:  # promptfoo slices the text and fails on it
        raise AssertionConfigError(
            "vars._conversation must be a list of {input, output} turns, got text; "
            "Fix: write it as a YAML list (a JSON string from a CSV cell is not parsed)."
        )
    prompt = call.context.prompt
    if not prompt:
        raise AssertionConfigError(
            "conversation-relevance needs a prompt (or vars._conversation) to judge against"
        )
    return [{"input": prompt, "output": output_text(call.output)}]


def window_size(call: AssertionCall) -> int:
    """``config.windowSize``; promptfoo's ``|| 5`` (unset, 0 or empty: 5)."""
    config = getattr(call.spec, "config", None)
    if config is None and isinstance(call.spec, Mapping):
        config = call.spec.get("config")
    size = config.get("windowSize") if isinstance(config, Mapping) else None
    if not size:
        return DEFAULT_WINDOW_SIZE
    if isinstance(size, str):  # JavaScript's arithmetic takes "3" as 3
        try:
            size = float(size.strip())
        except ValueError:
            pass
    if isinstance(size, bool) or not isinstance(size, int | float) or size < 1:
        raise AssertionConfigError(
            f"conversation-relevance config.windowSize must be a positive whole number, got "
            f"{size!r}. Fix: e.g. windowSize: 3"
        )
    return math.ceil(size)


def _text(value: Any) -> str:
    """A turn's input/output as text: strings as-is, the rest as ``JSON.stringify`` does."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def as_messages(window: list[Mapping[str, Any]]) -> list[Message]:
    """The window as promptfoo's user/assistant message list (non-strings as JSON)."""
    out: list[Message] = []
    for turn in window:
        out.append({"role": "user", "content": _text(turn.get("input"))})
        out.append({"role": "assistant", "content": _text(turn.get("output"))})
    return out


def parse_verdict(text: str) -> GradingResult:
    """One window's reply -> relevant (score 1) or not (score 0); GraderFailure if unusable."""
    obj = first_json_object(text)
    if obj is None:
        raise GraderFailure("Error parsing output: No JSON object found in response")
    verdict = obj.get("verdict")
    if verdict not in ("yes", "no"):
        raise GraderFailure(
            "Error parsing output: Conversation relevance grader returned an invalid verdict"
        )
    relevant = verdict == "yes"
    reason = obj.get("reason")
    if not reason:
        reason = f"Response {'is' if relevant else 'is not'} relevant to the conversation context"
    return GradingResult(passed=relevant, score=1.0 if relevant else 0.0, reason=str(reason))


async def _judge(
    call: AssertionCall, window: list[Mapping[str, Any]], tally: _Tally
) -> GradingResult:
    template = custom_prompt(call)
    if template is not None:
        tvars = template_vars(call, messages=[dict(t) for t in window])
        messages = render_prompt(template, tvars)
    else:
        shown = json.dumps(as_messages(window), indent=2, ensure_ascii=False)
        messages = render_prompt(VERDICT_PROMPT, {"messages_json": shown})
    return parse_verdict(await ask(call, messages, tally))


async def _summary(
    call: AssertionCall, score: float, irrelevancies: list[str], tally: _Tally
) -> str | None:
    """The grader's summary of the irrelevancies, or None when it gives none."""
    tvars = {
        "score": js_string(score),
        "irrelevancies_json": json.dumps(irrelevancies, indent=2, ensure_ascii=False),
    }
    try:
        reply = await ask(call, render_prompt(REASON_PROMPT, tvars), tally)
    except GraderFailure:
        return None
    obj = first_json_object(reply)
    reason = obj.get("reason") if obj else None
    return str(reason) if reason else None


@graded
async def conversation_relevance(call: AssertionCall, tally: _Tally) -> GradingResult:
    """``conversation-relevance``: the share of conversation windows judged relevant."""
    turns = conversation_of(call)
    size = window_size(call)
    threshold = DEFAULT_THRESHOLD if call.threshold is None else call.threshold
    relevant = 0
    irrelevancies: list[str] = []
    for i in range(len(turns)):
        result = await _judge(call, turns[max(0, i - size + 1) : i + 1], tally)
        if result.passed:
            relevant += 1
        elif result.reason and result.reason != NOT_RELEVANT:
            irrelevancies.append(result.reason)
    total = len(turns)
    score = relevant / total if total else 0.0
    passed = score >= threshold - sys.float_info.epsilon
    fallback = f"{relevant} out of {total} conversation windows were relevant"
    reason = fallback
    if irrelevancies and score < 1:
        reason = await _summary(call, score, irrelevancies, tally) or fallback
    if call.inverse:
        passed, score = not passed, 1.0 - score
    return GradingResult(passed=passed, score=score, reason=reason)


HANDLERS: dict[str, BuiltinHandler] = {"conversation-relevance": conversation_relevance}
