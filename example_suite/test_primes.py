"""Primality questions, as in Chen, Zaharia & Zou (2023): "Is N a prime number?".

The bracketed answer is what the app parses, so that is what the tests check.
"""

import pytest

PROMPT = "Is {n} a prime number? Think step by step and then answer [Yes] or [No]."

PRIMES = [7, 11, 97, 10007, 20011]
COMPOSITES = [91, 561, 1001, 8051]


@pytest.mark.parametrize("n", PRIMES)
def test_prime_is_recognised(llm, yes_no, n):
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert yes_no(reply.text) == "Yes", reply.text


@pytest.mark.parametrize("n", COMPOSITES)
def test_composite_is_recognised(llm, yes_no, n):
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert yes_no(reply.text) == "No", reply.text


def test_answers_come_with_reasoning(llm):
    """The app shows the model's reasoning to the user: a bare [Yes] is a regression."""
    replies = llm.map([PROMPT.format(n=n) for n in PRIMES], temperature=0)
    assert all(len(reply.text) > 40 for reply in replies), [r.text for r in replies]
