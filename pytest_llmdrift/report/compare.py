"""Paired comparison of two run reports (``llmdrift compare BASE CURRENT``). Pure.

Tests are paired by their node id without the model id, so a run on the old
model and a run on the new one line up test by test. Aggregates hide movement
(a pass rate can rise while many tests regress), so the comparison lists every
pass->fail and fail->pass, tests them with an exact McNemar test, and does the
same per category to show a seesaw: some skills up, others down, beyond noise.

Two runs are only comparable test by test where each test asked the same thing
in the same way: a changed prompt, scorer or sampling setting can fake or hide
drift. A pull request that edits one prompt is the common case, so such tests are
set aside and listed (old and new prompt), and the rest are compared; ``strict``
refuses the whole comparison instead, ``force`` compares them anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmdrift.errors import LLMDriftError
from pytest_llmdrift.report.document import (
    NO_CATEGORY,
    answer_checks,
    answer_right,
    group_metrics,
    model_key,
)
from pytest_llmdrift.report.record import verdict
from pytest_llmdrift.report.statistics import SIGNIFICANCE, mcnemar_exact

SCHEMA = "llmdrift-compare/1"
EXIT_NO_REGRESSIONS = 0
EXIT_REGRESSIONS = 1
EXIT_CANNOT_COMPARE = 2
TEXT_LIMIT = 4000  # characters of each reply kept per regression/improvement

JSON = dict[str, Any]
Item = Mapping[str, Any]


class CompareError(LLMDriftError):
    """The two reports cannot be compared; the message says why and what to do.
    ``mismatches`` lists the tests that asked differently, when that is why."""

    def __init__(self, message: str, mismatches: Sequence[JSON] = ()) -> None:
        super().__init__(message)
        self.mismatches = list(mismatches)


@dataclass(frozen=True)
class Side:
    """One report, narrowed to one model."""

    label: str  # "base" or "current"
    source: str  # where it came from (a path), for messages
    doc: Mapping[str, Any]
    model: str
    items: dict[str, Item]  # by test id without the model


def select(doc: Mapping[str, Any], *, label: str, source: str, model: str | None) -> Side:
    """The items of ``doc`` for one model (the only one, or the one asked for)."""
    items = doc.get("items") or []
    models = sorted({model_key(i) for i in items})
    if model is None:
        if len(models) > 1:
            raise CompareError(
                f"{source} holds results for {len(models)} models ({', '.join(models)}): "
                f"choose one with --{label}-model"
            )
        if not models:
            raise CompareError(
                f"{source} has no llm test results to compare (was the run empty, or "
                "were no tests using the llm fixture selected?)"
            )
        model = models[0]
    elif model not in models:
        raise CompareError(
            f"--{label}-model={model}: {source} has no results for it; it has "
            f"{', '.join(models) or 'none'}"
        )
    chosen: dict[str, Item] = {}
    for item in items:
        if model_key(item) != model:
            continue
        test = str(item.get("test") or item["nodeid"])
        if test in chosen:
            raise CompareError(
                f"{source}: the test {test} appears twice for model {model}; is this a "
                "merge of overlapping shards?"
            )
        chosen[test] = item
    return Side(label, source, doc, model, chosen)


def _replies(item: Item) -> list[Mapping[str, Any]]:
    return list(item.get("replies") or [])


def mismatches(base: Side, current: Side) -> list[JSON]:
    """Tests that did not ask the same thing in the same way in the two runs."""
    found: list[JSON] = []
    for test in sorted(base.items.keys() & current.items.keys()):
        b, c = base.items[test], current.items[test]
        checks: list[tuple[str, Any, Any]] = []
        if _replies(b) and _replies(c):
            # Distinct values, and one run's may be a prefix of the other's: runs make
            # a different number of calls when llm_repeat stops early at a different
            # sample, or when a failed assertion ends a test before its later calls.
            checks.append(
                (
                    "prompt",
                    _distinct([r.get("request_hash") for r in _replies(b)]),
                    _distinct([r.get("request_hash") for r in _replies(c)]),
                )
            )
            checks.append(
                (
                    "sampling settings",
                    _distinct([r.get("params") or {} for r in _replies(b)]),
                    _distinct([r.get("params") or {} for r in _replies(c)]),
                )
            )
        scorers_b = _distinct([x.get("scorer") for x in b.get("comparisons") or []])
        scorers_c = _distinct([x.get("scorer") for x in c.get("comparisons") or []])
        if scorers_b and scorers_c:
            checks.append(("scorer", scorers_b, scorers_c))
        repeat_b, repeat_c = b.get("repeat"), c.get("repeat")
        if _replies(b) and _replies(c) and bool(repeat_b) != bool(repeat_c):
            # sampled n times on one side, once on the other
            checks.append(
                (
                    "llm_repeat settings",
                    repeat_b and [repeat_b.get("n"), repeat_b.get("min_pass_rate")],
                    repeat_c and [repeat_c.get("n"), repeat_c.get("min_pass_rate")],
                )
            )
        elif repeat_b and repeat_c:
            checks.append(
                (
                    "llm_repeat settings",
                    [repeat_b.get("n"), repeat_b.get("min_pass_rate")],
                    [repeat_c.get("n"), repeat_c.get("min_pass_rate")],
                )
            )
        for what, before, now in checks:
            same = before == now if what == "llm_repeat settings" else _agree(before, now)
            if same:
                continue
            entry = {"test": test, "what": what, "base": before, "current": now}
            if what == "prompt":  # show the text, not the hash
                entry["base"] = _distinct([r.get("prompt") for r in _replies(b)])
                entry["current"] = _distinct([r.get("prompt") for r in _replies(c)])
                if entry["base"] == entry["current"]:
                    entry["note"] = "the last user messages match: the system prompt or "
                    entry["note"] += "earlier messages differ"
            found.append(entry)
    return found


def _agree(before: Sequence[Any], now: Sequence[Any]) -> bool:
    """The same sequence, or one a prefix of the other (a run that stopped early)."""
    shorter = min(len(before), len(now))
    return list(before[:shorter]) == list(now[:shorter])


def _distinct(values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def compare(
    base_doc: Mapping[str, Any],
    current_doc: Mapping[str, Any],
    *,
    base_source: str = "BASE",
    current_source: str = "CURRENT",
    base_model: str | None = None,
    current_model: str | None = None,
    force: bool = False,
    strict: bool = False,
) -> JSON:
    """The paired comparison of two reports. Raises :class:`CompareError` when they
    cannot be compared. Tests that differ in prompt, scorer or sampling settings are
    set aside (``tests["asked_differently"]``, details in ``mismatches``) unless
    ``force`` compares them anyway; with ``strict`` they make the comparison fail,
    the error's ``mismatches`` attribute listing them."""
    base = select(base_doc, label="base", source=base_source, model=base_model)
    current = select(current_doc, label="current", source=current_source, model=current_model)
    common = sorted(base.items.keys() & current.items.keys())
    if not common:
        raise CompareError(
            f"{base_source} and {current_source} share no tests (paired by node id without "
            "the model id): are they runs of the same suite?"
        )
    found = mismatches(base, current)
    if found and strict:
        raise CompareError(
            f"{len(found)} test(s) did not ask the same thing in both runs (a changed prompt, "
            "scorer or sampling setting can fake or hide drift); re-run one side, or leave "
            "out --strict to compare the other tests",
            found,
        )
    set_aside = [] if force else sorted({str(m["test"]) for m in found})
    if set_aside and len(set_aside) == len(common):
        raise CompareError(
            f"every test shared by {base_source} and {current_source} asked differently "
            "(a changed prompt, scorer or sampling setting): nothing is comparable; re-run "
            "one side, or pass --force to compare anyway",
            found,
        )
    comparable = [t for t in common if t not in set(set_aside)]

    regressions: list[JSON] = []
    improvements: list[JSON] = []
    skipped: list[str] = []
    decided: list[tuple[str, bool, bool]] = []
    for test in comparable:
        b, c = base.items[test], current.items[test]
        before, now = verdict(b), verdict(c)
        if before is None or now is None:
            skipped.append(test)
            continue
        decided.append((test, before, now))
        if before and not now:
            regressions.append(_change(test, b, c))
        elif now and not before:
            improvements.append(_change(test, b, c))

    kinds = {test: _kind(base.items[test], current.items[test]) for test, _, _ in decided}
    for change in (*regressions, *improvements):
        change["kind"] = kinds[change["test"]]
    paired_base = [base.items[t] for t, _, _ in decided]
    paired_current = [current.items[t] for t, _, _ in decided]
    base_metrics = group_metrics(paired_base)
    current_metrics = group_metrics(paired_current)
    categories = _categories(decided, base, current)
    return {
        "schema": SCHEMA,
        "base": _describe(base),
        "current": _describe(current),
        "tests": {
            "paired": len(common),
            "compared": len(decided),
            "skipped": skipped,
            "asked_differently": set_aside,
            "only_base": sorted(base.items.keys() - current.items.keys()),
            "only_current": sorted(current.items.keys() - base.items.keys()),
        },
        "pass_rate": {
            "base": base_metrics["pass_rate"],
            "current": current_metrics["pass_rate"],
            "delta": _delta(current_metrics["pass_rate"], base_metrics["pass_rate"]),
        },
        "regressions": regressions,
        "improvements": improvements,
        "mcnemar_p": mcnemar_exact(len(regressions), len(improvements)),
        "correctness": _correctness([d for d in decided if kinds[d[0]] == CORRECTNESS]),
        "changed_answers": _changed_answers(
            [d for d in decided if kinds[d[0]] == CHANGED_ANSWER], base, current
        ),
        "significance": SIGNIFICANCE,
        "categories": categories,
        "seesaw": _seesaw(categories),
        "verbosity": {
            "base_mean_chars": base_metrics["mean_reply_chars"],
            "current_mean_chars": current_metrics["mean_reply_chars"],
            "ratio": _ratio(current_metrics["mean_reply_chars"], base_metrics["mean_reply_chars"]),
        },
        "refusals": {
            "base_rate": base_metrics["refusal_rate"],
            "current_rate": current_metrics["refusal_rate"],
            "delta": _delta(current_metrics["refusal_rate"], base_metrics["refusal_rate"]),
        },
        "drift": {
            "base_drifted": base_metrics["drifted"],
            "current_drifted": current_metrics["drifted"],
            "current_comparisons": current_metrics["comparisons"],
        },
        "served": {"base": _served(base), "current": _served(current)},
        "served_changes": _served_changes(current_doc, current.model),
        "mismatches": found,
        "forced": bool(found) and force,
    }


