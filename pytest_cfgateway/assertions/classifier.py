"""``classifier``: a Hugging Face text-classification model scores the output, as promptfoo
0.123.1 does it.

Provider: the assertion's ``provider`` > the test's ``options.provider`` (defaultTest
included); an object without ``id`` gives its ``classification`` part. It must be
``huggingface:text-classification:<model>`` or ``huggingface:token-classification:<model>``:
the model is asked through the gateway's huggingface route (call kind ``classify``; text
classification sends ``{inputs: <output>, parameters: {}}`` and no provider ``config``, as
promptfoo does; token classification sends promptfoo's ``aggregation_strategy``,
``use_cache`` and ``wait_for_model`` and scores each entity group; an ``apiEndpoint`` the
gateway does not proxy makes the item a skip that names it). No provider at all is an item
error (promptfoo: "No provider of type classification found"), and so is any other provider
(promptfoo's other classification providers, Python files and OpenAI Decisions, do not go
through the gateway).

``value`` (optional, a string) is the class to score; without it the highest score of any
class counts. ``threshold`` defaults to 1. The check passes when the score is at least the
threshold (within ``Number.EPSILON``); its score is the class's score (0 when the model did
not return the class). ``not-classifier`` flips pass and score; an API error (or a reply
with no scores) is a grader error, never flipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..gateway.adapters.huggingface import TOKEN_TASK
from ..gateway.errors import (
    BudgetExceededError,
    GatewayError,
    NotRecordedError,
)
from ..gateway.routes import route_for_base_url, split_provider_id
from ._helpers import fmt_num, js_string, output_text
from .base import (
    AssertionCall,
    AssertionConfigError,
    AssertionSkipped,
    BuiltinHandler,
    GradingResult,
    ProviderRef,
)
from .graded import _grader, grader_failure, typed_provider

CHECK = "classification check"
#: promptfoo's Hugging Face providers that have ``callClassificationApi``.
CLASSIFICATION_MODES = frozenset({"text-classification", TOKEN_TASK})
#: JavaScript's Number.EPSILON: promptfoo compares ``score >= threshold - EPSILON``.
EPSILON = 2.0**-52


def classification_provider(call: AssertionCall) -> ProviderRef:
    """The classification provider reference of this assertion (see the module docstring)."""
    ref = typed_provider(
        call, "classification", "(e.g. classification: huggingface:text-classification:<model>)"
    )
    if ref is None:
        raise AssertionConfigError(
            f"No provider of type classification found for '{CHECK}'. Fix: give the "
            "assertion a provider, e.g. 'provider: huggingface:text-classification:"
            "<model>', or set it in the test's (or defaultTest's) options.provider."
        )
    return ref


def gateway_ref(ref: ProviderRef) -> ProviderRef:
    """``huggingface:{text,token}-classification:<model>`` as the gateway names it
    (``huggingface:<model>``, config kept, ``task`` set for token classification); raises
    for any other provider."""
    pid = ref.get("id") if isinstance(ref, Mapping) else ref
    if not isinstance(pid, str) or not pid.strip():
        raise AssertionConfigError(
            f"classification provider {ref!r} has no id. Fix: write e.g. 'provider: "
            "huggingface:text-classification:<model>'."
        )
    parts = split_provider_id(pid)
    if parts.family != "huggingface" or parts.mode not in CLASSIFICATION_MODES:
        raise AssertionConfigError(
            f"Provider {pid} is not a valid classification provider for '{CHECK}'. Fix: use "
            "huggingface:text-classification:<model> or huggingface:token-classification:"
            "<model> (the classification providers that go through Cloudflare AI Gateway)."
        )
    if not parts.model:
        raise AssertionConfigError(
            f"classification provider {pid!r} names no model. Fix: write "
            "huggingface:text-classification:<owner/model>."
        )
    gid = f"huggingface:{parts.model}"
    token = parts.mode == TOKEN_TASK
    if isinstance(ref, Mapping) or token:
        given = ref.get("config") if isinstance(ref, Mapping) else None
        config = dict(given or {})
        endpoint = config.get("apiEndpoint")
        if endpoint:
            target = route_for_base_url(str(endpoint))
            if target is None or target.slug != "huggingface":
                raise AssertionSkipped(
                    f"classification provider {pid!r} sets apiEndpoint: {str(endpoint)!r}, "
                    "which Cloudflare AI Gateway does not proxy; pytest-cfgateway skips the "
                    "items it grades (remove apiEndpoint to classify through the gateway's "
                    "huggingface route)"
                )
        if token:
            config["task"] = TOKEN_TASK
        return {"id": gid, "config": config}
    return gid


def expected_class(value: Any) -> str | None:
    """promptfoo's check of ``value``: a string, or unset."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    raise AssertionConfigError(
        '"classifier" assertion type must have a string value or be undefined. Fix: write '
        "the class name as a string (value: nothate), or leave value out to score the "
        "highest class."
    )


def _fixed(score: float) -> str:
    """JavaScript's ``score.toFixed(2)``: the double's exact value, a tie rounded away from
    zero (``0.125`` -> ``0.13``, where Python's format gives ``0.12``)."""
    if not math.isfinite(score):
        return fmt_num(score)
    return str(Decimal(score).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def verdict(scores: Mapping[str, float], expected: str | None, threshold: float) -> GradingResult:
    """promptfoo's classification verdict (before ``not-``)."""
    if not scores:
        return grader_failure("No classification scores returned")
    score = max(scores.values()) if expected is None else float(scores.get(expected) or 0)
    if expected is None:
        subject = f"Maximum classification score {_fixed(score)}"
    else:
        subject = f"Classification {expected} has score {_fixed(score)}"
    passed = score >= threshold - EPSILON
    sign = ">=" if passed else "<"
    return GradingResult(
        passed=passed, score=score, reason=f"{subject} {sign} {fmt_num(threshold)}"
    )


def _api_error(exc: GatewayError) -> str:
    """promptfoo's reason for a failed classification call: the provider's ``error``, or
    for a 2xx reply of another shape "Malformed response data" and the body as JavaScript's
    ``String()`` prints it."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and "error" in body:
        return f"API call error: {js_text(body['error'])}"
    status = getattr(exc, "status", None)
    if isinstance(status, int) and 200 <= status < 300:
        return f"Malformed response data: {js_text(body)}"
    return f"API call error: {exc}"


def js_text(value: Any, top: bool = True) -> str:
    """JavaScript's ``String(value)`` of a JSON value (an array joins its items with ``,``,
    null and undefined items print empty; an object is ``[object Object]``)."""
    if value is None:
        return "null" if top else ""
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(js_text(item, top=False) for item in value)
    return fmt_num(value) if isinstance(value, float) else js_string(value)


async def classifier(call: AssertionCall) -> GradingResult:
    """``classifier``: pass when the classification model scores the output's class at
    least ``threshold``."""
    expected = expected_class(call.value)
    threshold = 1.0 if call.threshold is None else float(call.threshold)
    target = gateway_ref(classification_provider(call))
    try:
        result = await _grader(call).classify(target, output_text(call.output))
    except (NotRecordedError, BudgetExceededError):
        raise
    except GatewayError as exc:
        return grader_failure(_api_error(exc))
    graded = verdict(result.scores, expected, threshold)
    if call.inverse and not graded.grader_error:
        graded.passed = not graded.passed
        graded.score = 1.0 - graded.score
    return graded


HANDLERS: dict[str, BuiltinHandler] = {"classifier": classifier}
