"""Free text: customer-facing copy the app shows as it is.

Chen, Zaharia & Zou (2023) saw GPT-4's answers change length and shape between
March and June 2023 (for primes, from 638 characters on average to 4). For free
text there is no single right answer, so the test compares the wording with the
baseline's using ``similar(min=...)`` (rapidfuzz token similarity): a rephrased
sentence passes, a reply that became a one-liner does not. demo-2023-06 answers
every such prompt with one terse sentence.
"""

import pytest

from pytest_llmdrift import similar

pytestmark = pytest.mark.llm(category="writing", created="2023-07-03")

PROMPTS = {
    "returns-policy": (
        "Summarize our returns policy for a customer: items can be returned within 30 "
        "days with the receipt, and refunds go back to the original payment method."
    ),
    "welcome": "Write a short, friendly welcome message for new users of our budgeting app.",
    "two-factor": "Explain in plain words what a two-factor authentication code is.",
}


@pytest.mark.parametrize("prompt", PROMPTS.values(), ids=PROMPTS.keys())
def test_copy_matches_baseline(llm, llm_snapshot, prompt):
    reply = llm(prompt, temperature=0)
    assert reply == llm_snapshot(similar(min=0.6))