CORRECTNESS = "correctness"  # the test checks the answer itself: pass means right
CHANGED_ANSWER = "changed answer"  # a snapshot test: pass means "as the baseline said"


def _kind(base: Item, current: Item) -> str:
    """A test compared with a snapshot baseline measures drift, not correctness: it
    passes whenever the answer is what the baseline said, right or wrong (and
    always in a ``--snapshot-update`` run)."""
    return CHANGED_ANSWER if base.get("comparisons") or current.get("comparisons") else CORRECTNESS


def _correctness(decided: Sequence[tuple[str, bool, bool]]) -> JSON:
    """Pass rates and paired changes of the tests that check the answer."""
    n = len(decided)
    down = [t for t, b, c in decided if b and not c]
    up = [t for t, b, c in decided if c and not b]
    p = mcnemar_exact(len(down), len(up))
    base_rate = sum(b for _, b, _ in decided) / n if n else None
    current_rate = sum(c for _, _, c in decided) / n if n else None
    return {
        "tests": n,
        "base_pass_rate": base_rate,
        "current_pass_rate": current_rate,
        "delta": _delta(current_rate, base_rate),
        "regressions": down,
        "improvements": up,
        "mcnemar_p": p,
        "significant": p < SIGNIFICANCE,
    }


def _changed_answers(decided: Sequence[tuple[str, bool, bool]], base: Side, current: Side) -> JSON:
    """The snapshot tests: how many answers moved away from (or back to) their
    baseline, and of the moved ones, which also went right -> wrong or wrong ->
    right by a correctness test on the same request."""
    changed = [t for t, b, c in decided if b and not c]
    restored = [t for t, b, c in decided if c and not b]
    base_checks = answer_checks(base.items.values())
    current_checks = answer_checks(current.items.values())
    moves: dict[str, list[str]] = {
        "right_to_wrong": [],
        "wrong_to_right": [],
        "still_right": [],
        "still_wrong": [],
        "unchecked": [],
    }
    for test in changed:
        before = answer_right(base.items[test], base_checks)
        now = answer_right(current.items[test], current_checks)
        if before is None or now is None:
            key = "unchecked"
        elif before != now:
            key = "right_to_wrong" if before else "wrong_to_right"
        else:
            key = "still_right" if now else "still_wrong"
        moves[key].append(test)
    return {
        "tests": len(decided),
        "changed": changed,
        "restored": restored,
        "mcnemar_p": mcnemar_exact(len(changed), len(restored)),
        **moves,
        "checked_mcnemar_p": mcnemar_exact(
            len(moves["right_to_wrong"]), len(moves["wrong_to_right"])
        ),
    }


