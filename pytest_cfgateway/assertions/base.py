"""Shared types of the assertion engine: results, context and the grader protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ..gateway.types import Classification, Completion, Message, Moderation


@dataclasses.dataclass
class GradingResult:
    """The verdict of one assertion, an assert-set, or a whole test case (promptfoo's shape)."""

    passed: bool
    score: float
    reason: str
    component_results: list[GradingResult] = dataclasses.field(default_factory=list)
    named_scores: dict[str, float] = dataclasses.field(default_factory=dict)
    assertion: Any = None  # the AssertionSpec (or dict) this result is for
    grader_error: bool = False  # transport/parse failure of a grader: never flipped by not-
    metric_only: bool = False
    tokens_used: int = 0

    def __bool__(self) -> bool:
        return self.passed

    # promptfoo's name for the flag, for users who think in its terms
    @property
    def pass_(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        """promptfoo's GradingResult JSON shape (used in outputs)."""
        d: dict[str, Any] = {"pass": self.passed, "score": self.score, "reason": self.reason}
        if self.named_scores:
            d["namedScores"] = dict(self.named_scores)
        if self.component_results:
            d["componentResults"] = [c.to_dict() for c in self.component_results]
        if self.assertion is not None:
            a = self.assertion
            d["assertion"] = (
                dataclasses.asdict(a)
                if dataclasses.is_dataclass(a) and not isinstance(a, type)
                else a
            )
        return d


ProviderRef = str | Mapping[str, Any]
"""A grader/provider reference: an id string or ``{id, config}``."""


class Grader(Protocol):
    """How model-graded assertions reach a model: always through the gateway call path."""

    async def complete(
        self, provider: ProviderRef, messages: list[Message], **options: Any
    ) -> Completion: ...

    async def embed(self, provider: ProviderRef, inputs: list[str]) -> list[list[float]]: ...

    async def moderate(self, provider: ProviderRef, text: str) -> Moderation:
        """Moderate ``text`` through a moderation route (OpenAI ``moderations``)."""
        ...

    async def moderate_chat(self, provider: ProviderRef, messages: list[Message]) -> Completion:
        """A chat call made for a moderation check (a Llama Guard model)."""
        ...

    async def classify(self, provider: ProviderRef, text: str) -> Classification:
        """Classify ``text`` with a text-classification model (Hugging Face)."""
        ...


@dataclasses.dataclass
class AssertionContext:
    """Everything an assertion may look at besides the output."""

    vars: dict[str, Any] = dataclasses.field(default_factory=dict)
    prompt: str | None = None
    completion: Completion | None = None  # latency, cost, tool calls, finish reason, logprobs
    provider_id: str | None = None
    provider_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    test: dict[str, Any] = dataclasses.field(default_factory=dict)  # options, metadata, ...
    base_dir: Path = dataclasses.field(default_factory=Path.cwd)  # for file:// paths
    grader: Grader | None = None
    #: grader provider from test options / --cf-grader, before the built-in default
    default_grader: ProviderRef | None = None
    default_embedding: ProviderRef | None = None
    #: all outputs of this row (select-best / max-score), keyed by item name
    row_outputs: dict[str, str] | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: How the ``webhook`` assertion reaches its URL: ``await webhook(url, body)`` returns
    #: ``(status, response text)``. The plugin passes one bound to the item's snapshot
    #: recorder (recorded like grader calls; replay never connects); None: a direct POST.
    webhook: WebhookPoster | None = None
    #: time limit (seconds) of each piece of user code: ``evaluateOptions.timeoutMs``, or
    #: None for the user-code executor's default
    timeout_s: float | None = None


WebhookPoster = Callable[[str, Any], Awaitable[tuple[int, str]]]
"""``poster(url, json_body) -> (status, text)``; raises ``httpx.HTTPError`` when no answer."""


#: What a plugin's ``register(name, fn)`` takes: ``fn(output, value, context)`` returning
#: bool, a number, a dict with pass/score/reason, or a GradingResult; may be async.
CustomAssertionFn = Callable[[str, Any, AssertionContext], Any | Awaitable[Any]]


@dataclasses.dataclass
class AssertionCall:
    """The input of one built-in assertion handler.

    ``value`` is already resolved (templated with vars, ``file://`` loaded); ``output`` has
    had the test-level and assertion-level transforms applied. A handler returns the *final*
    GradingResult with ``inverse`` (the ``not-`` prefix) already applied, following
    promptfoo's rule for its type: binary types flip ``passed`` and report score 1/0 of the
    final verdict; graded-score types (rouge, bleu, similar, llm-rubric...) report
    ``1 - score``. Grader transport/parse errors set ``grader_error=True`` and are never
    flipped (the engine enforces this too).
    """

    output: Any  # str, or a parsed object when the provider returned one
    value: Any
    spec: Any  # the AssertionSpec
    inverse: bool
    base_type: str  # type without the "not-" prefix
    threshold: float | None
    context: AssertionContext


BuiltinHandler = Callable[[AssertionCall], "GradingResult | Awaitable[GradingResult]"]


class AssertionConfigError(ValueError):
    """An assertion is configured wrongly (missing/ill-typed value, bad regex or schema...).

    The message names what is wrong and how to fix it. The engine reports it as an item
    *error*, never as a pass or an ordinary failure.
    """


class AssertionSkipped(Exception):
    """An assertion cannot run in this environment (e.g. no JavaScript engine installed).

    The message is the skip reason and names the fix; the runner turns it into a pytest
    skip of the item rather than a pass, a failure or an error.
    """
