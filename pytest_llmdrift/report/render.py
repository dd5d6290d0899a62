"""Plain-text and Markdown renderings of a comparison (``llmdrift compare``). Pure.

The text is the table printed on a terminal; the Markdown is meant for a
pull-request comment (GitHub renders the tables and the ``<details>`` blocks).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

ROWS_SHOWN = 20  # regressions/improvements listed before "... and N more"
EXCERPT = 160


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def signed_pts(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} pts"


def p_value(value: float) -> str:
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _excerpt(text: Any, limit: int = EXCERPT) -> str:
    if text is None:
        return "(no reply)"
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _chars(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"x{value:.2f}"


def _significance(p: float, alpha: float) -> str:
    return ("significant" if p < alpha else "not significant") + f" at {alpha:g}"


def headline(result: Mapping[str, Any]) -> str:
    """One line: the correctness regressions and the changed answers, apart."""
    title = f"{result['base']['model']} -> {result['current']['model']}"
    correctness, moved = result.get("correctness"), result.get("changed_answers")
    if correctness is None or moved is None:  # a result from before the split
        return f"{title}: {len(result['regressions'])} regression(s)"
    parts = []
    if correctness["tests"]:
        parts.append(
            f"{len(correctness['regressions'])} correctness regression(s), "
            f"{len(correctness['improvements'])} improvement(s)"
        )
    if moved["tests"]:
        parts.append(f"{len(moved['changed'])} changed answer(s)")
    return f"{title}: " + ("; ".join(parts) or "nothing compared")


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """Correctness (tests that check the answer) and changed answers (snapshot
    tests: drift from a baseline, right or wrong) with their own statistics, then
    every compared test together."""
    alpha = result["significance"]
    lines = []
    correctness, moved = result.get("correctness"), result.get("changed_answers")
    if correctness and correctness["tests"]:
        p = correctness["mcnemar_p"]
        lines.append(
            f"correctness ({correctness['tests']} test(s) that check the answer): pass rate "
            f"{pct(correctness['base_pass_rate'])} -> {pct(correctness['current_pass_rate'])} "
            f"({signed_pts(correctness['delta'])}); {len(correctness['regressions'])} "
            f"regression(s), {len(correctness['improvements'])} improvement(s); McNemar p = "
            f"{p_value(p)} ({_significance(p, alpha)})"
        )
    if moved and moved["tests"]:
        checked = len(moved["right_to_wrong"]) + len(moved["wrong_to_right"])
        line = (
            f"changed answers ({moved['tests']} snapshot test(s), drift from the baseline): "
            f"{len(moved['changed'])} changed, {len(moved['restored'])} back to the baseline; "
            f"of the changed, {len(moved['right_to_wrong'])} right -> wrong, "
            f"{len(moved['wrong_to_right'])} wrong -> right, "
            f"{len(moved['still_right']) + len(moved['still_wrong'])} no change in correctness, "
            f"{len(moved['unchecked'])} without a correctness check"
        )
        if checked:
            p = moved["checked_mcnemar_p"]
            line += f" (right/wrong McNemar p = {p_value(p)}, {_significance(p, alpha)})"
        lines.append(line)
    rates, p = result["pass_rate"], result["mcnemar_p"]
    lines.append(
        f"all compared tests (a changed answer counts as a failure): pass rate "
        f"{pct(rates['base'])} -> {pct(rates['current'])} ({signed_pts(rates['delta'])}); "
        f"{len(result['regressions'])} regression(s), {len(result['improvements'])} "
        f"improvement(s); McNemar p = {p_value(p)} ({_significance(p, alpha)})"
    )
    return lines


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return [row.rstrip() for row in out]


def _category_rows(result: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            c["category"],
            str(c["tests"]),
            pct(c["base_pass_rate"]),
            pct(c["current_pass_rate"]),
            signed_pts(c["delta"]),
            str(c["regressions"]),
            str(c["improvements"]),
            p_value(c["mcnemar_p"]),
            {"up": "UP", "down": "DOWN"}.get(c["direction"], ""),
        ]
        for c in result["categories"]
    ]


CATEGORY_HEADER = ("category", "tests", "base", "current", "delta", "p->f", "f->p", "p", "")


def _other_lines(result: Mapping[str, Any]) -> list[str]:
    verbosity, refusals = result["verbosity"], result["refusals"]
    lines = [
        f"verbosity: mean reply {_chars(verbosity['base_mean_chars'])} -> "
        f"{_chars(verbosity['current_mean_chars'])} characters ({_ratio(verbosity['ratio'])})",
        f"refusals: {pct(refusals['base_rate'])} -> {pct(refusals['current_rate'])} of replies",
    ]
    drift = result["drift"]
    if drift["current_comparisons"]:
        lines.append(
            f"snapshot drift in the current run: {drift['current_drifted']} of "
            f"{drift['current_comparisons']} comparison(s)"
        )
    for side in ("base", "current"):
        served = result["served"][side]
        names = ", ".join(sorted(served["served"])) or "?"
        fingerprints = ", ".join(sorted(served["fingerprints"]))
        lines.append(
            f"{side} served: {names}" + (f" (fingerprints {fingerprints})" if fingerprints else "")
        )
    for change in result["served_changes"]:
        lines.append(
            f"served-model change: {change['nodeid']}: {change['baseline']} -> {change['current']}"
        )
    tests = result["tests"]
    for key, label in (
        ("only_base", "only in the base run"),
        ("only_current", "only in the current run"),
        ("skipped", "skipped on a side (not compared)"),
    ):
        if tests[key]:
            more = len(tests[key]) - 5
            lines.append(
                f"{len(tests[key])} test(s) {label}: "
                + ", ".join(tests[key][:5])
                + (f" and {more} more" if more > 0 else "")
            )
    return lines


def _shown(value: Any) -> str:
    """A mismatch's side: the one prompt (or setting) as text, several as a list."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return _excerpt(value if isinstance(value, str) else repr(value))


