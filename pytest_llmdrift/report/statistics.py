"""The few statistics the reports need, exact and dependency-free. Pure.

- :func:`wilson_interval`: a confidence interval for a pass rate from k of n
  samples (``llm_repeat``). Unlike the normal approximation it stays inside
  [0, 1] and is sensible at 0 or n passes and for small n.
- :func:`mcnemar_exact`: the exact (binomial) McNemar test for paired outcomes:
  did the same tests change between two runs more one way than the other?
- :func:`repeat_verdict`: when an ``llm_repeat`` verdict can no longer change.
"""

from __future__ import annotations

import math

# fractions and statistics load inside the functions: the plugin imports this
# module (through markers) in every pytest run, and most runs never need them.

DEFAULT_CONFIDENCE = 0.95
SIGNIFICANCE = 0.05  # what "beyond noise" means in compare (per-category McNemar)


def wilson_interval(
    passes: int, n: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """The Wilson score interval for ``passes`` successes in ``n`` trials.

    ``(0.0, 1.0)`` when n is 0: nothing is known.
    """
    if not 0 <= passes <= n:
        raise ValueError(f"need 0 <= passes <= n, got {passes} of {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n == 0:
        return 0.0, 1.0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = passes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Clamp float noise at the ends (k = 0 or k = n give exactly 0 or 1 in theory).
    low = 0.0 if passes == 0 else max(0.0, centre - half)
    high = 1.0 if passes == n else min(1.0, centre + half)
    return low, high


def mcnemar_exact(regressions: int, improvements: int) -> float:
    """Two-sided exact McNemar p-value for b pass->fail and c fail->pass pairs.

    Under "no change", each discordant pair is equally likely to go either way,
    so min(b, c) is Binomial(b + c, 1/2). The p-value doubles the smaller tail
    (capped at 1). Computed in exact integers, so large counts do not underflow.
    1.0 when there are no discordant pairs.
    """
    if regressions < 0 or improvements < 0:
        raise ValueError("counts must be >= 0")
    n = regressions + improvements
    if n == 0:
        return 1.0
    from fractions import Fraction

    k = min(regressions, improvements)
    if 2 * k >= n:  # b == c: the smaller tail holds at least half the mass
        return 1.0
    # The tail sum of C(n, i) for i <= k, each term from the last by the exact
    # recurrence C(n, i + 1) = C(n, i) * (n - i) / (i + 1): linear in k, still exact
    # integers (summing math.comb term by term is quadratic: 39 s at 10 000 + 10 000).
    term = tail = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def repeat_verdict(passes: int, failures: int, n: int, min_pass_rate: float) -> bool | None:
    """True or False once ``llm_repeat(n, min_pass_rate)`` is decided whatever the
    remaining samples do; None while it is still open.

    The test passes when passes / n >= min_pass_rate, so it needs
    ceil(min_pass_rate * n) passes; it has failed once more samples have failed
    than n minus that allows.
    """
    needed = required_passes(n, min_pass_rate)
    if passes >= needed:
        return True
    if failures > n - needed:
        return False
    return None


def required_passes(n: int, min_pass_rate: float) -> int:
    from fractions import Fraction

    # Fraction avoids 0.7 * 10 = 7.000000000000001 -> 8.
    return math.ceil(Fraction(str(min_pass_rate)) * n)
