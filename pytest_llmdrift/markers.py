"""The plugin's markers: their documentation and the checking of their arguments. Pure.

``@pytest.mark.llm(category=..., difficulty=..., created=...)`` is metadata the
reports group by; ``@pytest.mark.llm_repeat(n, min_pass_rate)`` runs a test body
on n samples. A bad argument is a ``ValueError`` whose message says how to fix it;
the plugin turns it into an error of that one test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pytest_llmdrift.report.statistics import (
    DEFAULT_CONFIDENCE,
    repeat_verdict,
    required_passes,
    wilson_interval,
)

MARKERS: Mapping[str, str] = {
    "llm": (
        "llm(category=None, difficulty=None, created=None): metadata the llmdrift report "
        "groups by: pass rate per category (the seesaw view), per difficulty, and before "
        "and after --llm-cutoff (created: the test's date, YYYY-MM-DD)"
    ),
    "llm_repeat": (
        "llm_repeat(n, min_pass_rate=1.0, confidence=0.95): run the test body on up to n "
        "samples (each cached); it passes when at least min_pass_rate of the n pass, and "
        "stops as soon as the verdict cannot change"
    ),
    "llm_paraphrase": (
        "llm_paraphrase(group, variant): set by paraphrases() on each variant; groups the "
        "variants of one prompt for the prompt-sensitivity report"
    ),
}
_META_KEYS = ("category", "difficulty", "created")


def llm_metadata(args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The checked arguments of ``@pytest.mark.llm``, JSON-able."""
    if args:
        raise ValueError(
            "@pytest.mark.llm takes keyword arguments only: "
            "@pytest.mark.llm(category='math', difficulty='hard', created='2023-05-01')"
        )
    unknown = sorted(set(kwargs) - set(_META_KEYS))
    if unknown:
        raise ValueError(
            f"@pytest.mark.llm got unknown argument(s) {', '.join(unknown)}; "
            f"it takes {', '.join(_META_KEYS)}"
        )
    meta: dict[str, Any] = {}
    category = kwargs.get("category")
    if category is not None:
        if not isinstance(category, str) or not category.strip():
            raise ValueError(
                f"@pytest.mark.llm(category=...) must be a non-empty string, got {category!r}"
            )
        meta["category"] = category
    difficulty = kwargs.get("difficulty")
    if difficulty is not None:
        if (
            isinstance(difficulty, bool)
            or not isinstance(difficulty, str | int | float)
            or (isinstance(difficulty, float) and not math.isfinite(difficulty))
        ):
            raise ValueError(
                "@pytest.mark.llm(difficulty=...) must be a string or a number "
                f"(e.g. 'easy' or 3), got {difficulty!r}"
            )
        meta["difficulty"] = difficulty
    created = kwargs.get("created")
    if created is not None:
        meta["created"] = _iso_date(created)
    return meta


def _iso_date(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError(
        f"@pytest.mark.llm(created=...) must be a date, as 'YYYY-MM-DD' or a "
        f"datetime.date, got {value!r}"
    )


@dataclass(frozen=True)
class RepeatSpec:
    """``@pytest.mark.llm_repeat(n, min_pass_rate, confidence)``, checked."""

    n: int
    min_pass_rate: float = 1.0
    confidence: float = DEFAULT_CONFIDENCE

    @classmethod
    def from_marker(cls, args: Sequence[Any], kwargs: Mapping[str, Any]) -> RepeatSpec:
        names = ("n", "min_pass_rate", "confidence")
        if len(args) > len(names):
            raise ValueError(
                f"@pytest.mark.llm_repeat takes at most {len(names)} arguments "
                "(n, min_pass_rate, confidence)"
            )
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise ValueError(
                    f"@pytest.mark.llm_repeat got an unknown argument {key!r}; it takes "
                    "n, min_pass_rate and confidence"
                )
            if key in values:
                raise ValueError(f"@pytest.mark.llm_repeat got {key} twice")
            values[key] = value
        if "n" not in values:
            raise ValueError(
                "@pytest.mark.llm_repeat needs the number of samples: "
                "@pytest.mark.llm_repeat(10, min_pass_rate=0.8)"
            )
        n = values["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(
                f"@pytest.mark.llm_repeat(n=...) must be a whole number >= 1, got {n!r}"
            )
        rate = values.get("min_pass_rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise ValueError(
                "@pytest.mark.llm_repeat(min_pass_rate=...) must be a number in (0, 1], "
                f"e.g. 0.8, got {rate!r}"
            )
        confidence = values.get("confidence", DEFAULT_CONFIDENCE)
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not (0 < confidence < 1)
        ):
            raise ValueError(
                "@pytest.mark.llm_repeat(confidence=...) must be a number in (0, 1), "
                f"e.g. 0.95, got {confidence!r}"
            )
        return cls(n=n, min_pass_rate=float(rate), confidence=float(confidence))


