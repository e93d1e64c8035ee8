"""String-similarity assertions: levenshtein, rouge-n, bleu, gleu.

- ``levenshtein``: edit distance <= ``threshold`` (default 5; an explicit 0 is honoured);
  binary score.
- ``rouge-n``: ROUGE-1 recall as js-rouge computes it (matching unigrams / reference
  unigrams, Penn-Treebank-style tokens), case-insensitive; pass if >= threshold (0.75).
- ``bleu``: BLEU-4 with clipped n-gram precision against the best reference, brevity penalty
  from the closest reference length, zero precisions smoothed to 1e-7 (promptfoo's formula);
  threshold 0.5.
- ``gleu``: Google-BLEU, min(precision, recall) over 1..4-grams, best over references
  (trailing periods stripped from words); threshold 0.5.

Ratio types report the raw score, or ``1 - score`` under ``not-`` (promptfoo's rule).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from ._helpers import PASSED, describe_value, fmt_num, output_text, type_name, words
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert/delete/substitute, unit costs) between two strings."""
    if a == b:
        return 0
    # common prefix/suffix never change the distance
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _threshold(call: AssertionCall, default: float) -> float:
    t = call.threshold
    if t is None:
        return default
    if isinstance(t, bool) or not isinstance(t, (int, float)) or math.isnan(t):
        raise AssertionConfigError(
            f'"{type_name(call)}" threshold must be a number; got {describe_value(t)}.'
        )
    return float(t)


def handle_levenshtein(call: AssertionCall) -> GradingResult:
    """``levenshtein``: edit distance to the value is at most ``threshold`` (default 5)."""
    value = call.value
    if not isinstance(value, str):
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion type must have a string value; got '
            f"{describe_value(value)}. Fix: `value: expected text` and `threshold: 5`."
        )
    threshold = _threshold(call, 5.0)
    distance = levenshtein(output_text(call.output), value)
    within = distance <= threshold
    passed = within != call.inverse
    if passed:
        reason = PASSED
    elif call.inverse:
        reason = (
            f"Levenshtein distance {distance} is less than or equal to threshold "
            f"{fmt_num(threshold)}"
        )
    else:
        reason = f"Levenshtein distance {distance} is greater than threshold {fmt_num(threshold)}"
    return GradingResult(passed=passed, score=1.0 if passed else 0.0, reason=reason)


# --- n-gram metrics ----------------------------------------------------------------------

_TREEBANK = re.compile(r"\w+(?:[-'.]\w+)*|n't|'\w+|[^\w\s]")


def treebank_tokens(text: str) -> list[str]:
    """Penn-Treebank-flavoured tokens: words (with inner hyphens/apostrophes) and punctuation."""
    return _TREEBANK.findall(text)


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Contiguous n-grams of ``tokens`` (empty when there are fewer than ``n`` tokens)."""
    if n <= 0 or n > len(tokens):
        return []
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def rouge_n(candidate: str, reference: str, n: int = 1) -> float:
    """ROUGE-N recall: n-grams shared with the reference (multiset) / reference n-grams."""
    ref = ngrams(treebank_tokens(reference.lower()), n)
    if not ref:
        return 0.0
    cand = Counter(ngrams(treebank_tokens(candidate.lower()), n))
    matched = sum((cand & Counter(ref)).values())
    return matched / len(ref)


def bleu(candidate: str, references: Sequence[str]) -> float:
    """BLEU-4 (uniform weights) with brevity penalty; 0.0 for an empty candidate."""
    cand_words = words(candidate.lower())
    if not cand_words:
        return 0.0
    refs = [words(r.lower()) for r in references]
    closest = len(refs[0])
    for ref in refs[1:]:  # first reference wins ties, as in promptfoo
        if abs(len(ref) - len(cand_words)) < abs(closest - len(cand_words)):
            closest = len(ref)
    log_sum = 0.0
    for n in range(1, 5):
        cand_grams = ngrams(cand_words, n)
        cand_counts = Counter(cand_grams)
        best = 0
        for ref in refs:
            ref_counts = Counter(ngrams(ref, n))
            best = max(best, sum(min(c, ref_counts[g]) for g, c in cand_counts.items()))
        precision = best / len(cand_grams) if cand_grams else 0.0
        log_sum += 0.25 * math.log(precision if precision > 0 else 1e-7)
    if len(cand_words) > closest:
        penalty = 1.0
    else:
        penalty = math.exp(1 - len(cand_words) / closest) if closest else 0.0
    return penalty * math.exp(log_sum)


def _gleu_words(text: str) -> list[str]:
    return [re.sub(r"\.+$", "", w) for w in words(text.lower())]


def gleu(candidate: str, references: Sequence[str]) -> float:
    """Google-BLEU: best over references of min(precision, recall) over 1..4-grams."""
    cand = _gleu_words(candidate)
    if not cand:
        return 0.0
    best = 0.0
    for reference in references:
        ref = _gleu_words(reference)
        if cand == ref:
            return 1.0
        matched = cand_total = ref_total = 0
        for n in range(1, 5):
            c_grams, r_grams = ngrams(cand, n), ngrams(ref, n)
            matched += sum((Counter(c_grams) & Counter(r_grams)).values())
            cand_total += len(c_grams)
            ref_total += len(r_grams)
        if cand_total and ref_total:
            best = max(best, min(matched / cand_total, matched / ref_total))
    return best


def _references(call: AssertionCall) -> list[str]:
    value = call.value
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise AssertionConfigError(
        f'"{type_name(call)}" assertion type must have a string or array of strings value; '
        f"got {describe_value(value)}. Fix: `value: reference text` (or a list of references)."
    )


def _ratio_result(call: AssertionCall, label: str, score: float, threshold: float) -> GradingResult:
    meets = score >= threshold
    passed = meets != call.inverse
    if passed:
        reason = PASSED
    elif call.inverse:
        reason = (
            f"{label} score {score:.4f} is greater than or equal to threshold {fmt_num(threshold)}"
        )
    else:
        reason = f"{label} score {score:.4f} is less than threshold {fmt_num(threshold)}"
    return GradingResult(passed=passed, score=1.0 - score if call.inverse else score, reason=reason)


def handle_rouge_n(call: AssertionCall) -> GradingResult:
    """``rouge-n``: ROUGE-1 recall against the value >= threshold (default 0.75)."""
    value = call.value
    if not isinstance(value, str) or not value:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion type must be a string value; got '
            f"{describe_value(value)}. Fix: `value: reference text`."
        )
    threshold = _threshold(call, 0.75)
    return _ratio_result(call, "ROUGE-N", rouge_n(output_text(call.output), value), threshold)


def handle_bleu(call: AssertionCall) -> GradingResult:
    """``bleu``: BLEU-4 against the reference(s) >= threshold (default 0.5)."""
    refs = _references(call)
    threshold = _threshold(call, 0.5)
    return _ratio_result(call, "BLEU", bleu(output_text(call.output), refs), threshold)


def handle_gleu(call: AssertionCall) -> GradingResult:
    """``gleu``: GLEU against the reference(s) >= threshold (default 0.5)."""
    refs = _references(call)
    threshold = _threshold(call, 0.5)
    return _ratio_result(call, "GLEU", gleu(output_text(call.output), refs), threshold)


HANDLERS: dict[str, BuiltinHandler] = {
    "levenshtein": handle_levenshtein,
    "rouge-n": handle_rouge_n,
    "bleu": handle_bleu,
    "gleu": handle_gleu,
}
