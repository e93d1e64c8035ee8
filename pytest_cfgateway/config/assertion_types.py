"""The assertion types promptfoo knows, which of them pytest-cfgateway runs, and their needs."""

from __future__ import annotations

#: promptfoo's BaseAssertionTypes (newest schema), in its order: compact strings match these.
PROMPTFOO_BASE_TYPES: tuple[str, ...] = (
    "answer-relevance",
    "bleu",
    "classifier",
    "contains",
    "contains-all",
    "contains-any",
    "contains-html",
    "contains-json",
    "contains-sql",
    "contains-xml",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "cost",
    "equals",
    "factuality",
    "finish-reason",
    "g-eval",
    "gleu",
    "guardrails",
    "icontains",
    "icontains-all",
    "icontains-any",
    "is-html",
    "is-json",
    "is-refusal",
    "is-sql",
    "is-valid-function-call",
    "is-valid-openai-function-call",
    "is-valid-openai-tools-call",
    "is-xml",
    "javascript",
    "latency",
    "levenshtein",
    "llm-rubric",
    "pi",
    "meteor",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity",
    "perplexity-score",
    "python",
    "regex",
    "rouge-n",
    "ruby",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "starts-with",
    "tool-call-f1",
    "skill-used",
    "trajectory:goal-success",
    "trajectory:tool-args-match",
    "trajectory:step-count",
    "trajectory:tool-sequence",
    "trajectory:tool-used",
    "trace-error-spans",
    "trace-span-count",
    "trace-span-duration",
    "search-rubric",
    "webhook",
    "word-count",
)

#: Types that never take ``not-`` (promptfoo's special types and assert-set).
SPECIAL_TYPES: tuple[str, ...] = ("assert-set", "select-best", "max-score", "human")

#: The text-matching types: all run here, and all need a ``value``.
_TEXT_MATCH_TYPES: tuple[str, ...] = (
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
)

#: Types pytest-cfgateway runs (SPEC section 5), without the ``not-`` prefix.
SUPPORTED_TYPES: frozenset[str] = frozenset(
    [
        *_TEXT_MATCH_TYPES,
        "is-json",
        "contains-json",
        "is-html",
        "contains-html",
        "is-xml",
        "contains-xml",
        "is-sql",
        "contains-sql",
        "is-valid-openai-tools-call",
        "is-valid-openai-function-call",
        "is-valid-function-call",
        "tool-call-f1",
        "finish-reason",
        "is-refusal",
        "levenshtein",
        "rouge-n",
        "bleu",
        "gleu",
        "word-count",
        "latency",
        "ttft",  # our extension (promptfoo 0.123.1 has no time-to-first-token assertion)
        "cost",
        "perplexity",
        "perplexity-score",
        "python",
        "javascript",
        "webhook",
        "assert-set",
        "select-best",
        "max-score",
        "llm-rubric",
        "model-graded-closedqa",
        "factuality",
        "model-graded-factuality",
        "g-eval",
        "answer-relevance",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "conversation-relevance",
        "moderation",
        "classifier",
        "similar",
        "similar:cosine",
        "similar:dot",
        "similar:euclidean",
    ]
)

#: Known promptfoo types pytest-cfgateway does not run (yet).
KNOWN_UNSUPPORTED_TYPES: frozenset[str] = frozenset(
    (set(PROMPTFOO_BASE_TYPES) | set(SPECIAL_TYPES) | {"rouge-l", "rouge-s", "agent-rubric"})
    - SUPPORTED_TYPES
)

#: Types whose ``value`` is required.
REQUIRES_VALUE: frozenset[str] = frozenset(
    [
        *_TEXT_MATCH_TYPES,
        "levenshtein",
        "rouge-n",
        "bleu",
        "gleu",
        "meteor",
        "word-count",
        "python",
        "javascript",
        "ruby",
        "webhook",
        "model-graded-closedqa",
        "factuality",
        "model-graded-factuality",
        "g-eval",
        "similar",
        "similar:cosine",
        "similar:dot",
        "similar:euclidean",
        "tool-call-f1",
        "finish-reason",
        "pi",
        "search-rubric",
        "select-best",
    ]
)

#: Types that need a ``threshold`` unless they only record a ``metric``.
REQUIRES_THRESHOLD: frozenset[str] = frozenset({"latency", "ttft", "cost"})

#: Types whose string values may be ``a, b, c`` lists (CSV-style quoting).
LIST_TYPES: frozenset[str] = frozenset(
    {"contains-any", "contains-all", "icontains-any", "icontains-all"}
)

#: Types that take a value in compact strings with a ``(threshold)`` (promptfoo's list).
THRESHOLD_TYPES: frozenset[str] = frozenset(
    [
        "answer-relevance",
        "classifier",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "cost",
        "latency",
        "levenshtein",
        "perplexity-score",
        "perplexity",
        "rouge-n",
        "similar",
        "starts-with",
    ]
)

#: Keys an assertion object may have.
ASSERTION_KEYS: tuple[str, ...] = (
    "type",
    "value",
    "threshold",
    "weight",
    "provider",
    "rubricPrompt",
    "metric",
    "transform",
    "contextTransform",
    "config",
    "normalizeUnicode",
)
ASSERT_SET_KEYS: tuple[str, ...] = ("type", "assert", "threshold", "weight", "metric", "config")


def base_type(type_: str) -> tuple[str, bool]:
    """``not-contains`` -> (``contains``, True); ``contains`` -> (``contains``, False)."""
    if type_.startswith("not-"):
        return type_[4:], True
    return type_, False


def all_known_types() -> list[str]:
    """Every type name promptfoo accepts (for did-you-mean)."""
    return sorted(set(PROMPTFOO_BASE_TYPES) | set(SPECIAL_TYPES) | KNOWN_UNSUPPORTED_TYPES)
