"""Invariance within one run: do the replies to a paraphrase group agree? Pure.

Reply 0 (the reply to ``p0``, the template) is the reference; every other reply is
scored against it::

    replies = [llm(p) for p in prompts]   # e.g. the texts of paraphrases(T, n=5)
    assert_agreement(replies, extract(r"\\[(Yes|No)\\]"))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pytest_llmdrift.scorers import Score, Scorer

__all__ = ["Agreement", "ParaphraseDisagreement", "agreement", "assert_agreement"]

_EXCERPT = 80


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…")


@dataclass(frozen=True)
class Agreement:
    """How a group of replies agrees with its reference (reply 0).

    ``total`` counts the replies compared with the reference (all but reply 0),
    ``agreeing`` those whose score passed, ``rate`` their share (1.0 for a group of
    one), ``disagreeing`` holds ``(label, text, score)`` for each of the others.
    """

    passed: bool
    agreeing: int
    total: int
    disagreeing: list[tuple[str, str, Score]]
    rate: float
    scorer: str = ""
    min_rate: float = 1.0
    reference: tuple[str, str] = ("p0", "")
    scores: list[tuple[str, Score]] = field(default_factory=list)

    def message(self) -> str:
        """A readable account, listing every disagreeing variant."""
        verdict = "agree" if self.passed else "do not agree"
        lines = [
            f"paraphrases {verdict} under {self.scorer}: {self.agreeing} of {self.total} "
            f"variants agree with {self.reference[0]} (rate {self.rate:.0%}, "
            f"need {self.min_rate:.0%})",
        ]
        if self.disagreeing:
            lines.append(f"  {self.reference[0]} (reference): {_excerpt(self.reference[1])}")
            for label, text, score in self.disagreeing:
                lines.append(
                    f"  {label}: score {score.value:.2f} < {score.threshold:.2f}: "
                    f"{score.detail}; reply {_excerpt(text)}"
                )
        return "\n".join(lines)


class ParaphraseDisagreement(AssertionError):
    """Replies to paraphrases of one prompt disagree more than allowed."""

    def __init__(self, result: Agreement) -> None:
        super().__init__(result.message())
        self.agreement = result


def _check_rate(min_rate: float) -> float:
    if isinstance(min_rate, bool) or not isinstance(min_rate, int | float):
        raise ValueError(f"min_rate must be a number between 0 and 1, got {min_rate!r}")
    if not 0.0 <= min_rate <= 1.0:
        raise ValueError(f"min_rate must be a number between 0 and 1, got {min_rate!r}")
    return float(min_rate)


def agreement(
    replies: Sequence[object],
    scorer: Scorer,
    *,
    labels: Sequence[str] | None = None,
    min_rate: float = 1.0,
) -> Agreement:
    """Score every reply against reply 0 with ``scorer`` (``baseline`` = reply 0).
    Replies are :class:`~pytest_llmdrift.Reply` objects or strings; ``labels`` name
    them (default ``p0``, ``p1``, …). Passes when the share of agreeing replies is
    at least ``min_rate``."""
    texts = [str(reply) for reply in replies]
    if not texts:
        raise ValueError("agreement() needs at least one reply (the reference, p0)")
    names = [f"p{i}" for i in range(len(texts))] if labels is None else [str(x) for x in labels]
    if len(names) != len(texts):
        raise ValueError(f"agreement(): {len(texts)} replies but {len(names)} labels")
    rate_bar = _check_rate(min_rate)
    reference = texts[0]
    scores: list[tuple[str, Score]] = []
    disagreeing: list[tuple[str, str, Score]] = []
    for label, text in zip(names[1:], texts[1:], strict=True):
        score = scorer.score(baseline=reference, current=text)
        scores.append((label, score))
        if not score.passed:
            disagreeing.append((label, text, score))
    total = len(texts) - 1
    agreeing = total - len(disagreeing)
    rate = agreeing / total if total else 1.0
    return Agreement(
        passed=rate >= rate_bar,
        agreeing=agreeing,
        total=total,
        disagreeing=disagreeing,
        rate=rate,
        scorer=scorer.name,
        min_rate=rate_bar,
        reference=(names[0], reference),
        scores=scores,
    )


def assert_agreement(
    replies: Sequence[object],
    scorer: Scorer,
    *,
    labels: Sequence[str] | None = None,
    min_rate: float = 1.0,
) -> Agreement:
    """:func:`agreement`, raising :class:`ParaphraseDisagreement` (an AssertionError
    that lists each disagreeing variant, its reply and the score's detail) when the
    agreeing share is below ``min_rate``; returns the :class:`Agreement` otherwise."""
    result = agreement(replies, scorer, labels=labels, min_rate=min_rate)
    if not result.passed:
        raise ParaphraseDisagreement(result)
    return result
