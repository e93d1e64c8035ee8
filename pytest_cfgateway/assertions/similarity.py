"""String-similarity assertions: levenshtein, rouge-n, bleu, gleu.

- ``levenshtein``: edit distance <= ``threshold`` (default 5; an explicit 0 is honoured);
  binary score.
- ``rouge-n``: ROUGE-1 F1 as promptfoo 0.123 scores it: js-rouge's Penn-Treebank tokens of
  the lower-cased texts, clipped unigram overlap, F1 of precision and recall (js-rouge's
  ``fMeasure``); pass if >= threshold (0.75).
- ``bleu``: BLEU-4 over lower-cased whitespace tokens with clipped n-gram precision against
  the best reference; orders the candidate is too short for are skipped and the weights
  renormalised; zero precisions smoothed to 1e-7; brevity penalty ``exp(1 - r/c)`` from the
  closest reference length (shorter on ties); threshold 0.5.
- ``gleu``: Google-BLEU, min(precision, recall) over 1..4-grams, best over references
  (trailing periods stripped from words); threshold 0.5.

Ratio types report the raw score, or ``1 - score`` under ``not-`` (promptfoo's rule).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

from ._helpers import PASSED, describe_value, fmt_num, output_text, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult


def _utf16_units(text: str) -> Sequence[int] | str:
    """``text`` as JavaScript sees it: UTF-16 code units (an emoji is two)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return text
    return memoryview(text.encode("utf-16-le")).cast("H").tolist()


def levenshtein(a_text: str, b_text: str) -> int:
    """Edit distance (insert/delete/substitute, unit costs) between two strings, counted in
    UTF-16 code units as promptfoo (JavaScript) counts them."""
    if a_text == b_text:
        return 0
    a, b = _utf16_units(a_text), _utf16_units(b_text)
    if isinstance(a, str) != isinstance(b, str):
        a, b = (
            list(map(ord, a)) if isinstance(a, str) else a,
            (list(map(ord, b)) if isinstance(b, str) else b),
        )
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

#: JavaScript's ``\s`` (what ``trim()`` strips and ``split(/\s+/)`` splits on).
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)
_JS_SPACES = re.compile(f"[{_JS_SPACE}]+")
_TREEBANK_SPACES = re.compile(f"[{_JS_SPACE}\u0085]+")  # js-rouge also folds NEL
_WORDISH = r"[\w\u200c\u200d]"  # js-rouge's ID_Continue test, close enough for contractions
_CONTRACTIONS = [
    re.compile(rf"(?<!{_WORDISH}){pattern}(?!{_WORDISH})", re.IGNORECASE)
    for pattern in (
        "(can)(not)",
        "(d)('ye)",
        "(gim)(me)",
        "(gon)(na)",
        "(got)(ta)",
        "(lem)(me)",
        "(more)('n)",
        "(wan)(na)(?= )",
        "('t)(is)",
        "('t)(was)",
    )
]
_QUOTES = re.compile(r"``|''|\"")
_FINAL_PERIOD = re.compile(
    rf"([^.])(?<!\b[A-Za-z]\.[A-Za-z])(\.)([\])}}>'{_JS_SPACE}]*)\Z", re.ASCII
)


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACE)


def _category(char: str) -> str:
    return unicodedata.category(char) if char else ""


def _is_js_space(char: str) -> bool:
    return bool(char) and _JS_SPACES.fullmatch(char) is not None


def _classify_quotes(text: str) -> str:
    """Turn ``"``, `````` and ``''`` into opening ````` `` ````` or closing ``''`` tokens, with
    js-rouge's heuristic: a quote opens after whitespace, punctuation, ``<`` or the start, when
    not already inside a quotation and not right after ``.``/``!``/``?``."""
    inside = False

    def replace(m: re.Match[str]) -> str:
        nonlocal inside
        quote, index = m.group(0), m.start()
        before = text[index - 1] if index > 0 else ""
        after = text[index + 2] if index + 2 < len(text) else ""
        context_ok = (
            index + len(quote) < len(text)
            or index == 0
            or _is_js_space(before)
            or before == "<"
            or _category(before) == "Ps"
        )
        opens = not inside and (
            index == 0
            or _is_js_space(before)
            or before == "<"
            or _category(before).startswith("P")
            or text[max(0, index - 2) : index] == "``"
        )
        if quote == '"':
            shape_ok = True
        else:
            following = _QUOTES.search(text, index + 2)
            shape_ok = (
                index > 0
                and (_category(after)[:1] in ("L", "N") or _category(after) in ("Sc", "Ps"))
                and following is not None
                and following.group(0) == "''"
            )
        inside = quote == "``" or (
            context_ok and opens and before not in (".", "!", "?") and shape_ok
        )
        return " `` " if inside else " '' "

    return _QUOTES.sub(replace, text)