def _set_aside(result: Mapping[str, Any]) -> tuple[str, list[tuple[str, str, str, str]]]:
    """The tests left out because they asked differently: a title, and per
    difference (test, what, base, current)."""
    tests = result["tests"].get("asked_differently") or []
    if not tests or result.get("forced"):
        return "", []
    title = (
        f"changed tests, not compared ({len(tests)}): they asked differently in the two runs, "
        "so their outcomes say nothing about the model (--strict refuses, --force compares them)"
    )
    rows = [
        (str(m["test"]), str(m["what"]), _shown(m["base"]), _shown(m["current"]))
        for m in result["mismatches"]
    ]
    return title, rows


def _kinds(changes: Sequence[Mapping[str, Any]]) -> str:
    """Say how many of ``changes`` are correctness tests and changed answers."""
    moved = sum(1 for c in changes if c.get("kind") == "changed answer")
    if not moved:
        return ""
    return f": {len(changes) - moved} correctness, {moved} changed answer(s)"


def render_text(result: Mapping[str, Any], *, rows: int = ROWS_SHOWN) -> str:
    """The table ``llmdrift compare`` prints."""
    out = [headline(result), *(f"  {line}" for line in summary_lines(result))]
    if result["seesaw"]:
        out.append("SEESAW: some categories improved while others regressed, beyond noise")
    if result["forced"]:
        out.append(
            f"WARNING: compared with --force although {len(result['mismatches'])} test(s) "
            "asked differently (see the mismatches)"
        )
    title, changed = _set_aside(result)
    if title:
        out += ["", title]
        for test, what, before, now in changed[:rows]:
            out += [f"  {test}: {what} changed", f"    base:    {before}", f"    current: {now}"]
        if len(changed) > rows:
            out.append(f"  ... and {len(changed) - rows} more (--json has them all)")
    out += ["", *_table(CATEGORY_HEADER, _category_rows(result)), ""]
    for key, label in (("regressions", "REGRESSION"), ("improvements", "improvement")):
        changes = result[key]
        if not changes:
            continue
        out.append(f"{key} ({len(changes)}{_kinds(changes)}):")
        for change in changes[:rows]:
            shown = label
            if change.get("kind") == "changed answer":
                shown = "CHANGED" if key == "regressions" else "back to baseline"
            out.append(f"  {shown} {change['test']}")
            out.append(f"    base:    {_excerpt(change['base_text'])}")
            out.append(f"    current: {_excerpt(change['current_text'])}")
            if change.get("message"):
                out.append(f"    why:     {_excerpt(change['message'])}")
        if len(changes) > rows:
            out.append(f"  ... and {len(changes) - rows} more (--json has them all)")
        out.append("")
    out += _other_lines(result)
    return "\n".join(out) + "\n"


