"""The run record: one entry per test item, built from test reports. Pure.

Each item's LLM data (its model, replies and snapshot comparisons) rides on the
item's ``TestReport`` as a JSON-able ``llmdrift`` attribute. pytest-xdist sends
report attributes from workers to the controller, so the record is built in one
place, from every worker, with nothing else to merge.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

REPORT_ATTRIBUTE = "llmdrift"


@dataclass
class ItemRecord:
    nodeid: str
    model: str | None = None
    outcome: str = "passed"
    duration: float = 0.0
    replies: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "model": self.model,
            "outcome": self.outcome,
            "duration": self.duration,
            "replies": self.replies,
            "comparisons": self.comparisons,
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
            item.replies.extend(data.get("replies", []))
            item.comparisons.extend(data.get("comparisons", []))
        item.duration += duration
        if outcome == "failed":
            item.outcome = "failed" if when == "call" else "error"
        elif outcome == "skipped" and item.outcome == "passed":
            item.outcome = "skipped"

    def comparisons(self) -> Iterator[tuple[ItemRecord, dict[str, Any]]]:
        for item in self.items.values():
            for comparison in item.comparisons:
                yield item, comparison

    def drifted(self) -> list[tuple[ItemRecord, dict[str, Any]]]:
        return [(i, c) for i, c in self.comparisons() if c.get("drifted")]

    def served_changes(self) -> list[tuple[ItemRecord, dict[str, Any]]]:
        return [(i, c) for i, c in self.comparisons() if c.get("served_changed")]
