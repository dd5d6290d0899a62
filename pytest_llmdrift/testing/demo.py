"""The built-in demo models: simulations, not real models.

``demo-2023-03`` and ``demo-2023-06`` answer a few kinds of question in ways that
differ like GPT-4's March and June 2023 snapshots did (Chen, Zaharia, Zou, 2023):
the June one answers "No" to most primality questions and drops its reasoning.
They are deterministic, so an example run is reproducible. They are served by
:class:`~pytest_llmdrift.testing.ModelServer`, which the plugin starts on loopback
when a ``demo-*`` model is pinned.
"""

from __future__ import annotations

import hashlib
import re

from pytest_llmdrift.providers.demo import DEMO_MODELS

__all__ = ["DEMO_FINGERPRINTS", "DEMO_MODELS", "SIMULATION_NOTE", "demo_reply"]
SIMULATION_NOTE = "simulated demo model (pytest-llmdrift); not a real LLM"
DEMO_FINGERPRINTS = {"demo-2023-03": "fp_demo_0314", "demo-2023-06": "fp_demo_0613"}

_PRIME_QUESTION = re.compile(
    r"\b(\d{1,12})\b[^.?!]*\bprime\b|\bprime\b[^.?!]*?\b(\d{1,12})\b", re.I
)


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    factor = 3
    while factor * factor <= n:
        if n % factor == 0:
            return False
        factor += 2
    return True


def _smallest_factor(n: int) -> int:
    factor = 2
    while factor * factor <= n:
        if n % factor == 0:
            return factor
        factor += 1
    return n


def _chance(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from the parts (no global RNG)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def answer_prime(model: str, prompt: str, n: int) -> str:
    prime = _is_prime(n)
    if model == "demo-2023-06":
        # June: answers No to almost every prime, with no reasoning.
        says_yes = prime and _chance(model, "prime", n) < 0.024
        return "[Yes]" if says_yes else "[No]"
    # March: reasons step by step and is right about 84% of the time.
    right = _chance(model, "prime", n, prompt) < 0.84
    says_yes = prime if right else not prime
    if n < 2:
        steps = f"Step 1: a prime is a whole number greater than 1, and {n} is not."
    elif n == 2:
        steps = "Step 1: 2 is divisible only by 1 and itself."
    elif prime:
        steps = (
            f"Step 1: {n} is odd, so it is not divisible by 2. "
            f"Step 2: checking odd divisors up to the square root of {n} "
            f"(about {int(n**0.5)}), none divides it evenly."
        )
    else:
        factor = _smallest_factor(n)
        steps = (
            f"Step 1: {n} = {factor} x {n // factor}, so it has a divisor other than 1 and itself."
        )
    verdict = "Yes" if says_yes else "No"
    return f"Let's think step by step. {steps} Therefore the answer is [{verdict}]."


def demo_reply(model: str, prompt: str) -> str:
    """The demo model ``model``'s reply to ``prompt``."""
    match = _PRIME_QUESTION.search(prompt)
    if match:
        return answer_prime(model, prompt, int(match.group(1) or match.group(2)))
    if model == "demo-2023-06":
        return "I can help with that."
    return (
        "This is a simulated demo model: it answers primality questions and echoes other "
        f"requests. You asked: {prompt.strip()}"
    )
