"""The JSON run report (schema ``llmdrift-report/1``): build, summarise, load, merge.

Pure: the plugin hands in the run record, its statistics and settings; the
``llmdrift`` command loads reports back to compare or merge them. The suite
metrics are always derived from the item records (never stored apart from them),
so a merged report's metrics are the metrics of the merged items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pytest_llmdrift.errors import LLMDriftError
from pytest_llmdrift.report.record import sensitivity, served_identity, verdict
from pytest_llmdrift.stats import RunStats

SCHEMA = "llmdrift-report/1"
NO_CATEGORY = "(none)"
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")

JSON = dict[str, Any]


class ReportError(LLMDriftError):
    """A report file that cannot be read, or reports that cannot be combined."""


# -- building ----------------------------------------------------------------------
def build_report(
    *,
    items: Sequence[Mapping[str, Any]],
    stats: RunStats,
    settings: Mapping[str, Any],
    exit_status: int | None,
    plugin_version: str,
    created: datetime | None = None,
    sources: Sequence[str] = (),
) -> JSON:
    """The report document. ``settings`` holds what a reader needs to know the run
    by (models, cache mode, cutoff, default scorer, judge); never credentials."""
    stamp = (created or datetime.now(UTC)).isoformat(timespec="seconds")
    doc: JSON = {
        "schema": SCHEMA,
        "plugin_version": plugin_version,
        "created": stamp,
        "exit_status": exit_status,
        "models": list(settings.get("models", [])),
        "settings": dict(settings),
        "calls": _calls(stats),
        "tokens": _tokens(stats),
        "served_changes": list(stats.changes),
        "notices": list(stats.notices),
        "alarms": list(stats.alarms),
        "items": [dict(item) for item in sorted(items, key=lambda i: str(i["nodeid"]))],
    }
    if sources:
        doc["merged_from"] = list(sources)
    doc["metrics"] = summarize(doc["items"], cutoff=settings.get("cutoff"))
    return doc


def _calls(stats: RunStats) -> JSON:
    by_model = stats.to_json()["models"]
    return {
        "live": stats.live,
        "cached": stats.cached,
        "errors": sum(m["errors"] for m in by_model.values()),
        "replay_misses": sum(m["replay_misses"] for m in by_model.values()),
        "budget_refusals": stats.budget_refusals,
        "by_model": dict(sorted(by_model.items())),
    }


def _tokens(stats: RunStats) -> JSON:
    models = stats.models.values()
    return {
        "input": sum(m.input_tokens for m in models),
        "output": sum(m.output_tokens for m in models),
        "cached_input": sum(m.cached_input_tokens for m in models),
        "cached_output": sum(m.cached_output_tokens for m in models),
    }


def stats_payload(doc: Mapping[str, Any]) -> JSON:
    """A report's call statistics in :meth:`RunStats.to_json` form (for merging)."""
    calls = doc.get("calls") or {}
    return {
        "models": calls.get("by_model") or {},
        "changes": doc.get("served_changes") or [],
        "notices": doc.get("notices") or [],
        "alarms": doc.get("alarms") or [],
        "budget_refusals": calls.get("budget_refusals", 0),
    }


# -- metrics -------------------------------------------------------------------------
def summarize(items: Sequence[Mapping[str, Any]], *, cutoff: str | None = None) -> JSON:
    """Suite metrics per model: overall, per category, per difficulty, before and
    after the cutoff date; prompt sensitivity and served-model changes."""
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        by_model.setdefault(model_key(item), []).append(item)
    metrics: JSON = {
        "overall": group_metrics(items),
        "models": {m: group_metrics(group) for m, group in sorted(by_model.items())},
        "categories": {
            m: _split(group, lambda i: i.get("category") or NO_CATEGORY)
            for m, group in sorted(by_model.items())
        },
        "difficulties": {
            m: _split(group, lambda i: i.get("difficulty"), skip_none=True)
            for m, group in sorted(by_model.items())
        },
        "cutoff": cutoff,
        "created": {},
        "sensitivity": [g.to_json() for g in sensitivity(items)],
        "served_changes": served_changes(items),
    }
    if cutoff:
        limit = date.fromisoformat(cutoff)
        metrics["created"] = {
            m: _split(group, lambda i: _side_of(i.get("created"), limit), skip_none=True)
            for m, group in sorted(by_model.items())
        }
    return metrics


