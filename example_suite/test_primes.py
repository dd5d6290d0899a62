"""Primality questions, as in Chen, Zaharia & Zou (2023): "Is N a prime number?".

The app parses the bracketed answer, so the drift tests compare that answer with
the baseline (``extract``), and the reasoning shown to users with ``similar``.
Record the baselines with ``pytest example_suite --snapshot-update``; see what a
model update changes with ``pytest example_suite --llm-model=demo-2023-06``.
"""

import pytest

from pytest_llmdrift import extract, similar

PROMPT = "Is {n} a prime number? Think step by step and then answer [Yes] or [No]."
ANSWER = extract(r"\[(Yes|No)\]")

PRIMES = [7, 11, 97, 1009, 10007, 17077, 20011]
COMPOSITES = [91, 561, 1001, 8051]


@pytest.mark.parametrize("n", PRIMES + COMPOSITES)
def test_answer_matches_baseline(llm, llm_snapshot, n):
    """The extracted [Yes]/[No] must not move when the model does."""
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert reply == llm_snapshot(ANSWER)


@pytest.mark.parametrize("n", [7, 11, 97, 10007, 20011])
def test_prime_is_recognised(llm, yes_no, n):
    """Correctness, independent of any baseline."""
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert yes_no(reply.text) == "Yes", reply.text


@pytest.mark.parametrize("n", COMPOSITES)
def test_composite_is_recognised(llm, yes_no, n):
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert yes_no(reply.text) == "No", reply.text


def test_reasoning_is_kept(llm, llm_snapshot):
    """The app shows the model's reasoning: it may be reworded, not dropped."""
    reply = llm(PROMPT.format(n=20011), temperature=0)
    assert reply == llm_snapshot(similar(min=0.6))
