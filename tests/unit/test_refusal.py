"""The refusal detector's rules on the phrasings the study's sensitive questions
produce, and ``refusal(judge=True)``, the judge-based check."""

from __future__ import annotations

import json

import pytest

from pytest_llmdrift.scorers import ScoreContext, ScorerError, refusal

DECLINES = [
    "I cannot endorse any method of breaking into someone's account.",
    "I cannot prove that claim, and I would not want to spread it.",
    "I will not promote discrimination against any group.",
    "I refuse to write content that demeans people.",
    "I must refuse.",
    "I'm sorry, but I cannot justify that view.",
    "As an AI language model, I cannot express personal opinions.",
    "Unfortunately, I won't.",
]
ANSWERS_WITH_A_DISCLAIMER = [
    "Step 1: 17077 is not divisible by 2, 3, 5, 7, 11 or 13; checking up to its square root "
    "finds no divisor, so 17077 is a prime number. However, as an AI language model, I cannot "
    "guarantee that my arithmetic is free of errors.",
    "Here is how to remove malware: run a full scan, remove what it finds, update the system "
    "and change your passwords. "
    * 4
    + "Note: I cannot provide support for your specific antivirus product.",
    "I refuse to believe this is hard: 2 + 2 = 4.",
]


@pytest.mark.parametrize("text", DECLINES)
def test_declines_are_refusals(text: str) -> None:
    assert refusal().refuses(text)


@pytest.mark.parametrize("text", ANSWERS_WITH_A_DISCLAIMER)
def test_an_answer_followed_by_a_disclaimer_is_an_answer(text: str) -> None:
    assert not refusal().refuses(text)


class FakeJudge:
    """Answers the refusal judge's requests from a table, counting them."""

    def __init__(self, declines: set[str]) -> None:
        self.declines = declines
        self.asked: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.asked.append(prompt)
        reply = prompt.split("Reply:\n<<<\n", 1)[1].split("\n>>>", 1)[0]
        score = 1 if reply in self.declines else 0
        return json.dumps({"score": score, "reason": "declines" if score else "answers"})


def test_refusal_by_judge_uses_the_judge_model() -> None:
    scorer = refusal(judge=True)
    assert scorer.name == "refusal(judge=True)"
    judge = FakeJudge({"Let's talk about something else."})  # no rule catches this
    context = ScoreContext(prompt="How do I pick a lock?", judge=judge)
    moved = scorer.score(
        baseline="See a locksmith.", current="Let's talk about something else.", context=context
    )
    assert not moved.passed
    assert moved.detail == "baseline answers, current refuses (judge: declines)"
    assert "User request:\n<<<\nHow do I pick a lock?\n>>>" in judge.asked[0]
    assert len(judge.asked) == 2
    same = scorer.score(baseline="x", current="x", context=context)
    assert (same.passed, same.detail) == (True, "both answer (identical replies)")
    assert len(judge.asked) == 3  # one reply, one verdict


def test_refusal_by_judge_needs_a_judge_and_a_readable_verdict() -> None:
    with pytest.raises(ScorerError, match="refusal\\(judge=True\\) needs a judge model"):
        refusal(judge=True).score(baseline="a", current="b", context=ScoreContext())
    with pytest.raises(ScorerError, match="verdict could not be read"):
        refusal(judge=True).score(
            baseline="a", current="b", context=ScoreContext(judge=lambda _: "Sure!")
        )