# Markdown that would act in a pull-request comment: mentions (@user), links and
# images ([x](url), ![](url)), code spans, emphasis and headings.
_MARKDOWN_ACTIVE = str.maketrans({c: f"&#{ord(c)};" for c in "@[]!`*_#~"})


def _md_cell(text: Any) -> str:
    # Replies are untrusted: GitHub renders HTML and Markdown in comments, so both
    # are neutralised (shown as text, never acted on).
    escaped = html.escape(str(text), quote=False).translate(_MARKDOWN_ACTIVE)
    return escaped.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: Mapping[str, Any], *, rows: int = ROWS_SHOWN) -> str:
    """A pull-request comment: headline, per-category table, regressions."""
    regressions = result["regressions"]
    icon = ":red_circle:" if regressions else ":white_check_mark:"
    out = [f"### {icon} LLM drift: {_md_cell(headline(result))}", ""]
    out += [f"- {_md_cell(line)}" for line in summary_lines(result)] + [""]
    if result["seesaw"]:
        out += ["> **Seesaw:** some categories improved while others regressed, beyond noise.", ""]
    if result["forced"]:
        out += [
            f"> **Warning:** compared with `--force` although {len(result['mismatches'])} "
            "test(s) asked differently.",
            "",
        ]
    title, changed = _set_aside(result)
    if title:
        out += ["<details open>", f"<summary>{_md_cell(title)}</summary>", ""]
        out += ["| test | what | base | current |", "|---|---|---|---|"]
        for test, what, before, now in changed[:rows]:
            out.append(
                f"| <code>{_md_cell(test)}</code> | {_md_cell(what)} "
                f"| {_md_cell(before)} | {_md_cell(now)} |"
            )
        if len(changed) > rows:
            out.append(f"| … and {len(changed) - rows} more | | | |")
        out += ["", "</details>", ""]
    out.append("| " + " | ".join(h or "change" for h in CATEGORY_HEADER) + " |")
    out.append("|" + "---|" * len(CATEGORY_HEADER))
    for row in _category_rows(result):
        out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    out.append("")
    for key in ("regressions", "improvements"):
        changes = result[key]
        if not changes:
            continue
        out.append(f"<details{' open' if key == 'regressions' else ''}>")
        out.append(f"<summary>{len(changes)} {key}{_md_cell(_kinds(changes))}</summary>")
        out.append("")
        out.append("| test | kind | base | current |")
        out.append("|---|---|---|---|")
        for change in changes[:rows]:
            out.append(
                f"| <code>{_md_cell(change['test'])}</code> "
                f"| {_md_cell(change.get('kind') or '')} "
                f"| {_md_cell(_excerpt(change['base_text'], 80))} "
                f"| {_md_cell(_excerpt(change['current_text'], 80))} |"
            )
        if len(changes) > rows:
            out.append(f"| … and {len(changes) - rows} more | | | |")
        out += ["", "</details>", ""]
    out += [f"- {_md_cell(line)}" for line in _other_lines(result)]
    return "\n".join(out) + "\n"


def render_refusal(message: str, mismatches: Sequence[Mapping[str, Any]], *, markdown: bool) -> str:
    """Why two runs could not be compared, with the tests that asked differently."""
    lines = []
    for m in mismatches[:ROWS_SHOWN]:
        note = f" ({m['note']})" if m.get("note") else ""
        lines.append(f"{m['test']}: {m['what']} differs: {m['base']!r} vs {m['current']!r}{note}")
    if len(mismatches) > ROWS_SHOWN:
        lines.append(f"... and {len(mismatches) - ROWS_SHOWN} more")
    if markdown:
        body = ["### :warning: LLM drift: cannot compare", "", _md_cell(message), ""]
        body += [f"- {_md_cell(line)}" for line in lines]
        return "\n".join(body) + "\n"
    return "\n".join([f"cannot compare: {message}", *(f"  {line}" for line in lines)]) + "\n"
