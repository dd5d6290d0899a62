"""Primality questions, as in Chen, Zaharia & Zou (2023): "Is N a prime number?".

Measured on GPT-4, March -> June 2023: accuracy fell from 84.0% to 51.1%, the June
model answered "No" to 97.6% of primes, and the mean answer shrank from 638 to 4
characters (the step-by-step reasoning disappeared).

Two kinds of test guard against that:

* drift tests (``llm_snapshot``) compare the bracketed answer with the recorded
  baseline (``extract``), and the reasoning shown to users with ``similar``; they
  say what moved, without deciding what is right;
* correctness tests check the answer against the truth, independent of any baseline.

Record the baselines with ``pytest example_suite --snapshot-update``; see what a
model update changes with ``pytest example_suite --llm-model=demo-2023-06``.
"""

import pytest

from pytest_llmdrift import extract, similar

pytestmark = pytest.mark.llm(category="math", created="2023-03-20")

PROMPT = "Is {n} a prime number? Think step by step and then answer [Yes] or [No]."
ANSWER = extract(r"\[(Yes|No)\]")


# The report gives pass rates per difficulty; here it goes on each parameter.
def easy(n):
    return pytest.param(n, marks=pytest.mark.llm(difficulty="easy"))


def hard(n):
    return pytest.param(n, marks=pytest.mark.llm(difficulty="hard"))


PRIMES = [easy(7), easy(11), easy(97), hard(1009), hard(10007), hard(17077), hard(20011)]
COMPOSITES = [easy(91), hard(561), hard(1001), hard(8051)]


@pytest.mark.parametrize("n", PRIMES + COMPOSITES)
def test_answer_matches_baseline(llm, llm_snapshot, n):
    """The extracted [Yes]/[No] must not move when the model does.

    The baseline records what the model said, right or wrong: demo-2023-03 gets
    1009 and 17077 wrong, so a model that also says "No" there does not drift.
    """
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert reply == llm_snapshot(ANSWER)


@pytest.mark.parametrize("n", [easy(7), easy(11), easy(97), hard(10007), hard(20011)])
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
