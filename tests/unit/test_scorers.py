"""The scorers: each one's contract, bad arguments, and Hypothesis properties.

Pure: no network, no pytester. The judge and embedding scorers run on hand-written fakes.
"""

from __future__ import annotations

import doctest
import importlib.machinery
import importlib.util
import json
import math
import re
import string
import sys
import types
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pytest_llmdrift.scorers import (
    DEFAULT_SCORER_SPEC,
    EMBEDDING_EXTRA_HINT,
    REFUSAL_PATTERNS,
    SCORER_FACTORIES,
    SIMILARITY_METHODS,
    BaseScorer,
    Score,
    ScoreContext,
    Scorer,
    ScorerError,
    all_of,
    default_normalize,
    embedding,
    exact,
    extract,
    json_match,
    judge,
    numeric,
    parse_json_reply,
    parse_scorer,
    refusal,
    similar,
)

YES_NO = r"\[(Yes|No)\]"


def letters(text: str) -> list[float]:
    """A fake embedding: how often each letter occurs (a bag of letters)."""
    lowered = text.lower()
    return [float(lowered.count(c)) for c in string.ascii_lowercase]


def fake_judge(*verdicts: str) -> tuple[ScoreContext, list[str]]:
    """A context whose judge answers with ``verdicts`` in turn, recording the prompts."""
    prompts: list[str] = []
    answers = list(verdicts)

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return ScoreContext(prompt="Is 91 prime?", judge=ask), prompts


class MaxWords:
    """A user-written scorer, not derived from anything: the reply stays under N words."""

    threshold = 1.0

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @property
    def name(self) -> str:
        return f"max_words({self.limit})"

    def score(self, *, baseline: str, current: str, context: ScoreContext | None = None) -> Score:
        words = len(current.split())
        ok = words <= self.limit
        detail = f"{words} words (at most {self.limit})"
        return Score(1.0 if ok else 0.0, ok, self.threshold, detail, self.name)


# -- Score and BaseScorer ---------------------------------------------------------------
@pytest.mark.parametrize("value", [-0.01, 1.01, math.nan, math.inf])
def test_a_score_outside_the_unit_interval_is_rejected(value: float) -> None:
    with pytest.raises(ValueError, match=r"a score must be in \[0, 1\].*from exact\(\)"):
        Score(value, False, 1.0, "x", "exact()")


def test_a_score_is_truthy_when_it_passed_and_serialises_to_json() -> None:
    good = exact().score(baseline="a", current="a")
    bad = exact().score(baseline="a", current="b")
    assert good
    assert not bad
    assert good.to_json() == {
        "scorer": "exact()",
        "score": 1.0,
        "threshold": 1.0,
        "passed": True,
        "detail": "identical",
    }
    assert json.loads(json.dumps(bad.to_json()))["passed"] is False


def test_base_scorer_clamps_values_and_compares_with_its_threshold() -> None:
    class Fixed(BaseScorer):
        def __init__(self, value: float, threshold: float) -> None:
            self.value, self.threshold = value, threshold

        @property
        def name(self) -> str:
            return "fixed()"

        def _score(self, baseline: str, current: str, context: ScoreContext) -> tuple[float, str]:
            return self.value, "fixed"

    assert Fixed(1.7, 1.0).score(baseline="", current="").value == 1.0
    assert Fixed(-3, 0.0).score(baseline="", current="").value == 0.0
    at_bar = Fixed(0.5, 0.5).score(baseline="", current="")
    assert at_bar.passed
    assert at_bar.threshold == 0.5
    assert not Fixed(0.49, 0.5).score(baseline="", current="").passed
    assert repr(Fixed(1, 1)) == "fixed()"
    assert isinstance(Fixed(1, 1), Scorer)


# -- exact ------------------------------------------------------------------------------
def test_exact_ignores_surrounding_space_unless_told_not_to() -> None:
    assert exact().score(baseline="def f(): pass\n", current="  def f(): pass").passed
    strict = exact(strip=False).score(baseline="42\n", current="42")
    assert not strict.passed
    assert strict.detail == "text changed: '42' -> '42'"
    assert exact().name == "exact()"
    assert exact(strip=False).name == "exact(strip=False)"


def test_exact_detail_shows_both_texts_shortened_to_one_line() -> None:
    score = exact().score(baseline="```python\nprint(1)\n```", current="print(1)")
    assert score.value == 0.0
    assert score.detail == "text changed: '```python print(1) ```' -> 'print(1)'"
    long = exact().score(baseline="a" * 100, current="b")
    assert long.detail == f"text changed: '{'a' * 59}…' -> 'b'"


# -- extract ----------------------------------------------------------------------------
def test_extract_passes_on_the_same_answer_with_different_wording() -> None:
    score = extract(YES_NO).score(
        baseline="Let me check each divisor up to 9... none divides 91? Wait, 7 does. [No]",
        current="[No]",
    )
    assert score.passed
    assert score.value == 1.0
    assert score.detail == "same answer: 'no'"
    assert score.scorer == r"extract(r'\[(Yes|No)\]')"


def test_extract_fails_on_a_changed_answer() -> None:
    score = extract(YES_NO).score(baseline="[Yes]", current="[No]")
    assert not score.passed
    assert score.value == 0.0
    assert score.detail == "answer changed: 'yes' -> 'no'"


def test_extract_uses_the_first_match() -> None:
    scorer = extract(YES_NO)
    assert scorer.answer("[Yes] is my answer; [No] was the other option") == "yes"
    assert scorer.score(baseline="[Yes] then [No]", current="[Yes]").passed
    assert not scorer.score(baseline="[No] then [Yes]", current="[Yes]").passed


def test_extract_no_answer_is_a_failure_that_says_where() -> None:
    scorer = extract(YES_NO)
    current = scorer.score(baseline="[Yes]", current="Yes, it is prime.")
    assert not current.passed
    assert current.detail == r"no answer found in the current reply (pattern r'\[(Yes|No)\]')"
    base = scorer.score(baseline="It is prime.", current="[Yes]")
    assert not base.passed
    assert base.detail == r"no answer found in the baseline (pattern r'\[(Yes|No)\]')"
    neither = scorer.score(baseline="?", current="?")
    assert neither.detail.startswith("no answer found in the current reply")


def test_extract_group_zero_is_the_whole_match() -> None:
    scorer = extract(r"\\boxed\{[^}]*\}", group=0)
    assert scorer.name == r"extract(r'\\boxed\{[^}]*\}', group=0)"
    assert scorer.answer(r"so \boxed{ 42 } it is") == r"\boxed{ 42 }"
    assert scorer.score(baseline=r"\boxed{42}", current=r"So it is \boxed{42}.").passed


