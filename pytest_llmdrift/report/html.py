"""The HTML reports: one run (``pytest --llm-html``) and one comparison
(``llmdrift compare --html``). Pure: a document in, one self-contained page out.

Everything a page shows is shaped here (percentages, bar lengths, word diffs);
the jinja2 templates in ``templates/`` only lay it out. Replies are untrusted
text, so the templates autoescape everything. The page loads nothing: inline CSS,
charts as inline SVG, no external address, and works without scripts.

Imported only when an HTML report is asked for (it imports jinja2).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_llmdrift.report.document import NO_CATEGORY, summarize
from pytest_llmdrift.report.record import served_identity
from pytest_llmdrift.report.render import p_value, signed_pts

TEMPLATES = Path(__file__).with_name("templates")
TEXT_LIMIT = 4000  # characters of one reply or message shown
OPEN_FIRST = 3  # drifted tests / regressions shown expanded; the rest are one line each
MODEL_COLOURS = 6  # .m0 ... .m5 in the stylesheet, reused in turn

JSON = Mapping[str, Any]


def render_run(doc: Mapping[str, Any]) -> str:
    """The HTML report of one run, from its JSON report document."""
    return _render("run.html.j2", page=run_view(doc))


def render_compare(result: Mapping[str, Any]) -> str:
    """The HTML report of a comparison, from :func:`~pytest_llmdrift.report.compare.compare`."""
    return _render("compare.html.j2", page=compare_view(result))


def _render(template: str, **context: Any) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # replies, messages and test names are untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template(template).render(**context)


# -- formatting ------------------------------------------------------------------------
def pct(value: float | None) -> str:
    """A rate as a percentage: "87.5%", "100%"; never rounds to 0% or 100% falsely."""
    if value is None:
        return "n/a"
    text = f"{value * 100:.1f}"
    if text == "100.0" and value < 1:
        text = "99.9"
    elif text == "0.0" and value > 0:
        text = "0.1"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _width(fraction: float) -> str:
    """A share of a bar's track, as an SVG percentage without trailing zeros."""
    number = f"{min(max(fraction, 0.0), 1.0) * 100:.2f}".rstrip("0").rstrip(".")
    return number or "0"


def _count(value: Any) -> str:
    return f"{int(value or 0):,}"


