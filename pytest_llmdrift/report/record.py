"""The run record: one entry per test item, built from test reports. Pure.

Each item's LLM data (its model, replies and snapshot comparisons) rides on the
item's ``TestReport`` as a JSON-able ``llmdrift`` attribute. pytest-xdist sends
report attributes from workers to the controller, so the record is built in one
place, from every worker, with nothing else to merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

REPORT_ATTRIBUTE = "llmdrift"


MESSAGE_LIMIT = 2000  # characters of a failure message kept in the report


@dataclass
class ItemRecord:
    nodeid: str
    test: str = ""  # the node id without the model: pairs runs on different models
    model: str | None = None
    outcome: str = "passed"
    duration: float = 0.0
    category: str | None = None
    difficulty: str | int | float | None = None
    created: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    paraphrase: dict[str, Any] | None = None
    repeat: dict[str, Any] | None = None
    message: str | None = None
    no_verdict: str | None = None  # the error that kept the model from answering

    def to_json(self) -> dict[str, Any]:
        last = self.replies[-1] if self.replies else None
        return {
            "nodeid": self.nodeid,
            "test": self.test or self.nodeid,
            "model": self.model,
            "outcome": self.outcome,
            "duration": round(self.duration, 6),
            "category": self.category,
            "difficulty": self.difficulty,
            "created": self.created,
            # The item's (last) reply, for the common one-call test; all are in replies.
            "text": last["text"] if last else None,
            "served_model": last["served_model"] if last else None,
            "fingerprint": last["fingerprint"] if last else None,
            "replies": self.replies,
            "comparisons": self.comparisons,
            "paraphrase": self.paraphrase,
            "repeat": self.repeat,
            "message": self.message,
            "no_verdict": self.no_verdict,
        }


def verdict(item: Mapping[str, Any]) -> bool | None:
    """The test's verdict on the model: True (passed), False (failed), or None.

    An expected failure (xfail) that ran and failed is still the model failing the
    check, and an xpass a pass; a skip, or an xfail that never asked the model
    (``run=False``, or ``pytest.xfail()`` before any call), has no verdict.
    """
    outcome = item.get("outcome")
    if item.get("no_verdict"):
        return None  # a provider error, replay miss or spent budget: the model never answered
    if outcome in ("passed", "xpassed"):
        return True
    if outcome in ("failed", "error"):
        return False
    if outcome == "xfailed" and item.get("replies"):
        return False
    return None


def served_identity(comparison: Mapping[str, Any], which: str, *, served: str = "served") -> str:
    """``MODEL (served NAME), FINGERPRINT`` of a comparison's baseline or current side
    (``served`` is the word before the served name)."""
    model = comparison.get(f"{which}_model") or "?"
    name = comparison.get(f"{which}_served_model") or model
    fingerprint = comparison.get(f"{which}_fingerprint")
    text = str(model) if name == model else f"{model} ({served} {name})"
    return text + (f", {fingerprint}" if fingerprint else "")


@dataclass(frozen=True)
class GroupSensitivity:
    """How one paraphrase group fared on one model: which variants' outcomes
    differ from p0's, and the spread of pass rates across variants."""

    test: str
    group: str
    model: str | None
    pass_rates: dict[int, float]

    @property
    def disagreeing(self) -> list[int]:
        reference = self.pass_rates.get(0)
        if reference is None:
            return []
        return sorted(v for v, rate in self.pass_rates.items() if v and rate != reference)

    @property
    def spread(self) -> float:
        return max(self.pass_rates.values()) - min(self.pass_rates.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "group": self.group,
            "model": self.model,
            "variants": len(self.pass_rates),
            "disagree_with_p0": len(self.disagreeing),
            "disagreeing": [f"p{v}" for v in self.disagreeing],
            "pass_rates": {f"p{v}": rate for v, rate in sorted(self.pass_rates.items())},
            "spread": self.spread,
        }


@dataclass
class RunRecord:
    items: dict[str, ItemRecord] = field(default_factory=dict)

    def add(
        self,
        *,
        nodeid: str,
        when: str,
        outcome: str,
        duration: float,
        data: Mapping[str, Any] | None,
    ) -> None:
        """Fold in one test report (setup, call or teardown phase)."""
        item = self.items.get(nodeid)
        if item is None:
            if data is None:
                return  # not an llm test
            item = self.items[nodeid] = ItemRecord(nodeid=nodeid)
        if data:
            item.model = data.get("model", item.model)
            item.test = data.get("test", item.test)
            item.paraphrase = data.get("paraphrase", item.paraphrase)
            meta = data.get("meta") or {}
            item.category = meta.get("category", item.category)
            item.difficulty = meta.get("difficulty", item.difficulty)
            item.created = meta.get("created", item.created)
            item.repeat = data.get("repeat", item.repeat)
            item.replies.extend(data.get("replies", []))
            item.comparisons.extend(data.get("comparisons", []))
            item.no_verdict = data.get("no_verdict", item.no_verdict)
            if data.get("message") and item.message is None:
                item.message = str(data["message"])[:MESSAGE_LIMIT]
        item.duration += duration
        if outcome == "failed":
            # A failed call is a test failure; a failed setup or teardown an error.
            if item.outcome != "error":
                item.outcome = "failed" if when == "call" else "error"
        elif outcome in ("skipped", "xfailed", "xpassed") and item.outcome == "passed":
            item.outcome = outcome

    def comparisons(self) -> Iterator[tuple[ItemRecord, dict[str, Any]]]:
        for item in self.items.values():
            for comparison in item.comparisons:
                yield item, comparison

    def drifted(self) -> list[tuple[ItemRecord, dict[str, Any]]]:
        return [(i, c) for i, c in self.comparisons() if c.get("drifted")]

    def sensitivity(self) -> list[GroupSensitivity]:
        """Prompt sensitivity per paraphrase group and model (skipped items left out)."""
        return sensitivity(item.to_json() for item in self.items.values())


def sensitivity(items: Iterable[Mapping[str, Any]]) -> list[GroupSensitivity]:
    """Prompt sensitivity per paraphrase group and model, from report item records."""
    runs: dict[tuple[str, str, str | None], dict[int, list[bool]]] = {}
    for item in items:
        info = item.get("paraphrase")
        passed = verdict(item)
        if not info or passed is None or info.get("variant") is None:
            continue
        key = (str(info.get("test")), str(info.get("group")), item.get("model"))
        runs.setdefault(key, {}).setdefault(int(info["variant"]), []).append(passed)
    return [
        GroupSensitivity(
            test=test,
            group=group,
            model=model,
            pass_rates={v: sum(r) / len(r) for v, r in variants.items()},
        )
        for (test, group, model), variants in sorted(
            runs.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
        )
        if 0 in variants and len(variants) > 1  # p0 is the reference
    ]