def test_extract_named_group() -> None:
    scorer = extract(r"Answer:\s*(?P<answer>\w+)\s*\((?P<confidence>\d+)%\)", group="answer")
    assert scorer.name.endswith("group='answer')")
    score = scorer.score(baseline="Answer: Paris (90%)", current="Answer: paris (60%)")
    assert score.passed
    assert score.detail == "same answer: 'paris'"


def test_extract_default_normalize_ignores_case_and_whitespace() -> None:
    scorer = extract(r"City:(.*)")
    assert scorer.score(baseline="City:  New   York ", current="City: new york").passed
    assert default_normalize("  New \n York ") == "new york"


def test_extract_normalize_none_compares_answers_as_matched() -> None:
    scorer = extract(r"\[(\w+)\]", normalize=None)
    assert scorer.name == r"extract(r'\[(\w+)\]', normalize=None)"
    score = scorer.score(baseline="[YES]", current="[yes]")
    assert not score.passed
    assert score.detail == "answer changed: 'YES' -> 'yes'"


def test_extract_custom_normalize_is_named() -> None:
    def digits_only(answer: str) -> str:
        return re.sub(r"\D", "", answer)

    scorer = extract(r"phone: (.+)", normalize=digits_only)
    assert scorer.name == "extract('phone: (.+)', normalize='digits_only')"
    assert scorer.score(baseline="phone: 555-0100", current="phone: (555) 0100").passed


def test_extract_flags_are_recorded_as_a_number() -> None:
    scorer = extract(r"answer: (yes|no)", flags=re.IGNORECASE)
    assert scorer.name == "extract('answer: (yes|no)', flags=2)"
    assert scorer.name == extract(r"answer: (yes|no)", flags=2).name
    assert scorer.score(baseline="Answer: YES", current="answer: yes").passed


def test_extract_an_optional_group_that_did_not_take_part_is_an_empty_answer() -> None:
    scorer = extract(r"\[(Yes|No)?\]")
    assert scorer.answer("[]") == ""
    assert not scorer.score(baseline="[Yes]", current="[]").passed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pattern": "[(Yes|No)"}, r"extract\(\): invalid pattern '\[\(Yes\|No\)'"),
        ({"pattern": YES_NO, "group": 2}, r"has 1 group\(s\), so group=2 does not exist"),
        ({"pattern": YES_NO, "group": -1}, r"so group=-1 does not exist; use group=0"),
        ({"pattern": r"(?P<a>\d)", "group": "b"}, r"no group named 'b' \(named groups: 'a'\)"),
        ({"pattern": r"(\d)", "group": "b"}, r"no group named 'b' \(named groups: none\)"),
        ({"pattern": YES_NO, "normalize": "lower"}, r"normalize=\.\.\.\) must be a function"),
    ],
)
def test_extract_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        extract(**kwargs)  # type: ignore[arg-type]


# -- similar ----------------------------------------------------------------------------
def test_similar_default_ignores_word_order_case_and_punctuation() -> None:
    scorer = similar()
    assert scorer.name == "similar(min=0.8)"
    score = scorer.score(
        baseline="The capital of France is Paris.", current="Paris is the capital of France"
    )
    assert score.value == 1.0
    assert score.detail == "token_sort similarity 1.00 (min 0.80)"


def test_similar_fails_below_min_and_says_so() -> None:
    score = similar(0.9).score(
        baseline="Take two tablets daily.", current="Never take more than one tablet."
    )
    assert not score.passed
    assert 0.0 < score.value < 0.9
    assert score.detail == f"token_sort similarity {score.value:.2f} (min 0.90)"


def test_similar_threshold_is_inclusive() -> None:
    # ratio("abcde", "abcdf") is exactly 0.8
    assert similar(0.8, method="ratio").score(baseline="abcde", current="abcdf").passed
    above = similar(0.81, method="ratio").score(baseline="abcde", current="abcdf")
    assert not above.passed
    assert above.detail == "ratio similarity 0.80 (min 0.81)"


def test_similar_a_round_score_is_not_lost_to_float_error() -> None:
    # rapidfuzz computes 19.999999999999996 here; the bar of 0.2 must still be met
    score = similar(0.2, method="ratio").score(baseline="b", current=" cbb ccbc")
    assert score.value == 0.2
    assert score.passed


def test_similar_methods() -> None:
    base, extra_words = "Paris", "Paris, the capital of France"
    assert similar(method="token_set").score(baseline=base, current=extra_words).value == 1.0
    assert similar(method="partial").score(baseline=base, current=extra_words).value == 1.0
    assert similar(method="ratio").score(baseline=base, current=extra_words).value < 0.5
    # ratio and partial compare the text as it is
    assert similar(method="ratio").score(baseline="Paris", current="paris").value == 0.8
    assert similar(1.0, method="ratio").name == "similar(min=1.0, method='ratio')"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min": 1.5}, r"similar\(min=\.\.\.\) must be a number between 0 and 1, got 1\.5"),
        ({"min": -0.1}, r"between 0 and 1, got -0\.1"),
        ({"min": math.nan}, r"between 0 and 1, got nan"),
        ({"min": "0.9"}, r"between 0 and 1, got '0\.9'"),
        ({"method": "levenshtein"}, r"one of ratio, token_sort, token_set, partial"),
    ],
)
def test_similar_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        similar(**kwargs)  # type: ignore[arg-type]


# -- numeric ----------------------------------------------------------------------------
def test_numeric_compares_the_last_number_by_default() -> None:
    scorer = numeric()
    assert scorer.name == "numeric(rel=1e-09, abs=0.0)"
    score = scorer.score(
        baseline="3 + 4 = 7, and 7 * 6 = 42. So the answer is 42.", current="The answer is 42"
    )
    assert score.passed
    assert score.detail == "42 is within tolerance of 42"


def test_numeric_which_first_and_pattern() -> None:
    first = numeric(which="first")
    assert first.name == "numeric(rel=1e-09, abs=0.0, which='first')"
    assert first.score(baseline="42, because 6 * 7", current="42 (6 times 7 = 42)").passed
    total = numeric(pattern=r"Total: ([\d,.]+)")
    assert total.name == r"numeric(rel=1e-09, abs=0.0, pattern=r'Total: ([\d,.]+)')"
    assert total.score(
        baseline="Items: 3\nTotal: 1,250.00\nTax: 50", current="Total: 1250 (tax 62)"
    ).passed


