"""Happy-number questions, the paper's second maths task: "Is N a happy number?".

A happy number reaches 1 when it is replaced, again and again, by the sum of the
squares of its digits (7 -> 49 -> 97 -> 130 -> 10 -> 1). Chen, Zaharia & Zou (2023)
saw the same March -> June 2023 pattern as for primes: the reasoning vanished and
the June answers became mostly wrong. The demo models imitate it: demo-2023-03 shows
the sequence and is right for about 84% of numbers; demo-2023-06 answers a bare
[Yes]/[No], and which way it goes depends on the wording too.

The answer is pulled out with ``extract``, so the reasoning may change freely; only
the bracketed answer is compared with the baseline.
"""

import pytest

from pytest_llmdrift import extract

pytestmark = pytest.mark.llm(category="math", created="2023-04-12")

PROMPT = "Is {n} a happy number? Think step by step and then answer [Yes] or [No]."
ANSWER = extract(r"\[(Yes|No)\]")

HAPPY = [7, 19, 28, 97, 130]
UNHAPPY = [4, 12, 20, 2024]


@pytest.mark.parametrize("n", [*HAPPY, *UNHAPPY, 100])
def test_answer_matches_baseline(llm, llm_snapshot, n):
    """Drift: the answer must stay what it was. (100 is happy, but the baseline
    model says "No": the baseline keeps that, and only a change is reported.)"""
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert reply == llm_snapshot(ANSWER)


@pytest.mark.parametrize("n", HAPPY)
def test_happy_number_is_recognised(llm, n):
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert ANSWER.answer(reply.text) == "yes", reply.text


@pytest.mark.parametrize("n", UNHAPPY)
def test_unhappy_number_is_recognised(llm, n):
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert ANSWER.answer(reply.text) == "no", reply.text
