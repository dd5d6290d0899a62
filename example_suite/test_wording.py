"""Prompt robustness: the same question, worded differently, gets the same answer.

Users word questions their own way, and answers can swing with the wording alone
(Zhou et al., Nature 2024: "can you answer..." vs "please answer..."; GPT-Fathom saw
a benchmark score fall from 74.0 to 55.5 when only the prompt template changed).
demo-2023-03 answers by the number alone, whatever the wording; demo-2023-06's
answer also depends on the wording, so some rewordings flip it.

``paraphrases(TEMPLATE, n=6)`` gives the template (p0) and five rewordings. They are
generated once and kept in ``__paraphrases__/test_wording.json``: commit that file
and review it like a snapshot (``--snapshot-update`` regenerates it). The summary's
"prompt sensitivity" lines count, per group, the variants whose outcome differs
from p0's.
"""

import pytest

from pytest_llmdrift import assert_agreement, extract, paraphrases

pytestmark = pytest.mark.llm(category="robustness", created="2023-05-15")

ANSWER = extract(r"\[(Yes|No)\]")
PRIME = "Is 7919 a prime number? Think step by step and then answer [Yes] or [No]."
HAPPY = "Is 2024 a happy number? Think step by step and then answer [Yes] or [No]."
HAPPY_WORDINGS = paraphrases(HAPPY, n=6)


@pytest.mark.parametrize("prompt", paraphrases(PRIME, n=6))
def test_prime_answer_survives_rewording(llm, prompt):
    reply = llm(prompt, temperature=0)
    assert ANSWER.answer(reply.text) == "yes", reply.text


@pytest.mark.parametrize("prompt", HAPPY_WORDINGS)
def test_happy_answer_survives_rewording(llm, prompt):
    reply = llm(prompt, temperature=0)
    assert ANSWER.answer(reply.text) == "no", reply.text


@pytest.mark.llm(difficulty="hard")
def test_rewordings_agree_with_each_other(llm):
    """Invariance within one run, with no baseline and no right answer: every
    rewording must get the answer p0 gets. (Same requests as above: cached.)"""
    replies = llm.map([param.values[0] for param in HAPPY_WORDINGS], temperature=0)
    assert_agreement(replies, ANSWER)
