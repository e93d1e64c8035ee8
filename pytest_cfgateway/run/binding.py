"""One test's call path: its snapshot recorder and the recorder-bound gateways.

Config items and ``cf_gateway`` tests both get a `Binding`. Every call of the test (its own,
its graders', a select-best row's siblings) goes Recorder.resolve -> (snapshot | network),
and the network leg takes the answer the scheduler already started for this test, if any,
else makes the call within the session's budget.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

from .budget import claim_key, price
from .grader import RecordedWebhook
from .schedule import Prefetcher
from .state import RunState

if TYPE_CHECKING:
    import pytest

    from ..gateway.client import Gateway


@dataclasses.dataclass
class Tally:
    """What this test's network leg did (goes into its result record)."""

    spend: float = 0.0
    prefetched: int = 0
    #: usage of every answer the test got (counted for cf_gateway tests)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None


class Binding:
    """One test's recorder and its recorder-bound gateways. The gateway of the test's own
    calls is made at once; the others (graders, select-best row siblings, moderation and
    classifier checks, webhook POSTs) when first used: most tests use none of them."""

    def __init__(self, recorder: Any, gateway: Gateway, tally: Tally, through: Any) -> None:
        self.recorder = recorder
        self.gateway = gateway
        self.tally = tally
        self._through = through

    @functools.cached_property
    def grader_gateway(self) -> Gateway:
        """Model-graded assertions' calls (snapshot role ``grader``)."""
        gw: Gateway = self._through("grader")
        return gw

    @functools.cached_property
    def row_gateway(self) -> Gateway:
        """Calls made for the other items of a select-best/max-score row."""
        gw: Gateway = self._through("row")
        return gw

    @functools.cached_property
    def moderation_gateway(self) -> Gateway | None:
        """The moderation assertion's calls (snapshot role ``moderation``)."""
        gw: Gateway = self._through(MODERATION_ROLE)
        return gw

    @functools.cached_property
    def classifier_gateway(self) -> Gateway | None:
        """The classifier assertion's calls (snapshot role ``classifier``)."""
        gw: Gateway = self._through(CLASSIFIER_ROLE)
        return gw

    @functools.cached_property
    def webhook(self) -> Any:
        """The webhook assertion's POSTs, recorded with the item (`grader.RecordedWebhook`)."""
        return RecordedWebhook(self.recorder.resolver("webhook"))


#: the snapshot role of the ``moderation`` assertion's calls (``moderation``, ``moderation-2``)
MODERATION_ROLE = "moderation"
#: the snapshot role of the ``classifier`` assertion's calls (``classifier``, ``classifier-2``)
CLASSIFIER_ROLE = "classifier"


def record_command(node: pytest.Item) -> str:
    """The command that records one test (config items name their config, so the command
    works whatever the config file is called)."""
    case = getattr(node, "case", None)
    if case is None:
        return f"pytest --cf-mode record '{node.nodeid}'"
    config = node.nodeid.split("::", 1)[0]
    return f"pytest --cf-mode record --cf-config {config} '{node.nodeid}'"


def bind(
    state: RunState, node: pytest.Item, snapshot: Any, *, count_usage: bool = False
) -> Binding:
    """The recorder and gateways of one test (config item or ``cf_gateway`` test).

    ``count_usage``: add up the tokens and cost of every answer (replayed or live) in the
    binding's `Tally` (a config item's record takes them from its own completion instead).
    """
    from ..gateway.errors import GatewayError
    from ..snapshots import Recorder, load_recorded
    from ..snapshots.summary import Summary
    from .feedback import note_call

    _, adapters = state.registries(node.path, node.ihook)
    base = state.gateway(adapters)
    tally = Tally()

    finish = base.finish  # parses a reply once however often it is asked (its memo)

    def describe(req: Any, raw: Any) -> Summary:
        if not 200 <= raw.status < 300 or req.adapter not in base.adapters:
            return Summary()  # an error, or not a model call (a webhook verdict)
        if req.kind == "classify":
            try:
                done = finish(req, raw)
            except GatewayError:
                # a classification reply promptfoo reads as an error ({error}, or another
                # shape): kept, so replay gives the same grader error
                return Summary()
        else:
            done = finish(req, raw)
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

    def count_spend(req: Any, raw: Any) -> None:
        """Count a live reply's estimated cost in the test's record."""
        if getattr(raw, "replayed", False):
            return
        cost = price(base, req, raw)
        if cost:
            tally.spend += cost

    def count_answer(req: Any, raw: Any) -> None:
        if not 200 <= raw.status < 300:
            return
        try:
            done = finish(req, raw)
        except GatewayError:
            return  # the test gets the error itself
        usage = done.usage
        tally.prompt_tokens += usage.prompt_tokens
        tally.completion_tokens += usage.completion_tokens
        tally.total_tokens += usage.total_tokens
        if done.cost is not None:
            tally.cost = (tally.cost or 0.0) + done.cost

    prefetcher = Prefetcher.of(state.config)
    nodeid = node.nodeid

    occurrences: dict[str, int] = {}

    async def send_or_take(req: Any, send: Any, kind: str | None) -> Any:
        """The network leg of this test's recorder: a call the scheduler already started
        for this item, else the call made once in the run (`Budget.call`: the answer of
        another process that made it, or a new call within the run's limits)."""
        fp = base.fingerprint(req)
        occurrence = occurrences[fp] = occurrences.get(fp, -1) + 1
        future = prefetcher.take(nodeid, fp) if prefetcher and occurrence == 0 else None
        if future is not None:
            if future.done() and not future.cancelled():
                raw = future.result()  # the usual case: no asyncio future to chain
            else:
                import asyncio

                raw = await asyncio.wrap_future(future)
            tally.prefetched += 1
        else:
            raw = await state.budget.call(
                claim_key(nodeid, fp, occurrence),
                lambda: send(req),
                lambda r: price(base, req, r),
            )
        count_spend(req, raw)
        note_call(node, base, req, raw, kind)  # its log id, for --cf-feedback
        return raw

    recorder = Recorder(
        mode=state.settings.mode.value,
        recorded=load_recorded(snapshot),
        secrets=state.secrets,
        nodeid=node.nodeid,
        record_hint=record_command(node),
        describe=describe,
    )

    def through(kind: str | None) -> Any:
        resolve = recorder.resolver(kind) if kind else recorder.resolve

        async def resolver(req: Any, send: Any) -> Any:
            raw = await resolve(req, lambda r: send_or_take(r, send, kind))
            if count_usage:
                count_answer(req, raw)
            return raw

        return base.with_resolver(resolver)

    return Binding(recorder, through(None), tally, through)
