"""Run statistics: calls, tokens, errors and served-model identity.

JSON-able so xdist workers can publish theirs and the controller can merge them.
Thread-safe: ``llm.map`` records from several threads. Pure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmdrift.reply import JSONDict, Reply


@dataclass
class ModelStats:
    """What was seen for one pinned model (``provider:name``)."""

    live: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cached_output_tokens: int = 0
    errors: int = 0
    replay_misses: int = 0
    served: dict[str, int] = field(default_factory=dict)  # served name -> replies
    fingerprints: dict[str, int] = field(default_factory=dict)  # fingerprint -> replies

    def merge(self, other: ModelStats) -> None:
        for name in (
            "live",
            "cached",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cached_output_tokens",
            "errors",
            "replay_misses",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        _add_counts(self.served, other.served)
        _add_counts(self.fingerprints, other.fingerprints)


def _add_counts(into: dict[str, int], other: Mapping[str, int]) -> None:
    for key, count in other.items():
        into[key] = into.get(key, 0) + count


@dataclass
class RunStats:
    models: dict[str, ModelStats] = field(default_factory=dict)
    # Served-identity changes seen against the cache's record of earlier runs.
    changes: list[str] = field(default_factory=list)
    # Things the user should know, each labelled with what it is about ("cache: ...").
    notices: list[str] = field(default_factory=list)
    # The subset of notices that means something was wrong or tampered with: the
    # terminal summary puts them first, in red.
    alarms: list[str] = field(default_factory=list)
    budget_refusals: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _model(self, model: str) -> ModelStats:
        return self.models.setdefault(model, ModelStats())

    def record_reply(self, model: str, reply: Reply) -> None:
        with self._lock:
            stats = self._model(model)
            if reply.cached:
                stats.cached += 1
                stats.cached_input_tokens += reply.usage.input_tokens
                stats.cached_output_tokens += reply.usage.output_tokens
            else:
                stats.live += 1
                stats.input_tokens += reply.usage.input_tokens
                stats.output_tokens += reply.usage.output_tokens
            _add_counts(stats.served, {reply.model: 1})
            if reply.fingerprint:
                _add_counts(stats.fingerprints, {reply.fingerprint: 1})

    def record_error(self, model: str) -> None:
        with self._lock:
            self._model(model).errors += 1

    def record_replay_miss(self, model: str) -> None:
        with self._lock:
            self._model(model).replay_misses += 1

    def record_budget_refusal(self) -> None:
        with self._lock:
            self.budget_refusals += 1

    def add_change(self, text: str) -> None:
        with self._lock:
            if text not in self.changes:
                self.changes.append(text)

    def add_notices(self, texts: Iterable[str], *, alarm: bool = False) -> None:
        with self._lock:
            for text in texts:
                if text not in self.notices:
                    self.notices.append(text)
                if alarm and text not in self.alarms:
                    self.alarms.append(text)

    def add_cache_notices(self, notices: Iterable[str], alarms: Iterable[str]) -> None:
        """Take a :class:`~pytest_llmdrift.cache.ResponseCache`'s notices, labelled."""
        alarmed = set(alarms)
        for text in notices:
            self.add_notices([f"cache: {text}"], alarm=text in alarmed)

    @property
    def live(self) -> int:
        return sum(m.live for m in self.models.values())

    @property
    def cached(self) -> int:
        return sum(m.cached for m in self.models.values())

    @property
    def used(self) -> bool:
        return bool(self.models or self.notices or self.changes or self.budget_refusals)

    def to_json(self) -> JSONDict:
        with self._lock:
            return {
                "models": {name: vars(stats).copy() for name, stats in self.models.items()},
                "changes": list(self.changes),
                "notices": list(self.notices),
                "alarms": list(self.alarms),
                "budget_refusals": self.budget_refusals,
            }

    def merge_json(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            for name, raw in data.get("models", {}).items():
                self._model(name).merge(ModelStats(**raw))
            self.budget_refusals += int(data.get("budget_refusals", 0))
        for text in data.get("changes", []):
            self.add_change(text)
        self.add_notices(data.get("notices", []))
        self.add_notices(data.get("alarms", []), alarm=True)

    def served_summary(self, model: str) -> list[str]:
        """Lines saying what was served for ``model`` (``provider:name``) and any
        change of served name or fingerprint within the run."""
        stats = self.models.get(model)
        if stats is None:
            return []
        requested = model.split(":", 1)[1]
        lines = []
        served = sorted(stats.served)
        fingerprints = sorted(stats.fingerprints)
        fp = f" (fingerprint {', '.join(fingerprints)})" if fingerprints else ""
        if served == [requested]:
            lines.append(f"{model}: served as requested{fp}")
        elif len(served) == 1:
            lines.append(f"{model}: served as {served[0]}{fp} (the pinned name is an alias)")
        if len(served) > 1:
            lines.append(
                f"{model}: WARNING this run's replies (live and cached) came from different "
                f"served models: {', '.join(served)}"
            )
        if len(fingerprints) > 1:
            lines.append(
                f"{model}: WARNING this run's replies (live and cached) came with different "
                "fingerprints: " + ", ".join(fingerprints)
            )
        return lines