def exit_status(result: Mapping[str, Any]) -> int:
    return EXIT_REGRESSIONS if result["regressions"] else EXIT_NO_REGRESSIONS


def _change(test: str, base: Item, current: Item) -> JSON:
    return {
        "test": test,
        "category": current.get("category") or base.get("category"),
        "base_nodeid": base.get("nodeid"),
        "current_nodeid": current.get("nodeid"),
        "base_outcome": base.get("outcome"),
        "current_outcome": current.get("outcome"),
        "base_text": _clip(base.get("text")),
        "current_text": _clip(current.get("text")),
        "message": current.get("message") if verdict(current) is False else None,
        "base_message": base.get("message") if verdict(base) is False else None,
    }


def _clip(text: Any) -> str | None:
    return None if text is None else str(text)[:TEXT_LIMIT]


def _categories(decided: Sequence[tuple[str, bool, bool]], base: Side, current: Side) -> list[JSON]:
    groups: dict[str, list[tuple[bool, bool]]] = {}
    drift_down: dict[str, int] = {}
    for test, before, now in decided:
        item = current.items[test]
        name = str(item.get("category") or base.items[test].get("category") or NO_CATEGORY)
        groups.setdefault(name, []).append((before, now))
        if before and not now and _kind(base.items[test], item) == CHANGED_ANSWER:
            drift_down[name] = drift_down.get(name, 0) + 1
    rows = []
    for name, pairs in sorted(groups.items()):
        n = len(pairs)
        down = sum(1 for b, c in pairs if b and not c)
        up = sum(1 for b, c in pairs if c and not b)
        p = mcnemar_exact(down, up)
        base_rate = sum(b for b, _ in pairs) / n
        current_rate = sum(c for _, c in pairs) / n
        significant = p < SIGNIFICANCE
        rows.append(
            {
                "category": name,
                "tests": n,
                "base_pass_rate": base_rate,
                "current_pass_rate": current_rate,
                "delta": current_rate - base_rate,
                "regressions": down,
                "improvements": up,
                "changed_answers": drift_down.get(name, 0),  # of the regressions
                "mcnemar_p": p,
                "significant": significant,
                "direction": (
                    ("up" if up > down else "down") if significant and up != down else "same"
                ),
            }
        )
    return rows


