"""The exact McNemar test at the sizes a 20 000-item compare reaches."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from pytest_llmdrift.report.statistics import mcnemar_exact


def _term_by_term(b: int, c: int) -> float:
    """The definition, summed term by term (quadratic: small counts only)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def _log_space(b: int, c: int) -> float:
    """An independent floating-point computation (log-sum-exp of log C(n, i))."""
    n, k = b + c, min(b, c)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(k + 1)]
    top = max(logs)
    log_tail = top + math.log(sum(math.exp(v - top) for v in logs))
    return min(1.0, math.exp(math.log(2) + log_tail - n * math.log(2)))


def test_same_values_as_the_definition_for_every_small_pair() -> None:
    for b in range(0, 45):
        for c in range(0, 45):
            assert mcnemar_exact(b, c) == _term_by_term(b, c), (b, c)


@pytest.mark.parametrize(("b", "c"), [(10_000, 10_000), (10_000, 9_700), (9_000, 10_000)])
def test_large_counts_stay_exact(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(_log_space(b, c), rel=1e-9)


def test_equal_counts_are_no_evidence_at_any_size() -> None:
    assert mcnemar_exact(10_000, 10_000) == 1.0
    assert mcnemar_exact(5_001, 5_000) == 1.0
