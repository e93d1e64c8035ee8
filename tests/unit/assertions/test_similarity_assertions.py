"""levenshtein, rouge-n, bleu, gleu: defaults, boundaries, inverse scores, config errors."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionConfigError,
    GradingResult,
)
from pytest_cfgateway.assertions.similarity import (
    HANDLERS,
    bleu,
    f_measure,
    gleu,
    levenshtein,
    rouge_n,
    treebank_tokens,
)

from .assertion_helpers import assertion_call, run_sync


def run(type_: str, value: Any, output: Any, threshold: float | None = None) -> GradingResult:
    return run_sync(HANDLERS, assertion_call(type_, value, output, threshold=threshold))


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("abc", "", 3),
        ("same", "same", 0),
        ("flaw", "lawn", 2),
        ("prefix-x-suffix", "prefix-yy-suffix", 2),
        ("ça va", "ca va", 1),
    ],
)
def test_levenshtein_distance(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


LEVENSHTEIN: list[tuple[str, str, str, float | None, bool]] = [
    ("levenshtein", "hello world", "hello world", None, True),
    ("levenshtein", "hello world", "hallo wurld", None, True),
    ("levenshtein", "abcde", "vwxyz", None, True),  # distance 5 == default threshold
    ("levenshtein", "abcdef", "uvwxyz", None, False),  # distance 6 > 5
    ("levenshtein", "abc", "abc", 0, True),  # explicit 0 is honoured
    ("levenshtein", "abc", "abd", 0, False),  # ... and not treated as "unset" (5)
    ("levenshtein", "kitten", "sitting", 3, True),
    ("levenshtein", "kitten", "sitting", 2, False),
    ("not-levenshtein", "kitten", "sitting", 2, True),
    ("not-levenshtein", "kitten", "sitting", 3, False),
    ("not-levenshtein", "hello", "hello", None, False),
    ("not-levenshtein", "short", "a completely different sentence", None, True),
]


@pytest.mark.parametrize(("type_", "value", "output", "threshold", "expected"), LEVENSHTEIN)
def test_levenshtein(
    type_: str, value: str, output: str, threshold: float | None, expected: bool
) -> None:
    result = run(type_, value, output, threshold)
    assert result.passed is expected, result.reason
    assert result.score == (1.0 if expected else 0.0)


def test_levenshtein_reasons() -> None:
    assert (
        run("levenshtein", "abcdef", "uvwxyz").reason
        == "Levenshtein distance 6 is greater than threshold 5"
    )
    assert (
        run("not-levenshtein", "a", "a").reason
        == "Levenshtein distance 0 is less than or equal to threshold 5"
    )


def test_rouge_n_values() -> None:
    # promptfoo 0.123.1 scores rouge-n as the F1 of clipped unigram precision and recall
    # (values computed with promptfoo's own rougeNScore + js-rouge 3.2.3)
    assert rouge_n("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    assert rouge_n("The Cat Sat on the mat", "the cat sat on the mat") == 1.0  # case-insensitive
    assert rouge_n("the the the", "the cat") == pytest.approx(0.4)  # clipped counts
    assert rouge_n("", "the cat") == 0.0
    assert rouge_n("a dog", "") == 0.0
    # the fidelity corpus case: punctuation tokens lower precision, recall stays 1
    assert rouge_n("Hello, world! How are you?", "hello world how are you") == pytest.approx(
        0.7692307692307693, abs=1e-12
    )
    assert rouge_n('He said "yes" loudly.', "he said yes loudly") == pytest.approx(
        0.7272727272727272, abs=1e-12
    )


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The cat's mat, isn't it?", ["The", "cat", "'s", "mat", ",", "is", "n't", "it", "?"]),
        ("Hello, world! How are you?", ["Hello", ",", "world", "!", "How", "are", "you", "?"]),
        ('He said "yes" loudly.', ["He", "said", "``", "yes", "''", "loudly", "."]),
        ("I cannot go, gonna stay", ["I", "can", "not", "go", ",", "gon", "na", "stay"]),
        (
            "It costs $5.00, or 1,000 yen; ok?",
            ["It", "costs", "$", "5.00", ",", "or", "1,000", "yen", ";", "ok", "?"],
        ),
        ("U.S.A. is big.", ["U.S.A.", "is", "big", "."]),
        ("e.g. this... and -- (that)", ["e.g.", "this", "...", "and", "--", "(", "that", ")"]),
        ("'Tis she'll we're", ["'T", "is", "she", "'ll", "we", "'re"]),
        ("multi\nline\ttext  ", ["multi", "line", "text"]),
        ("   ", []),
    ],
)
def test_treebank_tokens_match_js_rouge(text: str, tokens: list[str]) -> None:
    assert treebank_tokens(text) == tokens


def test_f_measure_matches_js_rouge_special_cases() -> None:
    assert f_measure(0.5, 0.5) == 0.5
    assert f_measure(0.0, 1.0) == 0.0
    assert f_measure(5 / 8, 1.0) == pytest.approx(2 * (5 / 8) / (1 + 5 / 8))
    assert f_measure(1.0, 5 / 8) == pytest.approx(2 * (5 / 8) / (1 + 5 / 8))


ROUGE: list[tuple[str, str, str, float | None, bool, float]] = [
    # type, value, output, threshold, expected pass, expected score
    ("rouge-n", "the cat sat on the mat", "the cat sat on the mat", None, True, 1.0),
    ("rouge-n", "the cat sat on the mat", "the cat sat", None, False, 2 / 3),
    ("rouge-n", "the cat sat on the mat", "the cat sat", 0.5, True, 2 / 3),
    ("rouge-n", "the cat sat on the mat", "a dog ran", None, False, 0.0),
    ("not-rouge-n", "the cat sat on the mat", "a dog ran", None, True, 1.0),
    ("not-rouge-n", "the cat sat on the mat", "the cat sat", None, True, 1 / 3),
    ("not-rouge-n", "the cat sat on the mat", "the cat sat on a mat", None, False, 1 - 5 / 6),
    ("rouge-n", "The quick brown fox.", "the quick brown fox", 0.75, True, 8 / 9),
    # recall 1 but precision 5/8: F1 0.769 (promptfoo), not recall 1.0
    ("rouge-n", "hello world how are you", "Hello, world! How are you?", 0.8, False, 10 / 13),
]


@pytest.mark.parametrize(("type_", "value", "output", "threshold", "expected", "score"), ROUGE)
def test_rouge_n(
    type_: str, value: str, output: str, threshold: float | None, expected: bool, score: float
) -> None:
    result = run(type_, value, output, threshold)
    assert result.passed is expected, result.reason
    assert result.score == pytest.approx(score)


def test_rouge_reason_texts() -> None:
    # promptfoo states the comparison (2 decimals) whether or not the assertion passed
    assert (
        run("rouge-n", "the cat sat on the mat", "the cat sat").reason
        == "ROUGE-N score 0.67 is less than threshold 0.75"
    )
    assert (
        run("not-rouge-n", "a b", "a b").reason
        == "ROUGE-N score 1.00 is greater than or equal to threshold 0.75"
    )
    assert (
        run("rouge-n", "a b", "a b").reason
        == "ROUGE-N score 1.00 is greater than or equal to threshold 0.75"
    )


def test_bleu_values_match_promptfoo_expectations() -> None:
    ref = ["The cat sat on the mat."]
    assert bleu("The cat sat on the mat.", ref) > 0.999
    assert 0.0 < bleu("Dogs run in the park.", ref) < 0.001
    assert 0.5 < bleu("The dog sat on the mat.", ref) < 1.0
    assert 0.0 < bleu("The cat sat.", ref) < 1.0
    refs = ["The cat sat on the mat.", "There is a cat on the mat.", "A cat is sitting on the mat."]
    assert bleu("The cat was sitting on the mat.", refs) > 0.25
    assert (
        bleu("The cat sat on mat.", ["The cat sat on mat.", "Cat mat.", "A cat is on a mat."])
        > 0.999
    )
    assert bleu("", ref) == 0.0
    assert bleu("   ", ref) == 0.0


@pytest.mark.parametrize(
    ("candidate", "references", "score"),
    [
        # values computed with promptfoo 0.123.1's calculateBleuScore
        # outputs shorter than 4 words: missing orders are skipped, weights renormalised
        ("hi", ["hi"], 1.0),
        ("cat", ["cat"], 1.0),
        ("good dog", ["good dog"], 1.0),
        ("the good dog", ["the good dog"], 1.0),
        ("hi there", ["hello there"], 0.00022360679774997909),
        ("the the the", ["the cat"], 1.4938015821857238e-05),
        # brevity penalty exp(1 - r/c) for a candidate shorter than the reference
        ("the cat", ["the cat sat on the mat"], 0.1353352832366127),
        ("the cat sat", ["the cat sat on the mat"], 0.36787944117144233),
        ("a b c d e", ["a b c d e f g"], 0.6703200460356393),
        ("The cat sat.", ["The cat sat on the mat."], 0.0011839456508855963),
        # equally close references: the shorter one sets the penalty, in either order
        ("a b c d", ["a b c", "a b c d e"], 1.0),
        ("a b c d", ["a b c d e", "a b c"], 1.0),
        ("the quick brown fox", ["The quick brown fox."], 0.012574334296829352),
    ],
)
def test_bleu_exact_values(candidate: str, references: list[str], score: float) -> None:
    assert bleu(candidate, references) == pytest.approx(score, rel=1e-12, abs=1e-15)


BLEU: list[tuple[str, Any, str, float | None, bool]] = [
    ("bleu", "The cat sat on the mat.", "The cat sat on the mat.", None, True),
    (
        "bleu",
        ["The cat sat on mat.", "The cat is sitting on mat."],
        "The cat sat on mat.",
        None,
        True,
    ),
    ("bleu", "The cat sat on the mat.", "The dog sat on the mat.", 0.8, False),
    ("bleu", "The cat sat on the mat.", "The dog ran in the park.", None, False),
    ("not-bleu", "The cat sat on the mat.", "The dog ran in the park.", 0.8, True),
    ("not-bleu", "The cat sat on the mat.", "The cat sat on the mat.", None, False),
    ("bleu", "hi", "hi", None, True),
    ("not-bleu", "hi", "hi", None, False),
]


@pytest.mark.parametrize(("type_", "value", "output", "threshold", "expected"), BLEU)
def test_bleu(type_: str, value: Any, output: str, threshold: float | None, expected: bool) -> None:
    result = run(type_, value, output, threshold)
    assert result.passed is expected, result.reason
    raw = bleu(output, value if isinstance(value, list) else [value])
    assert result.score == pytest.approx(1 - raw if type_.startswith("not-") else raw)


def test_bleu_reason() -> None:
    reason = run("bleu", "The cat sat on the mat.", "The dog sat on the mat.", 0.8).reason
    assert reason.startswith("BLEU score 0.") and reason.endswith("is less than threshold 0.8")
    assert run("not-bleu", "hi", "hi").reason == "BLEU score 1.0000 is greater than threshold 0.5"


def test_gleu_values() -> None:
    assert gleu("the cat sat", ["the cat ran"]) == pytest.approx(0.5)
    assert gleu("The cat sat on the mat.", ["the cat sat on the mat"]) == 1.0  # periods, case
    assert gleu("completely different", ["nothing shared here"]) == 0.0
    assert gleu("the cat sat", ["a dog", "the cat ran"]) == pytest.approx(0.5)  # best reference
    assert gleu("   ", ["x"]) == 0.0
    # short outputs need no special case in GLEU (promptfoo 0.123.1 values)
    assert gleu("hi", ["hi"]) == 1.0
    assert gleu("hi there", ["hello there"]) == pytest.approx(1 / 3)
    assert gleu("the cat", ["the cat sat on the mat"]) == pytest.approx(1 / 6)
    assert gleu("the quick brown fox", ["The quick brown fox."]) == 1.0
    assert gleu("...", ["x"]) == 0.0  # nothing left after stripping periods


GLEU: list[tuple[str, Any, str, float | None, bool, float]] = [
    ("gleu", "the cat ran", "the cat sat", None, True, 0.5),  # 0.5 >= default 0.5
    ("gleu", "the cat ran", "the cat sat", 0.6, False, 0.5),
    ("gleu", ["x y", "the cat sat"], "the cat sat", None, True, 1.0),
    ("not-gleu", "the cat ran", "the cat sat", 0.6, True, 0.5),
    ("not-gleu", "the cat sat", "the cat sat", None, False, 0.0),
    ("not-gleu", "alpha beta", "gamma delta", None, True, 1.0),
]


@pytest.mark.parametrize(("type_", "value", "output", "threshold", "expected", "score"), GLEU)
def test_gleu(
    type_: str, value: Any, output: str, threshold: float | None, expected: bool, score: float
) -> None:
    result = run(type_, value, output, threshold)
    assert result.passed is expected, result.reason
    assert result.score == pytest.approx(score)


@pytest.mark.parametrize(
    ("type_", "value", "threshold", "message"),
    [
        ("levenshtein", None, None, "must have a string value"),
        ("levenshtein", 42, None, "must have a string value"),
        ("levenshtein", "x", "five", "threshold must be a number"),
        ("rouge-n", ["a"], None, "must be a string value"),
        ("rouge-n", "", None, "must be a string value"),
        ("not-rouge-n", 3, None, '"not-rouge-n"'),
        ("bleu", None, None, "string or array of strings"),
        ("bleu", ["ok", 3], None, "string or array of strings"),
        ("bleu", [], None, "string or array of strings"),
        ("gleu", {"a": 1}, None, "string or array of strings"),
    ],
)
def test_bad_config_is_an_error(type_: str, value: Any, threshold: Any, message: str) -> None:
    with pytest.raises(AssertionConfigError, match=message):
        run(type_, value, "output", threshold)