def _seesaw(categories: Sequence[Mapping[str, Any]]) -> bool:
    """Some categories significantly up while others are significantly down."""
    directions = {c["direction"] for c in categories}
    return {"up", "down"} <= directions


def _describe(side: Side) -> JSON:
    return {
        "source": side.source,
        "model": side.model,
        "created": side.doc.get("created"),
        "plugin_version": side.doc.get("plugin_version"),
        "tests": len(side.items),
    }


def _served(side: Side) -> JSON:
    """Served names and fingerprints seen for the side's model."""
    served: dict[str, int] = {}
    fingerprints: dict[str, int] = {}
    for item in side.items.values():
        for reply in _replies(item):
            name = str(reply.get("served_model") or "?")
            served[name] = served.get(name, 0) + 1
            if reply.get("fingerprint"):
                fp = str(reply["fingerprint"])
                fingerprints[fp] = fingerprints.get(fp, 0) + 1
    return {"model": side.model, "served": served, "fingerprints": fingerprints}


def _served_changes(doc: Mapping[str, Any], model: str) -> list[Any]:
    changes = (doc.get("metrics") or {}).get("served_changes") or []
    return [c for c in changes if c.get("model") == model]


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _ratio(now: float | None, before: float | None) -> float | None:
    return None if not before or now is None else now / before