@dataclass(frozen=True)
class RepeatResult:
    """What ``llm_repeat`` saw: samples run, passes, the verdict and its interval."""

    spec: RepeatSpec
    runs: int
    passes: int
    passed: bool
    failures: tuple[tuple[int, str], ...] = ()  # (sample, one-line message)

    @property
    def pass_rate(self) -> float:
        return self.passes / self.runs if self.runs else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.passes, self.runs, self.spec.confidence)

    @property
    def stopped_early(self) -> bool:
        return self.runs < self.spec.n

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "n": self.spec.n,
            "min_pass_rate": self.spec.min_pass_rate,
            "required_passes": required_passes(self.spec.n, self.spec.min_pass_rate),
            "runs": self.runs,
            "passes": self.passes,
            "pass_rate": self.pass_rate,
            "confidence": self.spec.confidence,
            "ci_low": low,
            "ci_high": high,
            "stopped_early": self.stopped_early,
            "passed": self.passed,
            "failures": [{"sample": s, "message": m} for s, m in self.failures],
        }

    def summary(self) -> str:
        low, high = self.interval
        needed = required_passes(self.spec.n, self.spec.min_pass_rate)
        stop = f", stopped after {self.runs} of {self.spec.n}" if self.stopped_early else ""
        return (
            f"{self.passes} of {self.runs} samples passed{stop}; needs {needed} of "
            f"{self.spec.n} (min_pass_rate {self.spec.min_pass_rate:g}); pass rate "
            f"{self.pass_rate:.2f}, {self.spec.confidence:.0%} Wilson interval "
            f"{low:.2f}-{high:.2f}"
        )


def run_repeated(
    body: Callable[[int], None],
    spec: RepeatSpec,
    *,
    failure_types: tuple[type[BaseException], ...] = (Exception,),
    passthrough: tuple[type[BaseException], ...] = (),
) -> tuple[RepeatResult, BaseException | None]:
    """Run ``body(sample)`` for samples 0, 1, ... until the verdict is decided.

    An exception of ``failure_types`` fails that sample (an assertion, or a reply
    the test could not parse); one of ``passthrough`` (a provider error, a replay
    miss, a skip or xfail) and anything else propagate: they are not a verdict on
    the model. Returns the result and the first failing sample's exception.
    """
    passes = 0
    failures: list[tuple[int, str]] = []
    first: BaseException | None = None
    verdict: bool | None = None
    runs = 0
    for sample in range(spec.n):
        runs += 1
        try:
            body(sample)
        except passthrough:
            raise
        except failure_types as exc:
            failures.append((sample, _one_line(exc)))
            first = first or exc
        else:
            passes += 1
        verdict = repeat_verdict(passes, len(failures), spec.n, spec.min_pass_rate)
        if verdict is not None:
            break
    assert verdict is not None  # decided at the latest after n samples
    return RepeatResult(spec, runs, passes, verdict, tuple(failures)), first


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    head = text[0] if text else ""
    return f"{type(exc).__name__}: {head}"[:300] if head else type(exc).__name__