def _chars(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _when(stamp: Any) -> str:
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    text = moment.strftime("%Y-%m-%d %H:%M")
    offset = moment.utcoffset()
    if offset is None:
        return text
    return f"{text} UTC" if not offset else f"{text} {moment.strftime('%z')}"


def _category(name: Any) -> str:
    return "(no category)" if not name or name == NO_CATEGORY else str(name)


# -- shared pieces ---------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    """A horizontal bar: ``width`` is the filled share of the track in percent."""

    width: str
    label: str
    empty: bool = False  # no value: the track alone, labelled n/a


def bar(fraction: float | None, label: str | None = None) -> Bar:
    if fraction is None:
        return Bar("0", label or "n/a", empty=True)
    return Bar(_width(fraction), pct(fraction) if label is None else label)


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    detail: str = ""
    tone: str = "neutral"  # good, bad, warn, neutral


@dataclass(frozen=True)
class Badge:
    text: str
    tone: str
    title: str = ""


@dataclass(frozen=True)
class Tag:
    """A model name with its colour (also written out, so colour is never alone)."""

    name: str
    colour: str


@dataclass(frozen=True)
class Segment:
    kind: str  # same, del, ins
    text: str


@dataclass(frozen=True)
class Side:
    title: str
    segments: list[Segment]
    note: str  # said when the text was cut or is missing


@dataclass(frozen=True)
class Diff:
    left: Side
    right: Side
    changed: bool


_WORD = re.compile(r"\S+\s*")


def _words(text: str) -> list[str]:
    """Words with their trailing whitespace; leading whitespace kept on the first."""
    words: list[str] = _WORD.findall(text)
    lead = text[: len(text) - len(text.lstrip())]
    if lead:
        if words:
            words[0] = lead + words[0]
        else:
            words = [lead]
    return words


def word_diff(before: str, after: str) -> tuple[list[Segment], list[Segment]]:
    """Word-level diff: ``before`` with removed words as ``del`` segments, ``after``
    with added words as ``ins`` segments; whitespace after a changed word stays plain."""
    a, b = _words(before), _words(after)
    matcher = difflib.SequenceMatcher(
        None, [w.strip() for w in a], [w.strip() for w in b], autojunk=False
    )
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(Segment("same", "".join(a[i1:i2])))
            right.append(Segment("same", "".join(b[j1:j2])))
            continue
        _changed(left, "del", "".join(a[i1:i2]))
        _changed(right, "ins", "".join(b[j1:j2]))
    return _joined(left), _joined(right)


def _changed(out: list[Segment], kind: str, text: str) -> None:
    if not text:
        return
    core = text.rstrip()
    if core:
        out.append(Segment(kind, core))
    if len(core) < len(text):
        out.append(Segment("same", text[len(core) :]))


def _joined(segments: list[Segment]) -> list[Segment]:
    """Neighbours of one kind merged; a space between two changes joins them."""
    out: list[Segment] = []
    for seg in segments:
        if out and out[-1].kind == seg.kind:
            out[-1] = Segment(seg.kind, out[-1].text + seg.text)
            continue
        if (
            len(out) >= 2
            and seg.kind != "same"
            and out[-1].kind == "same"
            and not out[-1].text.strip()
            and out[-2].kind == seg.kind
        ):
            space = out.pop()
            out[-1] = Segment(seg.kind, out[-1].text + space.text + seg.text)
            continue
        out.append(seg)
    return out


def _cut(text: Any, limit: int = TEXT_LIMIT) -> tuple[str | None, str]:
    """The text to show and a note when it was cut."""
    if text is None:
        return None, "no reply"
    full = str(text)
    if len(full) <= limit:
        return full, ""
    return full[:limit], f"cut: showing the first {limit:,} of {len(full):,} characters"


def diff(before: Any, after: Any, *, left: str, right: str) -> Diff:
    shown_before, note_before = _cut(before)
    shown_after, note_after = _cut(after)
    old, new = word_diff(shown_before or "", shown_after or "")
    return Diff(
        Side(left, old, note_before),
        Side(right, new, note_after),
        changed=(shown_before != shown_after),
    )


@dataclass(frozen=True)
class Message:
    text: str
    note: str


def _message(text: Any) -> Message | None:
    shown, note = _cut(text)
    return None if shown is None or not shown.strip() else Message(shown, note)


def _headline(text: Any, limit: int = 160) -> str:
    """The first line of a failure message, for the one-line summary."""
    for line in str(text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


# -- the run report --------------------------------------------------------------------
@dataclass(frozen=True)
class BarRow:
    tag: Tag | None  # the model, when several ran
    passing: Bar
    passing_detail: str
    drift: Bar
    drift_detail: str


@dataclass(frozen=True)
class BarGroup:
    name: str
    rows: list[BarRow]
    overall: bool = False


@dataclass(frozen=True)
class BarChart:
    groups: list[BarGroup]
    several_models: bool
    with_drift: bool


@dataclass(frozen=True)
class Drifted:
    nodeid: str
    model: str
    category: str
    outcome: str
    scorer: str
    score: str
    threshold: str
    detail: str
    baseline: str
    current: str
    served_changed: bool
    diff: Diff
    open: bool


@dataclass(frozen=True)
class Failure:
    nodeid: str
    model: str
    category: str
    outcome: str
    headline: str
    message: Message | None


@dataclass(frozen=True)
class Repeat:
    nodeid: str
    model: str
    tally: str  # "7 of 10 passed"
    rate: str
    interval: str
    required: str
    passed: bool
    stopped_early: str
    low: str  # interval geometry, in percent of the track
    span: str
    point: str
    threshold: str | None


@dataclass(frozen=True)
class Chip:
    label: str
    value: str
    state: str  # reference, same, differs


@dataclass(frozen=True)
class Sensitivity:
    test: str
    group: str
    model: str
    variants: int
    disagree: int
    chips: list[Chip]
    spread: Bar


@dataclass(frozen=True)
class Verbosity:
    tag: Tag
    mean_chars: str
    baseline: Bar
    current: Bar
    ratio: str
    ratio_tone: str
    refusals: Bar
    baseline_refusals: Bar
    refusal_detail: str


@dataclass(frozen=True)
class Calls:
    key: str
    live: str
    cached: str
    input_tokens: str
    output_tokens: str
    cached_tokens: str
    errors: str
    served: str
    fingerprints: str


@dataclass(frozen=True)
class ServedChange:
    nodeid: str
    model: str
    baseline: str
    current: str


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    count: str = ""


@dataclass
class RunPage:
    title: str
    created: str
    tags: list[Tag]
    status: Badge | None
    settings: list[tuple[str, str]]
    cards: list[Card]
    sections: list[Section] = field(default_factory=list)
    served_changes: list[ServedChange] = field(default_factory=list)
    served_notes: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    categories: BarChart | None = None
    difficulties: BarChart | None = None
    cutoff: BarChart | None = None
    cutoff_date: str = ""
    drifted: list[Drifted] = field(default_factory=list)
    comparisons: int = 0
    failures: list[Failure] = field(default_factory=list)
    repeats: list[Repeat] = field(default_factory=list)
    sensitivity: list[Sensitivity] = field(default_factory=list)
    verbosity: list[Verbosity] = field(default_factory=list)
    calls: list[Calls] = field(default_factory=list)
    plugin_version: str = ""
    empty: bool = False  # no llm test in the run


def run_view(doc: Mapping[str, Any]) -> RunPage:
    """What the run page shows, shaped from a ``llmdrift-report/1`` document."""
    items: list[JSON] = list(doc.get("items") or [])
    settings: JSON = doc.get("settings") or {}
    metrics: JSON = doc.get("metrics") or summarize(items, cutoff=settings.get("cutoff"))
    overall: JSON = metrics.get("overall") or {}
    models = _models(doc, metrics, items)
    tags = {m: Tag(m, f"m{i % MODEL_COLOURS}") for i, m in enumerate(models)}
    several = len(models) > 1

    page = RunPage(
        title="LLM drift report" + (f": {', '.join(models)}" if models else ""),
        created=_when(doc.get("created")),
        tags=list(tags.values()),
        status=_status(doc, overall),
        settings=_settings(settings),
        cards=_run_cards(doc, overall),
        plugin_version=str(doc.get("plugin_version") or ""),
        empty=not items,
    )
    page.served_changes = [
        ServedChange(
            str(c.get("nodeid")), str(c.get("model")), str(c.get("baseline")), str(c.get("current"))
        )
        for c in metrics.get("served_changes") or []
    ]
    page.served_notes = [str(n) for n in doc.get("served_changes") or []]
    page.alarms = [str(n) for n in doc.get("alarms") or []]
    page.notices = [str(n) for n in doc.get("notices") or [] if n not in page.alarms]
    page.categories = _chart(
        metrics.get("categories") or {},
        tags,
        several,
        order=_category_order,
        label=_category,
        overall=metrics.get("models") or {},
    )
    page.difficulties = _chart(
        metrics.get("difficulties") or {}, tags, several, order=_difficulty_order, label=str
    )
    cutoff = metrics.get("cutoff") or settings.get("cutoff")
    if cutoff:
        page.cutoff_date = str(cutoff)
        page.cutoff = _chart(
            metrics.get("created") or {},
            tags,
            several,
            order=lambda names: [n for n in ("before", "after") if n in names],
            label=lambda side: (
                f"created before {cutoff}" if side == "before" else f"created on or after {cutoff}"
            ),
        )
    page.drifted = _drifted(items)
    page.comparisons = int(overall.get("comparisons") or 0)
    page.failures = [
        Failure(
            str(i["nodeid"]),
            str(i.get("model") or ""),
            _category(i.get("category")),
            str(i.get("outcome")),
            _headline(i.get("message")),
            _message(i.get("message")),
        )
        for i in items
        if i.get("outcome") in ("failed", "error")
    ]
    page.repeats = [_repeat(i) for i in items if i.get("repeat")]
    page.sensitivity = [_sensitivity(s) for s in metrics.get("sensitivity") or []]
    page.verbosity = _verbosity(metrics.get("models") or {}, tags)
    page.calls = _calls(doc.get("calls") or {})
    page.sections = _run_sections(page)
    return page


def _models(doc: JSON, metrics: JSON, items: Sequence[JSON]) -> list[str]:
    names: list[str] = []
    for name in [
        *(doc.get("models") or []),
        *(metrics.get("models") or {}),
        *(str(i.get("model")) for i in items if i.get("model")),
    ]:
        if str(name) not in names:
            names.append(str(name))
    return names


def _status(doc: JSON, overall: JSON) -> Badge | None:
    bad = int(overall.get("failed") or 0) + int(overall.get("error") or 0)
    status = doc.get("exit_status")
    if bad:
        return Badge(f"{bad} FAILED", "bad", f"pytest exit status {status}")
    if status not in (None, 0):
        return Badge(f"EXIT {status}", "bad", "pytest exit status")
    if overall.get("tests"):
        return Badge("ALL PASSED", "good")
    return None


def _settings(settings: JSON) -> list[tuple[str, str]]:
    shown = []
    for key, label in (
        ("cache_mode", "cache"),
        ("scorer", "default scorer"),
        ("judge", "judge"),
        ("cutoff", "cutoff"),
    ):
        if settings.get(key):
            shown.append((label, str(settings[key])))
    return shown


def _run_cards(doc: JSON, overall: JSON) -> list[Card]:
    calls: JSON = doc.get("calls") or {}
    tokens: JSON = doc.get("tokens") or {}
    tests = int(overall.get("tests") or 0)
    passed, failed = int(overall.get("passed") or 0), int(overall.get("failed") or 0)
    errors, skipped = int(overall.get("error") or 0), int(overall.get("skipped") or 0)
    outcomes = [f"{passed} passed", f"{failed} failed"]
    outcomes += [f"{errors} errors"] if errors else []
    outcomes += [f"{skipped} skipped"] if skipped else []
    for key in ("xfailed", "xpassed"):
        outcomes += [f"{overall[key]} {key}"] if overall.get(key) else []
    comparisons, drifted = int(overall.get("comparisons") or 0), int(overall.get("drifted") or 0)
    live, cached = int(calls.get("live") or 0), int(calls.get("cached") or 0)
    problems = []
    for key, label in (
        ("errors", "errors"),
        ("replay_misses", "replay misses"),
        ("budget_refusals", "over budget"),
    ):
        if calls.get(key):
            problems.append(f"{calls[key]} {label}")
    used = int(tokens.get("input") or 0) + int(tokens.get("output") or 0)
    reused = int(tokens.get("cached_input") or 0) + int(tokens.get("cached_output") or 0)
    return [
        Card("Tests", _count(tests), " · ".join(outcomes)),
        Card(
            "Pass rate",
            pct(overall.get("pass_rate")),
            f"{passed} of {passed + failed + errors} decided",
            "neutral" if not tests else ("bad" if failed or errors else "good"),
        ),
        *_correctness_card(overall),
        Card(
            "Drifted",
            f"{drifted} of {comparisons}",
            f"snapshot comparisons changed ({pct(overall.get('drift_rate'))})" + _now_right(overall)
            if comparisons
            else "no snapshot comparisons",
            "warn" if drifted else ("good" if comparisons else "neutral"),
        ),
        Card(
            "Model calls",
            _count(live + cached),
            f"{live} live · {cached} cached; " + (", ".join(problems) or "no errors"),
            "warn" if problems else "neutral",
        ),
        Card(
            "Tokens",
            _count(used + reused),
            f"{_count(used)} live (in {_count(tokens.get('input'))} · out "
            f"{_count(tokens.get('output'))}) · {_count(reused)} from the cache",
        ),
    ]


def _correctness_card(overall: JSON) -> list[Card]:
    """The tests that check the answer, apart from snapshot drift."""
    tests = int(overall.get("correctness_tests") or 0)
    if not tests:
        return []
    passed = int(overall.get("correctness_passed") or 0)
    return [
        Card(
            "Correctness",
            pct(overall.get("correctness_pass_rate")),
            f"{passed} of {tests} tests that check the answer passed",
            "good" if passed == tests else "bad",
        )
    ]


def _now_right(overall: JSON) -> str:
    """Of the changed answers, how many are now right or wrong (drift is not regression)."""
    changed = int(overall.get("changed_answers") or 0)
    if not changed:
        return ""
    return (
        f"; of {changed} changed answers, {overall.get('changed_now_right', 0)} now right, "
        f"{overall.get('changed_now_wrong', 0)} now wrong, "
        f"{overall.get('changed_unchecked', 0)} unchecked"
    )


def _category_order(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda n: (n == NO_CATEGORY, n.lower()))


_LEVELS = {"trivial": 0, "easy": 1, "medium": 2, "moderate": 2, "hard": 3, "expert": 4}


def _difficulty_order(names: Iterable[str]) -> list[str]:
    def key(name: str) -> tuple[int, float, str]:
        try:
            return (0, float(name), name)
        except ValueError:
            return (1, float(_LEVELS.get(name.lower(), 99)), name.lower())

    return sorted(names, key=key)


def _chart(
    split: JSON,
    tags: Mapping[str, Tag],
    several: bool,
    *,
    order: Any,
    label: Any,
    overall: JSON | None = None,
) -> BarChart | None:
    """Per group (category, difficulty ...) one row per model: pass rate and drift."""
    names: list[str] = []
    for groups in split.values():
        names += [n for n in groups if n not in names]
    if not names:
        return None
    groups = []
    if overall and len(names) > 1:
        groups.append(BarGroup("All tests", _bar_rows(overall, tags, several), overall=True))
    for name in order(names):
        by_model = {m: g[name] for m, g in split.items() if name in g}
        groups.append(BarGroup(label(name), _bar_rows(by_model, tags, several)))
    with_drift = any(
        int(g.get("comparisons") or 0) for groups in split.values() for g in groups.values()
    )
    return BarChart(groups, several, with_drift)


def _bar_rows(by_model: JSON, tags: Mapping[str, Tag], several: bool) -> list[BarRow]:
    rows = []
    for model in [m for m in tags if m in by_model] + [m for m in by_model if m not in tags]:
        m: JSON = by_model[model]
        passed = int(m.get("passed") or 0)
        decided = passed + int(m.get("failed") or 0) + int(m.get("error") or 0)
        skipped = int(m.get("skipped") or 0)
        comparisons, drifted = int(m.get("comparisons") or 0), int(m.get("drifted") or 0)
        rows.append(
            BarRow(
                tag=tags.get(model, Tag(model, "m0")) if several else None,
                passing=bar(m.get("pass_rate")),
                passing_detail=f"{passed}/{decided} passed"
                + (f", {skipped} skipped" if skipped else ""),
                drift=bar(m.get("drift_rate")),
                drift_detail=f"{drifted}/{comparisons} drifted" if comparisons else "no snapshots",
            )
        )
    return rows


def _score(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


def _drifted(items: Sequence[JSON]) -> list[Drifted]:
    found: list[Drifted] = []
    for item in items:
        for c in item.get("comparisons") or []:
            if not c.get("drifted") or c.get("updated"):
                continue
            found.append(
                Drifted(
                    nodeid=str(item["nodeid"]),
                    model=str(item.get("model") or c.get("current_model") or ""),
                    category=_category(item.get("category")),
                    outcome=str(item.get("outcome")),
                    scorer=str(c.get("scorer") or "?"),
                    score=_score(c.get("score")),
                    threshold=_score(c.get("threshold")),
                    detail=str(c.get("detail") or ""),
                    baseline=served_identity(c, "baseline", served="served as"),
                    current=served_identity(c, "current", served="served as"),
                    served_changed=bool(c.get("served_changed")),
                    diff=diff(
                        c.get("baseline_text"),
                        c.get("current_text"),
                        left="baseline · " + str(c.get("baseline_model") or "?"),
                        right="current · " + str(c.get("current_model") or item.get("model")),
                    ),
                    open=len(found) < OPEN_FIRST,
                )
            )
    return found


def _repeat(item: JSON) -> Repeat:
    r: JSON = item["repeat"]
    runs, passes, n = int(r.get("runs") or 0), int(r.get("passes") or 0), int(r.get("n") or 0)
    low, high = float(r.get("ci_low") or 0.0), float(r.get("ci_high") or 0.0)
    rate = r.get("pass_rate")
    minimum = r.get("min_pass_rate")
    confidence = r.get("confidence")
    required = r.get("required_passes")
    needs = f"≥ {required} of {n}" if required is not None else ""
    if minimum is not None:
        needs += (" " if needs else "") + f"(min {pct(minimum)})"
    return Repeat(
        nodeid=str(item["nodeid"]),
        model=str(item.get("model") or ""),
        tally=f"{passes} of {runs} passed",
        rate=pct(rate),
        interval=f"{pct(low)}\u2013{pct(high)}"
        + (f" ({pct(confidence)} CI)" if confidence else ""),
        required=needs or "n/a",
        passed=bool(r.get("passed", item.get("outcome") == "passed")),
        stopped_early=f"stopped early after {runs} of {n}" if r.get("stopped_early") else "",
        low=_width(low),
        span=_width(max(high - low, 0.0)),
        point=_width(float(rate or 0.0)),
        threshold=None if minimum is None else _width(float(minimum)),
    )


def _variant_number(label: str) -> int:
    digits = label.lstrip("p")
    return int(digits) if digits.isdigit() else 1 << 30


def _sensitivity(group: JSON) -> Sensitivity:
    rates: JSON = group.get("pass_rates") or {}
    disagreeing = set(group.get("disagreeing") or [])
    chips = [
        Chip(
            label,
            pct(rates[label]),
            "reference" if label == "p0" else ("differs" if label in disagreeing else "same"),
        )
        for label in sorted(rates, key=_variant_number)
    ]
    spread = group.get("spread")
    return Sensitivity(
        test=str(group.get("test")),
        group=str(group.get("group")),
        model=str(group.get("model") or ""),
        variants=int(group.get("variants") or len(rates)),
        disagree=int(group.get("disagree_with_p0") or len(disagreeing)),
        chips=chips,
        spread=bar(spread, f"{pct(spread)} spread" if spread is not None else None),
    )


def _verbosity(by_model: JSON, tags: Mapping[str, Tag]) -> list[Verbosity]:
    scale = max(
        [
            float(m.get(key) or 0.0)
            for m in by_model.values()
            for key in ("baseline_mean_chars", "compared_mean_chars")
        ]
        or [0.0]
    )
    rows = []
    for model, m in by_model.items():
        if not m.get("replies"):
            continue
        base, now = m.get("baseline_mean_chars"), m.get("compared_mean_chars")
        ratio = m.get("verbosity_ratio")
        rows.append(
            Verbosity(
                tag=tags.get(model, Tag(model, "m0")),
                mean_chars=_chars(m.get("mean_reply_chars")),
                baseline=_scaled(base, scale),
                current=_scaled(now, scale),
                ratio="n/a" if ratio is None else f"\u00d7{ratio:.2f}" + _longer(ratio),
                ratio_tone="warn" if ratio is not None and not 0.5 <= ratio <= 2 else "neutral",
                refusals=bar(m.get("refusal_rate")),
                baseline_refusals=bar(m.get("baseline_refusal_rate")),
                refusal_detail=f"{m.get('refusals') or 0} of {m.get('replies') or 0} replies",
            )
        )
    return rows


def _scaled(chars: float | None, scale: float) -> Bar:
    if chars is None:
        return bar(None)
    return bar(chars / scale if scale else 0.0, f"{_chars(chars)} chars")


def _longer(ratio: float) -> str:
    if ratio > 1.05:
        return " longer"
    if ratio < 0.95:
        return " shorter"
    return " same"


def _calls(calls: JSON) -> list[Calls]:
    rows = []
    for key, m in (calls.get("by_model") or {}).items():
        rows.append(
            Calls(
                key=str(key),
                live=_count(m.get("live")),
                cached=_count(m.get("cached")),
                input_tokens=_count(m.get("input_tokens")),
                output_tokens=_count(m.get("output_tokens")),
                cached_tokens=_count(
                    int(m.get("cached_input_tokens") or 0) + int(m.get("cached_output_tokens") or 0)
                ),
                errors=_count(int(m.get("errors") or 0) + int(m.get("replay_misses") or 0)),
                served=_tally(m.get("served") or {}),
                fingerprints=_tally(m.get("fingerprints") or {}),
            )
        )
    return rows


def _tally(counts: JSON) -> str:
    return ", ".join(f"{name} \u00d7{n}" for name, n in counts.items()) or "none"


def _run_sections(page: RunPage) -> list[Section]:
    sections = []
    if page.served_changes or page.served_notes or page.notices or page.alarms:
        count = len(page.served_changes) + len(page.served_notes)
        sections.append(Section("served", "Served models", str(count) if count else ""))
    if page.categories:
        sections.append(Section("categories", "Categories"))
    sections.append(Section("drifted", "Drifted", str(len(page.drifted))))
    sections.append(Section("failures", "Failures", str(len(page.failures))))
    if page.repeats:
        sections.append(Section("repeats", "Repeats", str(len(page.repeats))))
    if page.sensitivity:
        sections.append(Section("sensitivity", "Prompt sensitivity"))
    if page.verbosity:
        sections.append(Section("verbosity", "Verbosity & refusals"))
    if page.difficulties or page.cutoff:
        sections.append(Section("difficulty", "Difficulty & cutoff"))
    if page.calls:
        sections.append(Section("calls", "Calls"))
    return sections


# -- the comparison ---------------------------------------------------------------------
@dataclass(frozen=True)
class CategoryRow:
    name: str
    tests: int
    base: Bar
    current: Bar
    delta: str
    direction: str  # up, down, same (significant change only)
    arrow: str
    regressions: int
    improvements: int
    p: str
    significant: bool


@dataclass(frozen=True)
class Change:
    test: str
    category: str
    base_outcome: str
    current_outcome: str
    diff: Diff
    headline: str
    message: Message | None
    base_message: Message | None
    open: bool
    kind: str = ""  # "correctness" or "changed answer" (a snapshot test)


@dataclass(frozen=True)
class Mismatch:
    test: str
    what: str
    base: str
    current: str


@dataclass(frozen=True)
class ServedSide:
    label: str
    model: str
    served: str
    fingerprints: str


@dataclass(frozen=True)
class Pair:
    """One measure on both sides: two bars on a shared scale."""

    label: str
    base: Bar
    current: Bar
    change: str
    tone: str


@dataclass
class ComparePage:
    title: str
    base_model: str
    current_model: str
    base_source: str
    current_source: str
    base_created: str
    current_created: str
    badges: list[Badge]
    cards: list[Card]
    forced: bool
    seesaw: bool
    mismatches: list[Mismatch]
    asked_differently: list[str]
    categories: list[CategoryRow]
    regressions: list[Change]
    improvements: list[Change]
    measures: list[Pair]
    drift: str
    served: list[ServedSide]
    served_changes: list[ServedChange]
    only_base: list[str]
    only_current: list[str]
    skipped: list[str]
    significance: str
    sections: list[Section] = field(default_factory=list)


def compare_view(result: Mapping[str, Any]) -> ComparePage:
    """What the comparison page shows, shaped from a ``llmdrift-compare/1`` result."""
    base: JSON = result.get("base") or {}
    current: JSON = result.get("current") or {}
    rates: JSON = result.get("pass_rate") or {}
    regressions = list(result.get("regressions") or [])
    improvements = list(result.get("improvements") or [])
    p = float(result.get("mcnemar_p", 1.0))
    alpha = float(result.get("significance", 0.05))
    significant = p < alpha
    tests: JSON = result.get("tests") or {}
    categories = [_category_row(c) for c in result.get("categories") or []]
    badges = [
        Badge(f"{len(regressions)} REGRESSIONS", "bad")
        if regressions
        else Badge("NO REGRESSIONS", "good")
    ]
    if result.get("seesaw"):
        badges.append(
            Badge(
                "SEESAW",
                "warn",
                "some categories improved while others regressed, beyond noise",
            )
        )
    if result.get("forced"):
        badges.append(Badge("FORCED", "warn", "compared although tests asked differently"))
    delta = rates.get("delta")
    cards = [
        Card(
            "Pass rate",
            f"{pct(rates.get('base'))} → {pct(rates.get('current'))}",
            signed_pts(delta),
            _tone(delta),
        ),
        Card(
            "Regressions",
            str(len(regressions)),
            "pass → fail",
            "bad" if regressions else "good",
        ),
        Card(
            "Improvements",
            str(len(improvements)),
            "fail → pass",
            "good" if improvements else "neutral",
        ),
        Card(
            "McNemar p",
            p_value(p),
            ("significant" if significant else "not significant") + f" at {alpha:g}",
            ("bad" if len(regressions) > len(improvements) else "good")
            if significant
            else "neutral",
        ),
        *_split_cards(result, alpha),
        Card(
            "Tests compared",
            str(tests.get("compared", 0)),
            f"of {tests.get('paired', 0)} paired"
            + (f"; {len(tests.get('skipped') or [])} skipped" if tests.get("skipped") else ""),
        ),
    ]
    base_model, current_model = str(base.get("model") or "?"), str(current.get("model") or "?")
    page = ComparePage(
        title=f"LLM drift comparison: {base_model} → {current_model}",
        base_model=base_model,
        current_model=current_model,
        base_source=str(base.get("source") or ""),
        current_source=str(current.get("source") or ""),
        base_created=_when(base.get("created")),
        current_created=_when(current.get("created")),
        badges=badges,
        cards=cards,
        forced=bool(result.get("forced")),
        seesaw=bool(result.get("seesaw")),
        mismatches=[_mismatch(m) for m in result.get("mismatches") or []],
        asked_differently=[str(t) for t in tests.get("asked_differently") or []],
        categories=categories,
        regressions=[_change(c, i, base_model, current_model) for i, c in enumerate(regressions)],
        improvements=[
            _change(c, i + OPEN_FIRST, base_model, current_model)
            for i, c in enumerate(improvements)
        ],
        measures=_measures(result),
        drift=_drift_line(result.get("drift") or {}),
        served=[
            _served_side(label, (result.get("served") or {}).get(key) or {})
            for key, label in (("base", "base"), ("current", "current"))
        ],
        served_changes=[
            ServedChange(
                str(c.get("nodeid")),
                str(c.get("model")),
                str(c.get("baseline")),
                str(c.get("current")),
            )
            for c in result.get("served_changes") or []
        ],
        only_base=[str(t) for t in tests.get("only_base") or []],
        only_current=[str(t) for t in tests.get("only_current") or []],
        skipped=[str(t) for t in tests.get("skipped") or []],
        significance=f"{alpha:g}",
    )
    page.sections = _compare_sections(page)
    return page


def _split_cards(result: JSON, alpha: float) -> list[Card]:
    """Correctness regressions (tests that check the answer) and changed answers
    (snapshot drift, right or wrong), each with its own numbers."""
    cards = []
    correctness: JSON = result.get("correctness") or {}
    if correctness.get("tests"):
        down, up = correctness.get("regressions") or [], correctness.get("improvements") or []
        p = float(correctness.get("mcnemar_p", 1.0))
        cards.append(
            Card(
                "Correctness regressions",
                str(len(down)),
                f"of {correctness['tests']} tests that check the answer; "
                f"{len(up)} fixed; pass rate {pct(correctness.get('base_pass_rate'))} → "
                f"{pct(correctness.get('current_pass_rate'))}; McNemar p = {p_value(p)}",
                ("bad" if len(down) > len(up) else "good") if p < alpha else "neutral",
            )
        )
    moved: JSON = result.get("changed_answers") or {}
    if moved.get("tests"):
        changed = moved.get("changed") or []
        cards.append(
            Card(
                "Changed answers",
                str(len(changed)),
                f"of {moved['tests']} snapshot tests (drift, right or wrong): "
                f"{len(moved.get('right_to_wrong') or [])} right → wrong, "
                f"{len(moved.get('wrong_to_right') or [])} wrong → right, "
                f"{len(moved.get('unchecked') or [])} without a correctness check",
                "warn" if changed else "good",
            )
        )
    return cards


def _tone(delta: float | None) -> str:
    if delta is None or abs(delta) < 1e-9:
        return "neutral"
    return "good" if delta > 0 else "bad"


def _category_row(c: JSON) -> CategoryRow:
    delta = c.get("delta")
    direction = str(c.get("direction") or "same")
    arrow = "▲" if delta and delta > 0 else ("▼" if delta and delta < 0 else "=")
    return CategoryRow(
        name=_category(c.get("category")),
        tests=int(c.get("tests") or 0),
        base=bar(c.get("base_pass_rate")),
        current=bar(c.get("current_pass_rate")),
        delta=signed_pts(delta),
        direction=direction,
        arrow=arrow,
        regressions=int(c.get("regressions") or 0),
        improvements=int(c.get("improvements") or 0),
        p=p_value(float(c.get("mcnemar_p", 1.0))),
        significant=bool(c.get("significant")),
    )


def _change(c: JSON, index: int, base_model: str, current_model: str) -> Change:
    return Change(
        test=str(c.get("test")),
        category=_category(c.get("category")),
        base_outcome=str(c.get("base_outcome")),
        current_outcome=str(c.get("current_outcome")),
        diff=diff(
            c.get("base_text"),
            c.get("current_text"),
            left=f"base · {base_model}",
            right=f"current · {current_model}",
        ),
        headline=_headline(c.get("message")),
        message=_message(c.get("message")),
        base_message=_message(c.get("base_message")),
        open=index < OPEN_FIRST,
        kind=str(c.get("kind") or ""),
    )


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mismatch(m: JSON) -> Mismatch:
    return Mismatch(
        str(m.get("test")), str(m.get("what")), _short(m.get("base")), _short(m.get("current"))
    )


def _measures(result: JSON) -> list[Pair]:
    verbosity: JSON = result.get("verbosity") or {}
    refusals: JSON = result.get("refusals") or {}
    pairs = []
    before, now = verbosity.get("base_mean_chars"), verbosity.get("current_mean_chars")
    if before is not None or now is not None:
        scale = max(float(before or 0.0), float(now or 0.0))
        ratio = verbosity.get("ratio")
        pairs.append(
            Pair(
                "Mean reply length",
                _scaled(before, scale),
                _scaled(now, scale),
                "n/a" if ratio is None else f"\u00d7{ratio:.2f}" + _longer(ratio),
                "warn" if ratio is not None and not 0.5 <= ratio <= 2 else "neutral",
            )
        )
    if refusals.get("base_rate") is not None or refusals.get("current_rate") is not None:
        delta = refusals.get("delta")
        pairs.append(
            Pair(
                "Refusal rate",
                bar(refusals.get("base_rate")),
                bar(refusals.get("current_rate")),
                signed_pts(delta),
                "warn" if delta else "neutral",
            )
        )
    return pairs


def _drift_line(drift: JSON) -> str:
    comparisons = int(drift.get("current_comparisons") or 0)
    if not comparisons:
        return ""
    return (
        f"Snapshot drift in the current run: {drift.get('current_drifted', 0)} of "
        f"{comparisons} comparisons changed (base run: {drift.get('base_drifted', 0)})."
    )


def _served_side(label: str, side: JSON) -> ServedSide:
    return ServedSide(
        label,
        str(side.get("model") or "?"),
        _tally(side.get("served") or {}),
        _tally(side.get("fingerprints") or {}),
    )


def _compare_sections(page: ComparePage) -> list[Section]:
    sections = []
    if page.forced:
        sections.append(Section("mismatches", "Mismatches", str(len(page.mismatches))))
    elif page.mismatches:
        sections.append(Section("mismatches", "Changed tests", str(len(page.asked_differently))))
    if page.categories:
        sections.append(Section("categories", "Categories"))
    sections.append(Section("regressions", "Regressions", str(len(page.regressions))))
    sections.append(Section("improvements", "Improvements", str(len(page.improvements))))
    if page.measures or page.drift:
        sections.append(Section("measures", "Verbosity & refusals"))
    sections.append(Section("served", "Served models"))
    if page.only_base or page.only_current or page.skipped:
        sections.append(Section("unpaired", "Not compared"))
    return sections