def model_key(item: Mapping[str, Any]) -> str:
    return str(item.get("model") or "(no model)")


def _side_of(created: str | None, cutoff: date) -> str | None:
    if not created:
        return None
    return "before" if date.fromisoformat(created) < cutoff else "after"


def _split(
    items: Iterable[Mapping[str, Any]], key: Any, *, skip_none: bool = False
) -> dict[str, JSON]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        value = key(item)
        if value is None and skip_none:
            continue
        groups.setdefault(str(value), []).append(item)
    return {name: group_metrics(group) for name, group in sorted(groups.items())}


def scored_comparisons(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Comparisons that were scored against a baseline (not recorded, not errors)."""
    return [
        c
        for item in items
        for c in item.get("comparisons") or []
        if c.get("score") is not None and not c.get("updated")
    ]


def group_metrics(items: Sequence[Mapping[str, Any]]) -> JSON:
    """Pass rate, drift rate, verbosity and refusals of a set of item records."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    for item in items:
        counts[str(item.get("outcome"))] = counts.get(str(item.get("outcome")), 0) + 1
    verdicts = [v for v in map(verdict, items) if v is not None]
    passes, decided = sum(verdicts), len(verdicts)
    comparisons = scored_comparisons(items)
    drifted = sum(1 for c in comparisons if c.get("drifted"))
    texts = [str(r.get("text", "")) for item in items for r in item.get("replies") or []]
    paired = [
        (str(c["baseline_text"]), str(c["current_text"]))
        for c in comparisons
        if c.get("baseline_text") is not None and c.get("current_text") is not None
    ]
    baseline_chars = _mean([len(b) for b, _ in paired])
    current_chars = _mean([len(c) for _, c in paired])
    refuses = _refusal_detector()
    return {
        "tests": len(items),
        **counts,
        "pass_rate": _ratio(passes, decided),
        "comparisons": len(comparisons),
        "drifted": drifted,
        "drift_rate": _ratio(drifted, len(comparisons)),
        "replies": len(texts),
        "mean_reply_chars": _mean([len(t) for t in texts]),
        "baseline_mean_chars": baseline_chars,
        "compared_mean_chars": current_chars,
        "verbosity_ratio": (
            current_chars / baseline_chars if baseline_chars and current_chars is not None else None
        ),
        "refusals": sum(1 for t in texts if refuses(t)),
        "refusal_rate": _ratio(sum(1 for t in texts if refuses(t)), len(texts)),
        "baseline_refusal_rate": _ratio(sum(1 for b, _ in paired if refuses(b)), len(paired)),
        **correctness_split(items),
    }


def answer_checks(items: Iterable[Mapping[str, Any]]) -> dict[str, list[bool]]:
    """Verdicts of the correctness tests (no snapshot comparison: they check the
    answer themselves), by the requests they made. A snapshot test that made the
    same request is right or wrong as they are (see :func:`answer_right`)."""
    checks: dict[str, list[bool]] = {}
    for item in items:
        passed = verdict(item)
        if item.get("comparisons") or passed is None:
            continue
        for digest in {str(r.get("request_hash")) for r in item.get("replies") or []}:
            checks.setdefault(digest, []).append(passed)
    return checks


def answer_right(item: Mapping[str, Any], checks: Mapping[str, list[bool]]) -> bool | None:
    """Whether the item's (first) answer is right, by the correctness tests that
    made the same request; None when none did, or they disagree."""
    replies = item.get("replies") or []
    if not replies:
        return None
    found = checks.get(str(replies[0].get("request_hash"))) or []
    return found[0] if found and len(set(found)) == 1 else None


def correctness_split(items: Sequence[Mapping[str, Any]]) -> JSON:
    """Drift is not regression: the pass rate of the tests that check the answer,
    apart from the snapshot tests whose answer changed (drifted), and of those,
    how many are now right or wrong by a correctness test on the same request."""
    checks = answer_checks(items)
    verdicts = [v for i in items if not i.get("comparisons") for v in [verdict(i)] if v is not None]
    drifted = [i for i in items if any(c.get("drifted") for c in i.get("comparisons") or [])]
    now = [answer_right(i, checks) for i in drifted]
    return {
        "correctness_tests": len(verdicts),
        "correctness_passed": sum(verdicts),
        "correctness_pass_rate": _ratio(sum(verdicts), len(verdicts)),
        "changed_answers": len(drifted),
        "changed_now_right": sum(1 for r in now if r is True),
        "changed_now_wrong": sum(1 for r in now if r is False),
        "changed_unchecked": sum(1 for r in now if r is None),
    }


def _refusal_detector() -> Any:
    from pytest_llmdrift.scorers import refusal

    return refusal().refuses


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def served_changes(items: Iterable[Mapping[str, Any]]) -> list[JSON]:
    """Comparisons whose baseline came from the same pinned model served under
    another name or fingerprint: the provider changed the model under the name."""
    changes = []
    for item in items:
        for c in item.get("comparisons") or []:
            if c.get("served_changed"):
                changes.append(
                    {
                        "nodeid": item.get("nodeid"),
                        "model": item.get("model"),
                        "baseline": served_identity(c, "baseline"),
                        "current": served_identity(c, "current"),
                    }
                )
    return changes


# -- files ---------------------------------------------------------------------------
def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def load_report(path: Path | str) -> JSON:
    """Read and check a report; :class:`ReportError` says what is wrong and how to
    get a good one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            f"{path}: no such report; write one with pytest --llm-report={path}"
        ) from None
    except UnicodeDecodeError as exc:
        raise ReportError(
            f"{path}: not a report (byte {exc.start} is not UTF-8 text); give the JSON file "
            "written by pytest --llm-report, not the HTML or another file"
        ) from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}: not a JSON report (line {exc.lineno}: {exc.msg}); is it a whole "
            "file written by pytest --llm-report?"
        ) from None
    if not isinstance(doc, dict) or "schema" not in doc:
        raise ReportError(f'{path}: not an llmdrift report (no "schema" key)')
    if doc["schema"] != SCHEMA:
        raise ReportError(
            f"{path}: report schema {doc['schema']!r} is not {SCHEMA!r}; write it again "
            "with this version of pytest-llmdrift"
        )
    items = doc.get("items")
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("nodeid"), str) for i in items
    ):
        raise ReportError(f'{path}: "items" must be a list of records with a "nodeid"')
    for item in items:
        if item.get("outcome") not in OUTCOMES:
            raise ReportError(
                f"{path}: item {item['nodeid']!r} has outcome {item.get('outcome')!r}; "
                f"expected one of {', '.join(OUTCOMES)}"
            )
    return doc


# -- merging -------------------------------------------------------------------------
def merge_reports(
    docs: Sequence[Mapping[str, Any]], sources: Sequence[str], *, plugin_version: str
) -> JSON:
    """One report from the reports of a run split across machines (CI shards).

    The shards must be one run: the same models and settings. A test found in
    two shards is refused (a shard ran twice, or two different runs were given).
    """
    if not docs:
        raise ReportError("nothing to merge: give the shards' report files")
    first = docs[0]
    for doc, source in zip(docs[1:], sources[1:], strict=True):
        for key in ("models", "settings"):
            if doc.get(key) != first.get(key):
                raise ReportError(
                    f"{source} and {sources[0]} are not shards of one run: their {key} "
                    f"differ ({doc.get(key)!r} vs {first.get(key)!r})"
                )
    seen: dict[str, str] = {}
    items: list[Mapping[str, Any]] = []
    stats = RunStats()
    for doc, source in zip(docs, sources, strict=True):
        for item in doc["items"]:
            nodeid = item["nodeid"]
            if nodeid in seen:
                raise ReportError(
                    f"{nodeid} is in both {seen[nodeid]} and {source}: shards must not "
                    "overlap (was one shard given twice?)"
                )
            seen[nodeid] = source
            items.append(item)
        stats.merge_json(stats_payload(doc))
    # The run failed if a shard did; a shard that selected no tests (5) is not a failure.
    statuses = [d.get("exit_status") for d in docs]
    failed = [s for s in statuses if isinstance(s, int) and s not in (0, 5)]
    known = [s for s in statuses if isinstance(s, int)]
    return build_report(
        items=items,
        stats=stats,
        settings=first.get("settings") or {},
        exit_status=(failed[0] if failed else min(known)) if known else None,
        plugin_version=plugin_version,
        sources=[str(s) for s in sources],
    )