def treebank_tokens(text: str) -> list[str]:
    """Penn-Treebank tokens as js-rouge's ``treeBankTokenize`` splits them: words, punctuation
    (``,`` ``?`` ``!`` ``;`` brackets...), a sentence-final period, ``n't``/``'s`` clitics,
    and double quotes as `````/``''``. Case is kept."""
    text = _TREEBANK_SPACES.sub(" ", text).strip(" ")
    if not text:
        return []
    parse = _classify_quotes(text)
    parse = parse.replace("...", " ... ")
    parse = re.sub(r"[:,](?!\d)", r" \g<0> ", parse)
    parse = re.sub(r"[;@#$%&]", r" \g<0> ", parse)
    parse = _FINAL_PERIOD.sub(r"\1 \2\3 ", parse)
    parse = re.sub(r"[?!]", r" \g<0> ", parse)
    parse = re.sub(r"[\][(){}<>]", r" \g<0> ", parse)
    parse = parse.replace("--", " -- ")
    parse = f" {parse} "
    parse = re.sub(r"([^'])' ", r"\1 ' ", parse)
    parse = re.sub(r"'([sSmMdD]) ", r" '\1 ", parse)
    parse = re.sub(r"('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r" \1 ", parse)
    for contraction in _CONTRACTIONS:
        parse = contraction.sub(r" \1 \2 ", parse)
    parse = re.sub(r" {2,}", " ", parse)
    parse = re.sub(r"^ | \Z", "", parse)
    return parse.split(" ")


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Contiguous n-grams of ``tokens`` (empty when there are fewer than ``n`` tokens)."""
    if n <= 0 or n > len(tokens):
        return []
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def f_measure(precision: float, recall: float, beta: float = 1.0) -> float:
    """F-beta of precision and recall, computed the way js-rouge's ``fMeasure`` does (scaled
    by the smaller score, so the result never overshoots the larger one)."""
    if precision == recall:
        return precision
    if precision == 0 or recall == 0:
        return 0.0
    if beta < 1:
        return f_measure(recall, precision, 1 / beta)
    if precision > recall:
        weight = (1 / beta) ** 2
        return min(precision, recall * ((1 + weight) / (1 + weight * (recall / precision))))
    weight = beta * beta
    return min(recall, precision * ((1 + weight) / (1 + weight * (precision / recall))))


def rouge_n(candidate: str, reference: str, n: int = 1) -> float:
    """ROUGE-N F1 as promptfoo scores ``rouge-n``: case-insensitive Treebank tokens, clipped
    n-gram overlap (``min`` of the two counts), F1 of precision and recall; 0 when either
    side has fewer than ``n`` tokens or nothing overlaps."""
    cand_tokens = treebank_tokens(candidate.lower())
    ref_tokens = treebank_tokens(reference.lower())
    if len(cand_tokens) < n or len(ref_tokens) < n:
        return 0.0
    cand, ref = ngrams(cand_tokens, n), ngrams(ref_tokens, n)
    overlap = sum((Counter(cand) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    return f_measure(overlap / len(cand), overlap / len(ref))


def _js_words(text: str) -> list[str]:
    """``text.toLowerCase().trim().split(/\\s+/)`` (``[""]`` for blank text, as in JS)."""
    return _JS_SPACES.split(_js_trim(text.lower()))


def bleu(candidate: str, references: Sequence[str]) -> float:
    """BLEU-4 as promptfoo 0.123 computes it; 0.0 for a blank candidate.

    Lower-cased whitespace tokens; per order, clipped n-gram matches against the reference
    that matches best, over the candidate's n-gram count. Orders the candidate is too short
    to have are skipped and the uniform weights renormalised over the rest (so ``hi`` vs
    ``hi`` scores 1.0); a zero precision is smoothed to 1e-7. Brevity penalty
    ``exp(1 - r/c)`` when the candidate is not longer than ``r``, the reference length
    closest to the candidate's (the shorter on ties).
    """
    if not _js_trim(candidate):
        return 0.0
    cand = _js_words(candidate)
    refs = [_js_words(r) for r in references]
    closest = min((len(r) for r in refs), key=lambda length: (abs(length - len(cand)), length))
    log_sum = 0.0
    weight_sum = 0.0
    for n in range(1, 5):
        cand_grams = ngrams(cand, n)
        if not cand_grams:
            continue
        cand_counts = Counter(cand_grams)
        best = 0
        for ref in refs:
            ref_counts = Counter(ngrams(ref, n))
            best = max(best, sum(min(c, ref_counts[g]) for g, c in cand_counts.items()))
        precision = best / len(cand_grams)
        log_sum += 0.25 * math.log(precision if precision > 0 else 1e-7)
        weight_sum += 0.25
    if weight_sum == 0:
        return 0.0
    penalty = 1.0 if len(cand) > closest else math.exp(1 - closest / len(cand))
    return penalty * math.exp(log_sum / weight_sum)


def _gleu_words(text: str) -> list[str]:
    tokens = [w.rstrip(".") for w in _js_words(text)]
    return tokens if any(tokens) else []


def gleu(candidate: str, references: Sequence[str]) -> float:
    """Google-BLEU: best over references of min(precision, recall) of the 1..4-gram matches
    (lower-cased whitespace tokens, trailing periods stripped; identical token lists score
    1.0). Short outputs need no special case: orders they lack add nothing to either count."""
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


def _ratio_result(call: AssertionCall, score: float, passed: bool, reason: str) -> GradingResult:
    return GradingResult(passed=passed, score=1.0 - score if call.inverse else score, reason=reason)


def handle_rouge_n(call: AssertionCall) -> GradingResult:
    """``rouge-n``: ROUGE-1 F1 against the value >= threshold (default 0.75).

    The reason always states the comparison, as promptfoo's does (also when passing).
    """
    value = call.value
    if not isinstance(value, str) or not value:
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion type must be a string value; got '
            f"{describe_value(value)}. Fix: `value: reference text`."
        )
    threshold = _threshold(call, 0.75)
    score = rouge_n(output_text(call.output), value)
    meets = score >= threshold
    relation = "greater than or equal to" if meets else "less than"
    reason = f"ROUGE-N score {score:.2f} is {relation} threshold {fmt_num(threshold)}"
    return _ratio_result(call, score, meets != call.inverse, reason)


def _reference_ratio(
    call: AssertionCall,
    label: str,
    measure: Callable[[str, Sequence[str]], float],
    inverse_relation: str,
) -> GradingResult:
    """``measure`` of the output against the reference(s) >= threshold (default 0.5).

    ``inverse_relation`` words a failed ``not-`` assertion ("greater than ...").
    """
    refs = _references(call)
    threshold = _threshold(call, 0.5)
    score = measure(output_text(call.output), refs)
    passed = (score >= threshold) != call.inverse
    relation = inverse_relation if call.inverse else "less than"
    reason = (
        PASSED
        if passed
        else f"{label} score {score:.4f} is {relation} threshold {fmt_num(threshold)}"
    )
    return _ratio_result(call, score, passed, reason)


def handle_bleu(call: AssertionCall) -> GradingResult:
    """``bleu``: BLEU-4 against the reference(s) >= threshold (default 0.5)."""
    return _reference_ratio(call, "BLEU", bleu, "greater than")


def handle_gleu(call: AssertionCall) -> GradingResult:
    """``gleu``: GLEU against the reference(s) >= threshold (default 0.5)."""
    return _reference_ratio(call, "GLEU", gleu, "greater than or equal to")


HANDLERS: dict[str, BuiltinHandler] = {
    "levenshtein": handle_levenshtein,
    "rouge-n": handle_rouge_n,
    "bleu": handle_bleu,
    "gleu": handle_gleu,
}
