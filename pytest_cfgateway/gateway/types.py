"""Plain data that flows through the gateway client.

`PreparedRequest` is what an adapter builds and what the snapshot layer fingerprints;
`RawResponse` is what came back (from the network or from a snapshot); `Completion` is what
users see. None of these know about pytest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

Message = dict[str, Any]
"""One chat message: ``{"role": "system" | "user" | "assistant" | "tool", "content": ...}``."""

CallKind = Literal["chat", "embed", "moderation", "classify"]


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts as the provider reported them (zeros where it reports nothing)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    @classmethod
    def of(cls, prompt: int | None, completion: int | None, total: int | None = None) -> Usage:
        p, c = int(prompt or 0), int(completion or 0)
        return cls(p, c, int(total) if total else p + c)


@dataclasses.dataclass(frozen=True)
class ChatCall:
    """What the caller asked for, after provider-id parsing and option splitting."""

    provider: str  # gateway slug: "openai", "anthropic", ..., "compat"
    model: str
    messages: list[Message]
    options: Mapping[str, Any]  # model options (temperature, max_tokens, tools, ...)
    config: Mapping[str, Any]  # provider config keys (resourceName, apiVersion, headers, ...)
    kind: CallKind = "chat"
    inputs: list[str] = dataclasses.field(default_factory=list)  # embeddings, moderation
    stream: bool = False  # ``stream: true``: ask the provider for its event stream


@dataclasses.dataclass(frozen=True)
class PreparedRequest:
    """A fully built gateway request.

    ``provider``/``path``/``query``/``body`` are what the fingerprint covers (after
    redaction); ``headers`` carry auth and ``cf-aig-*`` controls and are never fingerprinted
    or stored except by allow-list. ``secrets`` maps a secret's *name* (e.g. the env var it
    came from) to its value so every writer can scrub it; it is never written.
    """

    provider: str  # URL slug; "universal" means POST to the gateway root
    path: str  # route suffix after the slug, no leading slash
    body: Any
    headers: Mapping[str, str]
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    method: str = "POST"
    model: str = ""
    kind: CallKind = "chat"
    secrets: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    repeat: int = 0  # repeat index; part of the fingerprint
    adapter: str = ""  # adapter slug that builds and parses this request
    call: ChatCall | None = dataclasses.field(default=None, compare=False, repr=False)
    #: Problems found while preparing (e.g. no provider key and no gateway token); raised as
    #: GatewayConfigError only when the request is sent, since replay needs no keys.
    problems: tuple[str, ...] = dataclasses.field(default=(), compare=False)
    #: Universal (fallback) requests: one prepared request per step, in order. The step
    #: headers (provider auth) live here, not in ``body``, so the fingerprint stays keyless.
    steps: tuple[PreparedRequest, ...] = dataclasses.field(default=(), compare=False, repr=False)
    #: Streamed (``stream: true``): the reply is read as server-sent events and assembled.
    stream: bool = False


@dataclasses.dataclass
class RawResponse:
    """What the gateway answered. ``headers`` keys are lower-case."""

    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON, or the text when the body is not JSON
    latency_ms: float = 0.0
    replayed: bool = False
    #: Streamed replies: ms from the call's start to the first event carrying output (text
    #: or a tool-call fragment); ``body`` is then the assembled, non-streamed reply.
    ttft_ms: float | None = None


@dataclasses.dataclass
class ParsedReply:
    """What an adapter extracts from a provider's reply."""

    text: str
    usage: Usage = dataclasses.field(default_factory=Usage)
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # OpenAI-normalised
    logprobs: list[float] | None = None
    model: str | None = None  # as reported by the provider
    embeddings: list[list[float]] | None = None
    #: moderation: the flagged categories and their highest score over the results
    flags: dict[str, float] | None = None
    #: classify: each label's score (Hugging Face text-classification)
    scores: dict[str, float] | None = None


@dataclasses.dataclass
class Completion:
    """The answer to one ``complete``/``acomplete`` call."""

    text: str
    raw: Any
    usage: Usage
    provider: str
    model: str
    cost: float | None = None
    latency_ms: float = 0.0
    cache_status: str | None = None
    replayed: bool = False
    log_id: str | None = None
    step: int | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: list[float] | None = None
    fingerprint: str | None = None
    status: int = 200
    #: Time to first token in ms for a streamed call (``stream: true``); None otherwise.
    ttft_ms: float | None = None

    @property
    def streamed(self) -> bool:
        """True when the answer was streamed (it has a time to first token)."""
        return self.ttft_ms is not None

    @property
    def cached(self) -> bool:
        """True when the gateway served this answer from its cache."""
        return (self.cache_status or "").upper() == "HIT"


@dataclasses.dataclass
class Embeddings:
    """The answer to one ``embed`` call."""

    vectors: list[list[float]]
    usage: Usage
    provider: str
    model: str
    raw: Any = None
    cost: float | None = None
    latency_ms: float = 0.0
    cache_status: str | None = None
    replayed: bool = False
    fingerprint: str | None = None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, i: int) -> list[float]:
        return self.vectors[i]


@dataclasses.dataclass
class Moderation:
    """The answer to one ``moderation`` call.

    ``flags`` maps each category flagged in any result to its highest score (promptfoo's
    reading of OpenAI's reply: only results with ``flagged: true`` count).
    """

    flags: dict[str, float]
    usage: Usage
    provider: str
    model: str
    raw: Any = None
    cost: float | None = None
    latency_ms: float = 0.0
    cache_status: str | None = None
    replayed: bool = False
    fingerprint: str | None = None
    log_id: str | None = None

    @property
    def flagged(self) -> bool:
        """True when any category was flagged."""
        return bool(self.flags)

    @property
    def text(self) -> str:
        """A one-line reading of the verdict (what a snapshot shows and drift compares)."""
        if not self.flags:
            return "not flagged"
        return "flagged: " + ", ".join(sorted(self.flags))


@dataclasses.dataclass
class Classification:
    """The answer to one ``classify`` call (a Hugging Face text-classification model).

    ``scores`` maps each label the model returned to its score (promptfoo's classification
    map: a label named twice keeps its last score).
    """

    scores: dict[str, float]
    usage: Usage
    provider: str
    model: str
    raw: Any = None
    cost: float | None = None
    latency_ms: float = 0.0
    cache_status: str | None = None
    replayed: bool = False
    fingerprint: str | None = None
    log_id: str | None = None

    @property
    def text(self) -> str:
        """A one-line reading of the scores, highest first (what drift compares)."""
        if not self.scores:
            return "no labels"
        ranked = sorted(self.scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{label}={score:.4g}" for label, score in ranked)
