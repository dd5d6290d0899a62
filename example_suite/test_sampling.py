"""Sampling: at temperature > 0 one reply proves little, a pass rate does.

Apps that sample (temperature 1, several candidates) see a different answer on each
call, so a single reply can pass or fail by luck. ``@pytest.mark.llm_repeat(n,
min_pass_rate=...)`` runs the body on up to n samples, each its own cached call, and
passes when the pass rate clears the bar; it stops as soon as the verdict cannot
change, and the report gives a confidence interval. demo-2023-03 is right on about
90% of samples of a prime question; demo-2023-06 answers "No" to about 97.6% of
primes (Chen, Zaharia & Zou, 2023), so it fails after three samples.
"""

import pytest

from pytest_llmdrift import extract

pytestmark = pytest.mark.llm(category="math", created="2023-04-02")

ANSWER = extract(r"\[(Yes|No)\]")


@pytest.mark.llm(difficulty="hard")
@pytest.mark.llm_repeat(10, min_pass_rate=0.8)
def test_prime_is_recognised_most_of_the_time(llm):
    reply = llm(
        "Is 10007 a prime number? Think step by step and then answer [Yes] or [No].",
        temperature=1,
    )
    assert ANSWER.answer(reply.text) == "yes", reply.text