def test_numeric_reads_thousands_separators_and_signs() -> None:
    scorer = numeric()
    assert scorer.score(baseline="1,234,567", current="1234567.0").passed
    assert scorer.score(baseline="It fell to -5.", current="It fell to \u22125").passed
    assert scorer.score(baseline="between 10-20", current="at most 20").passed
    assert scorer.score(baseline="released 2024-06-01", current="on the 1st").passed
    assert scorer.score(baseline="6.02e23 atoms", current="602000000000000000000000").passed


def test_numeric_detail_shows_numbers_as_written() -> None:
    score = numeric().score(baseline="1,234,567", current="1,234,568")
    assert not score.passed
    assert score.detail == "number changed: 1234567 -> 1234568"
    assert 0.99 < score.value < 1.0


def test_numeric_relative_tolerance_boundary() -> None:
    scorer = numeric(rel=0.01)
    assert scorer.score(baseline="100", current="101").passed  # 1 <= 0.01 * 101
    miss = scorer.score(baseline="100", current="102")
    assert not miss.passed
    assert miss.detail == "number changed: 100 -> 102"
    assert miss.value == pytest.approx(1 - 2 / 102)


def test_numeric_absolute_tolerance_boundary() -> None:
    scorer = numeric(abs=0.5)
    assert scorer.name == "numeric(rel=1e-09, abs=0.5)"
    assert scorer.score(baseline="3", current="3.5").passed
    assert not scorer.score(baseline="3", current="3.51").passed
    assert not numeric().score(baseline="pi is 3.14159", current="pi is 3.14").passed


def test_numeric_a_changed_sign_scores_zero() -> None:
    score = numeric().score(baseline="-42", current="42")
    assert score.value == 0.0
    assert score.detail == "number changed: -42 -> 42"


def test_numeric_no_number() -> None:
    scorer = numeric()
    assert scorer.score(baseline="42", current="I don't know.").detail == (
        "no number found in the current reply"
    )
    assert scorer.score(baseline="forty-two", current="42").detail == (
        "no number found in the baseline"
    )
    optional = numeric(pattern=r"Total:( \d+)?")
    assert optional.score(baseline="Total: 5", current="Total: n/a").detail == (
        "no number found in the current reply"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rel": -0.1}, r"numeric\(rel=\.\.\.\) must be a number >= 0, got -0\.1"),
        ({"abs": -1}, r"numeric\(abs=\.\.\.\) must be a number >= 0, got -1"),
        ({"rel": math.nan}, r"numeric\(rel=\.\.\.\) must be a number >= 0, got nan"),
        ({"which": "middle"}, r"numeric\(which=\.\.\.\) must be 'first' or 'last'"),
        ({"pattern": "Total: ("}, r"numeric\(\): invalid pattern 'Total: \('"),
    ],
)
def test_numeric_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        numeric(**kwargs)  # type: ignore[arg-type]


# -- json_match -------------------------------------------------------------------------
ORDER = {"id": "ord_1", "items": [{"sku": "A1", "qty": 2}], "total": 19.99, "paid": True}


def test_json_match_reads_fenced_bare_and_embedded_json() -> None:
    bare = json.dumps(ORDER)
    fenced = f"Here is the order:\n```json\n{json.dumps(ORDER, indent=2)}\n```\nAnything else?"
    prose = f"Sure! {bare} Let me know if you need more."
    scorer = json_match()
    assert scorer.name == "json_match()"
    for text in (fenced, prose):
        score = scorer.score(baseline=bare, current=text)
        assert score.passed
        assert score.detail == "same JSON"
    assert parse_json_reply("```\n[1, 2]\n```") == [1, 2]
    assert parse_json_reply('see [note] and then {"a": 1}') == {"a": 1}
    with pytest.raises(ValueError, match="no JSON found"):
        parse_json_reply("no data {here}")


def test_json_match_key_order_and_int_float_do_not_matter() -> None:
    score = json_match().score(baseline='{"a": 1, "b": [1, 2]}', current='{"b": [1.0, 2], "a": 1}')
    assert score.passed


def test_json_match_ignore_by_key_name_anywhere() -> None:
    scorer = json_match(ignore=["id"])
    assert scorer.name == "json_match(ignore=['id'])"
    current = {**ORDER, "id": "ord_2", "items": [{"sku": "A1", "qty": 2, "id": 7}]}
    assert scorer.score(baseline=json.dumps(ORDER), current=json.dumps(current)).passed


def test_json_match_ignore_a_lone_string_is_one_key() -> None:
    assert json_match(ignore="id").name == "json_match(ignore=['id'])"


def test_json_match_ignore_by_dotted_path() -> None:
    scorer = json_match(ignore=["meta.id", "items[0].at"])
    baseline = {"id": 1, "meta": {"id": "x"}, "items": [{"at": 1}, {"at": 1}]}
    moved = {"id": 1, "meta": {"id": "y"}, "items": [{"at": 2}, {"at": 1}]}
    assert scorer.score(baseline=json.dumps(baseline), current=json.dumps(moved)).passed
    elsewhere = {**moved, "id": 2, "items": [{"at": 2}, {"at": 3}]}
    score = scorer.score(baseline=json.dumps(baseline), current=json.dumps(elsewhere))
    assert not score.passed
    assert score.detail == "id: 1 -> 2; items[1].at: 1 -> 3"


def test_json_match_numeric_tolerance() -> None:
    baseline, current = '{"price": 100}', '{"price": 100.5}'
    strict = json_match().score(baseline=baseline, current=current)
    assert not strict.passed
    assert strict.detail == "price: 100 -> 100.5"
    assert json_match(rel=0.01).score(baseline=baseline, current=current).passed
    assert json_match(abs=0.5).score(baseline=baseline, current=current).passed
    assert json_match(rel=0.01, abs=0.5).name == "json_match(rel=0.01, abs=0.5)"


def test_json_match_missing_and_unexpected_keys() -> None:
    score = json_match().score(baseline='{"a": 1, "b": 2}', current='{"a": 1, "c": 3}')
    assert not score.passed
    assert score.detail == "b: missing; c: unexpected"
    assert score.value == pytest.approx(1 / 3)


def test_json_match_list_length_changes() -> None:
    shorter = json_match().score(baseline="[1, 2, 3]", current="[1, 2]")
    assert shorter.detail == "[2]: missing"
    assert shorter.value == pytest.approx(2 / 3)
    longer = json_match().score(baseline='{"tags": [1, 2]}', current='{"tags": [1, 2, 3, 4]}')
    assert longer.detail == "tags: 2 extra item(s)"
    assert longer.value == pytest.approx(2 / 4)


def test_json_match_bools_are_not_numbers() -> None:
    score = json_match(abs=1).score(baseline='{"ok": true}', current='{"ok": 1}')
    assert not score.passed
    assert score.detail == "ok: True -> 1"


