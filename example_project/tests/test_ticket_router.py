"""Ordinary pytest tests of the ticket router, calling models through the gateway.

`cf_gateway` records and replays these calls like the config items (snapshots in
tests/__snapshots__/test_ticket_router.py/), and `cf_assert` runs promptfoo's assertion
types, model-graded ones included, from Python.
"""

from __future__ import annotations

import asyncio
import json

import pytest

TRIAGE_PROMPT = (
    "You triage customer support tickets for Acme Cloud Storage.\n"
    "Classify the support ticket below. Reply with a JSON object only, with two keys:\n"
    '"category": one of "billing", "bug", "account", "feature-request";\n'
    '"priority": one of "low", "normal", "high", "urgent".\n\n'
    "Ticket:\n{ticket}\n"
)


def route(answer_text: str) -> str:
    """The queue a ticket goes to, from the model's triage JSON (the code under test)."""
    triage = json.loads(answer_text)
    if triage["priority"] == "urgent":
        return "on-call"
    return {"billing": "finance", "bug": "engineering"}.get(triage["category"], "support")


@pytest.mark.cf_gateway(provider="openai:gpt-4o-mini", temperature=0)
def test_a_crash_goes_to_on_call(cf_gateway, cf_assert):
    ticket = "The desktop app crashes every time it starts syncing. Our whole team is blocked."
    answer = cf_gateway.complete(TRIAGE_PROMPT.format(ticket=ticket))
    cf_assert(answer, "is-json")
    cf_assert(answer, "javascript", "JSON.parse(output).priority === 'urgent'")
    assert route(answer.text) == "on-call"


@pytest.mark.cf_gateway(provider="anthropic:claude-3-5-haiku-latest", max_tokens=100)
def test_a_refund_goes_to_finance(cf_gateway, cf_assert):
    ticket = "I was charged twice for my March invoice, please refund one of the payments."
    answer = cf_gateway.complete(TRIAGE_PROMPT.format(ticket=ticket))
    assert route(answer.text) == "finance"
    # model-graded, through the gateway: the grader's call is recorded with this test
    verdict = cf_assert(
        answer,
        "llm-rubric",
        "classifies a double charge as billing",
        provider="openai:gpt-4o-mini",
        raise_on_fail=False,
    )
    assert verdict.passed, verdict.reason


@pytest.mark.anyio  # anyio's pytest plugin ships with httpx; pytest-asyncio works too
async def test_the_same_ticket_on_three_providers(cf_gateway):
    ticket = "Could you add a dark mode to the web dashboard? Not urgent at all."
    prompt = TRIAGE_PROMPT.format(ticket=ticket)
    answers = await asyncio.gather(
        cf_gateway.acomplete("openai:gpt-4o-mini", prompt, temperature=0),
        cf_gateway.acomplete("anthropic:claude-3-5-haiku-latest", prompt, max_tokens=100),
        cf_gateway.acomplete("workers-ai:@cf/meta/llama-3.1-8b-instruct", prompt),
    )
    assert {route(a.text) for a in answers} == {"support"}