def test_json_match_type_changes() -> None:
    score = json_match().score(baseline='{"a": {"b": 1}, "c": [1]}', current='{"a": [1], "c": 5}')
    assert score.detail == "a: object -> list; c: array -> int"
    assert score.value == 0.0


def test_json_match_partial_score_with_min() -> None:
    baseline = '{"a": 1, "b": 2, "c": 3, "d": 4}'
    current = '{"a": 1, "b": 2, "c": 3, "d": 5}'
    assert not json_match().score(baseline=baseline, current=current).passed
    lenient = json_match(min=0.75)
    assert lenient.name == "json_match(min=0.75)"
    score = lenient.score(baseline=baseline, current=current)
    assert score.passed
    assert score.value == 0.75
    assert score.detail == "d: 4 -> 5"
    assert not json_match(min=0.76).score(baseline=baseline, current=current).passed


def test_json_match_detail_lists_three_differences_and_counts_the_rest() -> None:
    score = json_match().score(
        baseline='{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}',
        current='{"a": 0, "b": 0, "c": 0, "d": 0, "e": 0}',
    )
    assert score.detail == "a: 1 -> 0; b: 2 -> 0; c: 3 -> 0 (+2 more)"


def test_json_match_a_degenerate_deeply_nested_reply_holds_no_json() -> None:
    # a repetition loop ("[[[[...") nests deeper than json can parse: no crash
    score = json_match().score(baseline="{}", current="[" * 2000)
    assert score.detail == "no JSON found in the current reply"


def test_json_match_nan_equals_nan() -> None:
    assert json_match().score(baseline='{"x": NaN}', current='{"x": NaN}').passed


def test_json_match_no_json() -> None:
    scorer = json_match()
    assert scorer.score(baseline="{}", current="Sorry, no data.").detail == (
        "no JSON found in the current reply"
    )
    assert scorer.score(baseline="no data", current="{}").detail == (
        "no JSON found in the baseline"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min": 2}, r"json_match\(min=\.\.\.\) must be a number between 0 and 1, got 2"),
        ({"rel": -1}, r"json_match\(rel=\.\.\.\) must be a number >= 0"),
        ({"abs": "1"}, r"json_match\(abs=\.\.\.\) must be a number >= 0, got '1'"),
    ],
)
def test_json_match_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        json_match(**kwargs)  # type: ignore[arg-type]


# -- refusal ----------------------------------------------------------------------------
REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I\u2019m sorry, but I can\u2019t help with that.",
    "I cannot provide instructions for making explosives.",
    "As an AI language model, I cannot express personal opinions.",
    "I'm unable to help with that request.",
    "Unfortunately, I can't provide that information.",
    "I apologize, but I cannot fulfill this request.",
    "I won't be able to help with that.",
    "I can\u2019t assist with creating malware.",
    "I cannot and will not provide instructions for that.",
    "Sorry, but I can't.",
    "I'm afraid I can't do that.",
    "I'm sorry, I can't do that for you.",
    "I must decline this request.",
    "That's not something I can help with.",
    "I'm not comfortable helping with that.",
    "I'm not going to help you break into someone's account.",
    "I can't write that for you.",
    "Sorry, I can\u2019t comply.",
    "I won't generate that content.",
    "I can not help with this request.",
    "Sorry, can't help with that.",
    "I am not able to share personal information about private individuals.",
    "No. I won't do that.",
]
ANSWERS = [
    "Sorry for the confusion earlier: the answer is 42.",
    "You can't divide by zero, so the result is undefined.",
    "I can help with that! Here are the steps...",
    "I can't help but notice the typo: the answer is 42.",
    "I won't give up on this proof: 7 is prime.",
    "Caching won't help with that workload; use an index.",
    "I'm sorry for the confusion, you can't divide by zero: the result is undefined.",
    "I can't believe how simple this is: 2 + 2 = 4.",
    "No, I can't think of an even prime other than 2.",
    "Unfortunately, the function cannot handle negative numbers.",
    "I cannot stress this enough: always validate input.",
    "If you can't decide, I recommend option B.",
    "I can't do that calculation in my head exactly, but it's about 3.14.",
    "I'm afraid the answer is no: 91 = 7 \u00d7 13.",
    "Sorry, I can't believe I missed that: it's 42.",
    "Sorry it took a while! I can't wait to see your project: here is the code.",
    "The user cannot provide a password shorter than 8 characters.",
    "I don't know the exact population, but it's about 8 million.",
    "[Yes]",
    "",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusal_detects_refusals(text: str) -> None:
    assert refusal().refuses(text)


@pytest.mark.parametrize("text", ANSWERS)
def test_refusal_does_not_mistake_answers_for_refusals(text: str) -> None:
    assert not refusal().refuses(text)


def test_refusal_compares_with_the_baseline() -> None:
    scorer = refusal()
    assert scorer.name == "refusal()"
    started = scorer.score(baseline="Here is how: ...", current="I can't help with that.")
    assert not started.passed
    assert started.detail == "baseline answers, current refuses"
    stopped = scorer.score(baseline="I'm sorry, but I can't.", current="Sure: step 1 ...")
    assert stopped.detail == "baseline refuses, current answers"
    assert stopped.value == 0.0
    both = scorer.score(baseline="I cannot help.", current="I must decline.")
    assert both.passed
    assert both.detail == "both refuse"
    assert scorer.score(baseline="42", current="It is 42.").detail == "both answer"


def test_refusal_custom_patterns() -> None:
    scorer = refusal(patterns=[*REFUSAL_PATTERNS, r"\bno comment\b"])
    assert scorer.name == "refusal(patterns=custom)"
    assert scorer.refuses("No comment.")
    assert not refusal().refuses("No comment.")


# -- embedding --------------------------------------------------------------------------
def test_embedding_cosine_of_a_custom_embed_function() -> None:
    scorer = embedding(0.9, embed=letters)
    assert scorer.name == "embedding(min=0.9, model='letters')"
    same_letters = scorer.score(baseline="listen", current="silent")
    assert same_letters.value == pytest.approx(1.0)
    assert same_letters.detail == "cosine similarity 1.00 (min 0.90)"
    disjoint = scorer.score(baseline="aaa", current="bbb")
    assert disjoint.value == 0.0
    assert not disjoint.passed
    assert disjoint.detail == "cosine similarity 0.00 (min 0.90)"
    # no letters at all: a zero vector, similarity 0
    assert scorer.score(baseline="123", current="456").value == 0.0


def test_embedding_threshold_boundary_and_negative_cosine() -> None:
    def vector(text: str) -> list[float]:
        return {"a": [1.0, 0.0], "b": [0.6, 0.8], "c": [-1.0, 0.0]}[text]

    assert embedding(0.6, embed=vector).score(baseline="a", current="b").passed
    assert not embedding(0.61, embed=vector).score(baseline="a", current="b").passed
    opposite = embedding(embed=vector).score(baseline="a", current="c")
    assert opposite.value == 0.0


def test_embedding_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    scorer = embedding()
    assert scorer.name == ("embedding(min=0.85, model='sentence-transformers/all-MiniLM-L6-v2')")
    with pytest.raises(ScorerError, match=re.escape("pytest-llmdrift[embedding]")):
        scorer.score(baseline="a", current="b")
    # identical replies too: a missing extra must not hide until the first drift
    with pytest.raises(ScorerError, match=re.escape("pip install 'pytest-llmdrift[embedding]'")):
        scorer.score(baseline="same", current="same")
    assert "embed=your_function" in EMBEDDING_EXTRA_HINT


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="sentence-transformers is installed",
)
def test_embedding_without_the_extra_installed() -> None:
    with pytest.raises(ScorerError, match=re.escape("pytest-llmdrift[embedding]")):
        embedding().score(baseline="a", current="b")


def test_embedding_with_the_extra_loads_the_model_once_and_keeps_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded: list[str] = []

    class FakeSentenceTransformer:
        def __init__(self, model: str) -> None:
            loaded.append(model)

        def encode(self, text: str) -> list[float]:
            return letters(text)

    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = FakeSentenceTransformer  # type: ignore[attr-defined]
    module.__spec__ = importlib.machinery.ModuleSpec("sentence_transformers", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    scorer = embedding(model="my-org/my-model")
    name = scorer.name
    assert scorer.score(baseline="listen", current="silent").passed
    assert scorer.score(baseline="aaa", current="bbb").value == 0.0
    assert loaded == ["my-org/my-model"]
    assert scorer.name == name == "embedding(min=0.85, model='my-org/my-model')"


def test_embedding_rejects_a_bad_min() -> None:
    with pytest.raises(ValueError, match=r"embedding\(min=\.\.\.\) must be a number"):
        embedding(2)


# -- judge ------------------------------------------------------------------------------
VERDICT = '{"score": 0.9, "reason": "Same diagnosis, different wording."}'


def test_judge_passes_on_a_good_verdict_and_sends_everything_it_needs() -> None:
    context, prompts = fake_judge(VERDICT)
    scorer = judge("gives the same diagnosis", min=0.7)
    assert scorer.name == "judge('gives the same diagnosis', min=0.7)"
    score = scorer.score(
        baseline="Likely a tension headache.", current="Probably tension-type.", context=context
    )
    assert score.passed
    assert score.value == 0.9
    assert score.detail == "judge score 0.90: Same diagnosis, different wording."
    (prompt,) = prompts
    assert "Requirement: gives the same diagnosis" in prompt
    assert "Question: Is 91 prime?" in prompt
    assert "<<<\nLikely a tension headache.\n>>>" in prompt
    assert "<<<\nProbably tension-type.\n>>>" in prompt
    assert prompt.index("Likely a tension") < prompt.index("Probably tension")
    assert '{"score":' in prompt


def test_judge_without_a_question_sends_no_question_line() -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return VERDICT

    judge("polite").score(baseline="a", current="b", context=ScoreContext(judge=ask))
    assert "Question:" not in prompts[0]


@pytest.mark.parametrize(
    "verdict",
    [
        '```json\n{"score": 0.2, "reason": "Different diagnosis."}\n```',
        'My verdict: {"score": 0.2, "reason": "Different diagnosis."} Hope this helps.',
        '{"reason": "Different diagnosis.", "score": "0.2"}',
    ],
)
def test_judge_reads_fenced_and_embedded_verdicts(verdict: str) -> None:
    context, _ = fake_judge(verdict)
    score = judge("same diagnosis").score(baseline="a", current="b", context=context)
    assert not score.passed
    assert score.value == 0.2
    assert score.detail == "judge score 0.20: Different diagnosis."


def test_judge_threshold_boundary_and_one_line_detail() -> None:
    context, _ = fake_judge('{"score": 0.5, "reason": "Partly.\\n\\nMissing   a step."}')
    score = judge("complete").score(baseline="a", current="b", context=context)
    assert score.passed
    assert score.detail == "judge score 0.50: Partly. Missing a step."
    no_reason, _ = fake_judge('{"score": 0.49}')
    below = judge("complete").score(baseline="a", current="b", context=no_reason)
    assert not below.passed
    assert below.detail == "judge score 0.49"


@pytest.mark.parametrize(
    "verdict",
    [
        "I think it's fine",
        "Score: 0.8",
        "0.8",
        '{"reason": "fine"}',
        '{"score": "high"}',
        '{"score": null}',
        '{"score": true}',
        "[0.8]",
        "",
    ],
)
def test_judge_an_unreadable_verdict_is_an_error_never_a_zero(verdict: str) -> None:
    context, _ = fake_judge(verdict)
    with pytest.raises(ScorerError, match="the judge's verdict could not be read") as info:
        judge("correct").score(baseline="a", current="b", context=context)
    assert "--llm-judge" in str(info.value)
    assert '{"score": 0.8, "reason": "..."}' in str(info.value)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "NaN", "10"])
def test_judge_a_score_outside_zero_to_one_is_an_error(value: str) -> None:
    context, _ = fake_judge(f'{{"score": {value}}}')
    with pytest.raises(ScorerError, match=r"outside \[0, 1\]"):
        judge("correct").score(baseline="a", current="b", context=context)


def test_judge_without_a_judge_model_names_the_option() -> None:
    with pytest.raises(ScorerError, match=r"--llm-judge=MODEL \(or set llm_judge"):
        judge("correct").score(baseline="a", current="b")
    with pytest.raises(ScorerError, match="--llm-judge"):
        judge("correct").score(baseline="a", current="b", context=ScoreContext(prompt="q"))
    # identical replies too: a missing judge must not hide until the first drift
    with pytest.raises(ScorerError, match="--llm-judge"):
        judge("correct").score(baseline="same", current="same")


def test_judge_identical_replies_score_one_without_asking_the_judge() -> None:
    context, prompts = fake_judge('{"score": 0.0, "reason": "Never asked."}')
    scorer = judge("same diagnosis", min=1.0)
    score = scorer.score(baseline="Tension headache.", current="Tension headache.", context=context)
    assert score.passed
    assert score.value == 1.0
    assert score.detail == "identical (the judge was not asked)"
    assert score.scorer == "judge('same diagnosis', min=1.0)"
    assert prompts == []
    # only the very same text: a difference in space alone is asked about
    spaced = scorer.score(
        baseline="Tension headache.", current="Tension headache. ", context=context
    )
    assert spaced.value == 0.0
    assert len(prompts) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [(("",), r"judge\(criteria\) needs the requirement"), (("ok", 1.5), r"judge\(min=")],
)
def test_judge_rejects_bad_arguments(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge(*args)  # type: ignore[arg-type]


# -- all_of -----------------------------------------------------------------------------
def test_all_of_passes_when_every_scorer_passes_with_the_lowest_score() -> None:
    scorer = all_of(extract(YES_NO), similar(0.5))
    assert scorer.name == r"all_of(extract(r'\[(Yes|No)\]'), similar(min=0.5))"
    score = scorer.score(baseline="It is prime. [Yes]", current="It's prime: [Yes]")
    assert score.passed
    assert (
        score.value
        == similar(0.5).score(baseline="It is prime. [Yes]", current="It's prime: [Yes]").value
    )
    assert score.threshold == 0.5
    assert score.detail.startswith(r"extract(r'\[(Yes|No)\]'): same answer: 'yes'; similar")


def test_all_of_fails_if_any_fails_and_names_the_failing_scorers() -> None:
    scorer = all_of(similar(0.1), extract(YES_NO), numeric())
    score = scorer.score(baseline="7 is prime [Yes]", current="9 is not prime [No]")
    assert not score.passed
    assert score.value == 0.0
    assert score.threshold == 1.0
    assert score.detail == (
        r"extract(r'\[(Yes|No)\]'): answer changed: 'yes' -> 'no'; "
        "numeric(rel=1e-09, abs=0.0): number changed: 7 -> 9"
    )


def test_all_of_detail_names_only_the_failing_ones() -> None:
    score = all_of(similar(0.1), extract(YES_NO)).score(
        baseline="The answer: [Yes]", current="The answer: [No]"
    )
    assert score.detail == r"extract(r'\[(Yes|No)\]'): answer changed: 'yes' -> 'no'"


def test_all_of_passes_the_context_on_and_nests() -> None:
    context, prompts = fake_judge(VERDICT)
    scorer = all_of(all_of(exact()), judge("same"))
    assert scorer.name == "all_of(all_of(exact()), judge('same', min=0.5))"
    # exact() ignores the surrounding space; the judge sees two different texts
    assert scorer.score(baseline="x", current=" x ", context=context).passed
    assert len(prompts) == 1
    assert isinstance(scorer, Scorer)


def test_all_of_rejects_no_scorers_and_non_scorers() -> None:
    with pytest.raises(ValueError, match=r"all_of\(\) needs at least one scorer"):
        all_of()
    with pytest.raises(TypeError, match=r"did you mean similar\(\)\?"):
        all_of(similar)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"all_of\(\) takes scorers .* got 'exact'"):
        all_of("exact")  # type: ignore[arg-type]


# -- writing your own -------------------------------------------------------------------
def test_a_user_written_scorer_satisfies_the_protocol_and_combines() -> None:
    short = MaxWords(5)
    assert isinstance(short, Scorer)
    assert short.score(baseline="", current="Yes, 7 is prime.").passed
    combined = all_of(extract(YES_NO), short)
    assert combined.name == r"all_of(extract(r'\[(Yes|No)\]'), max_words(5))"
    score = combined.score(baseline="[Yes]", current="Well, after much careful thought: [Yes]")
    assert not score.passed
    assert score.detail == "max_words(5): 6 words (at most 5)"


def test_objects_missing_part_of_the_protocol_are_not_scorers() -> None:
    class NoThreshold:
        name = "x"

        def score(self, *, baseline: str, current: str, context: object = None) -> Score:
            raise NotImplementedError

    assert not isinstance(NoThreshold(), Scorer)
    assert not isinstance(similar, Scorer)


# -- the ini key ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("exact", "exact()"),
        (" exact() ", "exact()"),
        ("similar(min=0.9)", "similar(min=0.9)"),
        ("similar(0.7, method='ratio')", "similar(min=0.7, method='ratio')"),
        (r'extract(r"\[(Yes|No)\]")', r"extract(r'\[(Yes|No)\]')"),
        (r"extract('(\\d+)', normalize=None)", r"extract(r'(\d+)', normalize=None)"),
        (r"extract(r'(\d+)', normalize=None)", r"extract(r'(\d+)', normalize=None)"),
        ("json_match(ignore=['id'])", "json_match(ignore=['id'])"),
        ("numeric(rel=0.01)", "numeric(rel=0.01, abs=0.0)"),
        ("refusal", "refusal()"),
        ("judge('same diagnosis', min=0.7)", "judge('same diagnosis', min=0.7)"),
        (
            "embedding(min=0.9)",
            "embedding(min=0.9, model='sentence-transformers/all-MiniLM-L6-v2')",
        ),
        (DEFAULT_SCORER_SPEC, "similar(min=0.8)"),
    ],
)
def test_parse_scorer_reads_the_built_in_scorers(spec: str, name: str) -> None:
    scorer = parse_scorer(spec)
    assert isinstance(scorer, Scorer)
    assert scorer.name == name


@pytest.mark.parametrize(
    "scorer",
    [
        exact(strip=False),
        extract(YES_NO, group=0, normalize=None, flags=re.I),
        similar(0.75, method="partial"),
        numeric(rel=0.05, abs=1, pattern=r"= (\d+)", which="first"),
        json_match(ignore=["id", "meta.at"], rel=0.1, abs=2, min=0.5),
        refusal(),
        embedding(0.9, model="org/model"),
        judge("keeps every step", min=0.8),
    ],
    ids=lambda s: s.name,
)
def test_a_scorer_name_reads_back_as_the_same_scorer(scorer: Scorer) -> None:
    assert parse_scorer(scorer.name).name == scorer.name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("os.system('x')", r"unknown scorer \"os\.system\('x'\)\": use one of exact, extract"),
        ("__import__('os')", r"unknown scorer"),
        ("similar(min=__import__('os'))", r"__import__\('os'\) is not a literal"),
        ("nonsense(1)", r"unknown scorer 'nonsense\(1\)': use one of .*judge"),
        ("similar(min=", r"cannot read scorer 'similar\(min=' \('\(' was never closed\)"),
        ("similar(min=2)", r"invalid scorer 'similar\(min=2\)': similar\(min=\.\.\.\) must be"),
        ("similar(mn=0.9)", r"got an unexpected keyword argument 'mn'"),
        ("similar(**{'min': 0.5})", r"no \*args or \*\*kwargs"),
        ("similar(*[0.5])", r"no \*args or \*\*kwargs"),
        ("extract('(')", r"invalid pattern"),
        ("all_of(exact(), similar())", r"unknown scorer"),
        ("42", r"unknown scorer '42'"),
        ("", r"cannot read scorer ''"),
    ],
)
def test_parse_scorer_rejects_anything_else(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_scorer(spec)


# Patterns as users write them: backslashes, both quotes, a trailing backslash, a newline,
# named groups. Each has at least one group.
PATTERNS = [
    r"\[(Yes|No)\]",
    r"\\boxed\{([^}]*)\}",
    r"Answer:\s*(?P<answer>\w+)",
    r"it's (\d+)",
    r'say "(\w+)"',
    r"""'(\w+)' or "(\w+)" """,
    r"C:\\Users\\(\w+)\\",
    "Total:\n(\\d+)",
    r"\t(\d+)\u00e9",
    "(yes|no)",
    "réponse : (oui|non)",
]
tolerances = st.floats(0, 1e6, allow_nan=False) | st.integers(0, 10**6)
unit_floats = st.floats(0, 1)
FLAGS = [0, re.IGNORECASE, re.MULTILINE, re.DOTALL, re.IGNORECASE | re.DOTALL]


@st.composite
def extract_scorers(draw: st.DrawFn) -> Scorer:
    pattern = draw(st.sampled_from(PATTERNS))
    regex = re.compile(pattern)
    groups = st.integers(0, regex.groups) | st.sampled_from(list(regex.groupindex) or [1])
    return extract(
        pattern,
        group=draw(groups),
        normalize=draw(st.sampled_from([default_normalize, None])),
        flags=draw(st.sampled_from(FLAGS)),
    )


numeric_scorers = st.builds(
    numeric,
    rel=tolerances,
    abs=tolerances,
    pattern=st.none() | st.sampled_from(PATTERNS),
    which=st.sampled_from(["first", "last"]),
)
similar_scorers = st.builds(similar, min=unit_floats, method=st.sampled_from(SIMILARITY_METHODS))
json_match_scorers = st.builds(
    json_match,
    ignore=st.lists(st.text(max_size=10), max_size=3) | st.text(max_size=10),
    rel=tolerances,
    abs=tolerances,
    min=unit_floats,
)


@settings(deadline=None, max_examples=200)
@given(scorer=extract_scorers() | numeric_scorers | similar_scorers | json_match_scorers)
def test_property_a_scorer_name_reads_back_as_the_same_scorer(scorer: Scorer) -> None:
    assert parse_scorer(scorer.name).name == scorer.name


def test_every_built_in_scorer_has_a_factory_and_a_method_list() -> None:
    assert set(SCORER_FACTORIES) == {
        "exact", "extract", "similar", "numeric", "json_match", "refusal", "embedding", "judge",
    }  # fmt: skip
    assert SIMILARITY_METHODS == ("ratio", "token_sort", "token_set", "partial")


# -- properties -------------------------------------------------------------------------
texts = st.text(max_size=200)
fast = settings(deadline=None, max_examples=60)


def _judge_scores(value: float) -> ScoreContext:
    return ScoreContext(judge=lambda prompt: json.dumps({"score": value, "reason": "r"}))


ANY_TEXT_SCORERS: list[Scorer] = [
    exact(),
    exact(strip=False),
    *(similar(method=m) for m in SIMILARITY_METHODS),
    refusal(),
    embedding(embed=letters),
    all_of(exact(), similar(), refusal(), embedding(embed=letters)),
]
ALL_OFFLINE_SCORERS: list[Scorer] = [
    *ANY_TEXT_SCORERS,
    extract(YES_NO),
    extract(r"(\w+)", group=0, normalize=None),
    numeric(),
    numeric(rel=0.1, which="first"),
    json_match(),
    json_match(ignore=["id"], rel=0.1, min=0.5),
    all_of(extract(YES_NO), numeric(), json_match()),
]


@pytest.mark.parametrize("scorer", ANY_TEXT_SCORERS, ids=lambda s: s.name)
@fast
@given(text=texts)
def test_property_identical_text_scores_one(scorer: Scorer, text: str) -> None:
    score = scorer.score(baseline=text, current=text)
    assert score.value == 1.0
    assert score.passed


@pytest.mark.parametrize("scorer", ALL_OFFLINE_SCORERS, ids=lambda s: s.name)
@fast
@given(baseline=texts, current=texts)
def test_property_scores_stay_in_zero_to_one(scorer: Scorer, baseline: str, current: str) -> None:
    score = scorer.score(baseline=baseline, current=current)
    assert 0.0 <= score.value <= 1.0
    assert score.passed == (score.value >= score.threshold)
    assert "\n" not in score.detail
    assert score.scorer == scorer.name


@fast
@given(value=st.floats(0, 1), baseline=texts, current=texts)
def test_property_judge_scores_stay_in_zero_to_one(
    value: float, baseline: str, current: str
) -> None:
    # identical replies never reach the judge (see the property below)
    assume(baseline != current)
    score = judge("same").score(baseline=baseline, current=current, context=_judge_scores(value))
    assert score.value == value
    assert score.passed == (value >= 0.5)


@fast
@given(text=texts, min=st.floats(0, 1))
def test_property_judge_identical_text_scores_one_without_asking(text: str, min: float) -> None:
    def never(prompt: str) -> str:
        raise AssertionError("the judge was asked about identical replies")

    score = judge("same", min=min).score(
        baseline=text, current=text, context=ScoreContext(judge=never)
    )
    assert score.value == 1.0
    assert score.passed
    assert score.detail == "identical (the judge was not asked)"


# Text that cannot hold a match of YES_NO: it has no "[".
outside = st.text(alphabet=st.characters(blacklist_characters="["), max_size=100)
answers = st.sampled_from(["Yes", "No"])


@fast
@given(answer=answers, text=outside)
def test_property_extract_identical_text_with_an_answer_scores_one(answer: str, text: str) -> None:
    reply = f"{text}[{answer}]{text}"
    assert extract(YES_NO).score(baseline=reply, current=reply).value == 1.0


@fast
@given(answer=answers, before=st.tuples(outside, outside), after=st.tuples(outside, outside))
def test_property_extract_ignores_text_outside_the_match(
    answer: str, before: tuple[str, str], after: tuple[str, str]
) -> None:
    score = extract(YES_NO).score(
        baseline=f"{before[0]}[{answer}]{after[0]}", current=f"{before[1]}[{answer}]{after[1]}"
    )
    assert score.passed
    assert score.detail == f"same answer: {answer.lower()!r}"


@fast
@given(answers=st.tuples(answers, answers), before=st.tuples(outside, outside), tail=texts)
def test_property_extract_sees_only_the_answer(
    answers: tuple[str, str], before: tuple[str, str], tail: str
) -> None:
    # whatever follows the first match (even other answers) does not count
    score = extract(YES_NO).score(
        baseline=f"{before[0]}[{answers[0]}]{tail}", current=f"{before[1]}[{answers[1]}]"
    )
    assert score.passed == (answers[0] == answers[1])


numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.integers(0, 10**9).map(lambda n: f"{n:,}"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@fast
@given(before=texts, number=numbers, after=st.text(alphabet=string.ascii_letters + " .,!?"))
def test_property_numeric_identical_text_with_a_number_scores_one(
    before: str, number: str, after: str
) -> None:
    reply = f"{before} {number}{after}"
    assert numeric().score(baseline=reply, current=reply).value == 1.0


@fast
@given(
    number=numbers,
    before=st.tuples(*[st.text(alphabet=string.ascii_letters + " :!?")] * 2),
)
def test_property_numeric_finds_the_number_in_any_words(
    number: str, before: tuple[str, str]
) -> None:
    score = numeric().score(baseline=f"{before[0]} {number}", current=f"{before[1]} {number}.")
    assert score.passed


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
json_documents = st.dictionaries(st.text(max_size=5), json_values, max_size=5) | st.lists(
    json_values, max_size=5
)


@st.composite
def json_replies(draw: st.DrawFn, value: object) -> str:
    """``value`` written as a model might: bare, indented, fenced or inside prose."""
    style = draw(st.sampled_from(["bare", "indented", "fenced", "prose"]))
    if style == "bare":
        return json.dumps(value)
    if style == "indented":
        return json.dumps(value, indent=2)
    prose = st.text(alphabet=string.ascii_letters + " .:!?", max_size=40)
    if style == "fenced":
        return f"{draw(prose)}\n```json\n{json.dumps(value, indent=2)}\n```\n{draw(prose)}"
    return f"{draw(prose)} {json.dumps(value)} {draw(prose)}"


@fast
@given(data=st.data(), value=json_documents)
def test_property_json_match_identical_text_with_json_scores_one(
    data: st.DataObject, value: object
) -> None:
    reply = data.draw(json_replies(value))
    score = json_match().score(baseline=reply, current=reply)
    assert score.value == 1.0
    assert score.detail == "same JSON"


@fast
@given(data=st.data(), value=st.dictionaries(st.text(max_size=5), json_values, max_size=5))
def test_property_json_match_ignores_layout_and_key_order(
    data: st.DataObject, value: dict[str, object]
) -> None:
    reordered = dict(reversed(value.items()))
    score = json_match().score(
        baseline=data.draw(json_replies(value)), current=data.draw(json_replies(reordered))
    )
    assert score.passed


@fast
@given(baseline=texts, current=texts)
def test_property_embedding_is_symmetric_and_bounded(baseline: str, current: str) -> None:
    scorer = embedding(embed=letters)
    forward = scorer.score(baseline=baseline, current=current).value
    assert forward == pytest.approx(scorer.score(baseline=current, current=baseline).value)


@fast
@given(text=texts)
def test_property_a_user_scorer_inside_all_of_keeps_the_lowest_score(text: str) -> None:
    scorer = all_of(MaxWords(3), similar())
    score = scorer.score(baseline=text, current=text)
    assert score.passed == (len(text.split()) <= 3)
    assert score.value == (1.0 if score.passed else 0.0)


# -- the user docs ----------------------------------------------------------------------
DOCS = Path(__file__).resolve().parents[2] / "docs" / "scorers.md"


@pytest.mark.skipif(not DOCS.exists(), reason="docs/scorers.md is not in this checkout")
def test_the_examples_in_the_scorers_docs_run_as_shown() -> None:
    """Every ```python block of docs/scorers.md runs (defining its tests and classes), and
    every ```pycon block prints exactly what the page shows, in one namespace, in order."""
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", DOCS.read_text(), re.S | re.M)
    namespace: dict[str, object] = {"__name__": "docs_scorers"}
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(verbose=False)
    ran = 0
    for index, (language, body) in enumerate(blocks):
        if language == "python":
            exec(compile(body, f"docs/scorers.md block {index}", "exec"), namespace)
        elif language == "pycon":
            example = parser.get_doctest(body, namespace, f"block {index}", str(DOCS), 0)
            ran += runner.run(example, clear_globs=False).attempted
    assert ran > 50
    assert runner.summarize(verbose=False).failed == 0


# -- parse_json_reply stays linear on degenerate replies (issue 10, item 7) ------------
class _CountingDecoder(json.JSONDecoder):
    """The seam parse_json_reply decodes through: counts its tries."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def raw_decode(self, s: str, idx: int = 0) -> tuple[object, int]:
        self.attempts += 1
        return super().raw_decode(s, idx)


MEGA = 1_600_000
DEGENERATE = {
    "brackets": "[" * MEGA,  # a repetition loop
    "unterminated-string": '["' + "[" * MEGA,  # every "[" after it reads to the end
    "nested-objects": '{"a": ' * (MEGA // 6),
    "nested-lists": "[1, " * (MEGA // 4),
    "many-short-tries": "x{" * (MEGA // 2),
}


@pytest.mark.parametrize("text", list(DEGENERATE.values()), ids=list(DEGENERATE))
def test_parse_json_reply_gives_up_on_a_degenerate_reply_within_bounded_tries(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    from pytest_llmdrift import scorers

    decoder = _CountingDecoder()
    monkeypatch.setattr(scorers, "_JSON_DECODER", decoder)
    with pytest.raises(ValueError, match="no JSON found") as raised:
        parse_json_reply(text)
    # was one try per "{"/"[" (up to 1.6 million), each reading to the end of the reply
    assert decoder.attempts <= scorers._JSON_MAX_ATTEMPTS + 1
    if text.startswith(("[[", '["', "{", "[1")):  # each try reads far: the budget stops it
        assert decoder.attempts < 10
    assert "gave up" in str(raised.value)
    # the scorers that share it say so plainly
    score = json_match().score(baseline="{}", current=text)
    assert score.detail == "no JSON found in the current reply"


def test_parse_json_reply_still_finds_json_after_much_prose() -> None:
    braces = "use {x} or [y], " * 2000  # 4000 failed tries, each short
    assert parse_json_reply(braces + '{"a": 1}') == {"a": 1}
    assert parse_json_reply("[" * 300 + ' and then {"a": 1}') == {"a": 1}  # within the floor
    with pytest.raises(ValueError, match=r"^no JSON found$"):
        parse_json_reply(braces)
