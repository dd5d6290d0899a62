"""The HTML run and comparison reports, rendered from hand-built documents."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from pytest_llmdrift.report.document import SCHEMA, summarize
from pytest_llmdrift.report.html import (
    TEXT_LIMIT,
    Segment,
    pct,
    render_compare,
    render_run,
    signed_pts,
    word_diff,
)
from tests.report_samples import (
    NEW,
    OLD,
    REFUSAL,
    SCRIPT_REPLY,
    compare_result,
    empty_doc,
    run_doc,
)


class Page(HTMLParser):
    """The parts of a rendered page the tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.bars: list[tuple[str, str]] = []  # (aria-label, filled width) per svg.bar
        self.links: list[tuple[str, str]] = []  # (attribute, value) of src/href
        self.tags: list[str] = []
        self.text_parts: list[str] = []
        self._svg: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            if name in found:
                self.links.append((name, str(found[name])))
        if tag == "svg" and "bar" in str(found.get("class", "")).split():
            self._svg = str(found.get("aria-label"))
        elif tag == "rect" and self._svg is not None and found.get("class") == "fill":
            self.bars.append((self._svg, str(found.get("width"))))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())


@pytest.fixture(scope="module")
def run_html() -> str:
    return render_run(run_doc())


@pytest.fixture(scope="module")
def compare_html() -> str:
    return render_compare(compare_result())


def assert_self_contained(html: str) -> None:
    page = Page(html)
    assert not [(n, v) for n, v in page.links if not v.startswith("#")], page.links
    for needle in ("http://", "https://", "@import", "url(", "src=", "//cdn"):
        assert needle not in html.lower(), needle
    assert page.tags.count("script") <= 1  # the print helper, inline
    assert page.tags.count("link") == 0


# -- the run report -------------------------------------------------------------------
def test_run_headline(run_html: str) -> None:
    doc = run_doc()
    overall = doc["metrics"]["overall"]
    text = Page(run_html).text
    assert f"<title>LLM drift report: {OLD}, {NEW}</title>" in run_html
    assert "2024-05-04 09:30 UTC" in text
    assert f"Tests {overall['tests']}" in text
    assert f"Pass rate {pct(overall['pass_rate'])}" in text
    assert f"Drifted {overall['drifted']} of {overall['comparisons']}" in text
    calls = doc["calls"]
    assert f"{calls['live']} live · {calls['cached']} cached" in text
    tokens = doc["tokens"]
    every = sum(tokens[k] for k in ("input", "output", "cached_input", "cached_output"))
    assert f"Tokens {every:,}" in text
    assert f"{overall['failed']} FAILED" in text


def test_tokens_and_correctness_cards_on_a_fully_cached_run() -> None:
    doc = run_doc()
    doc["tokens"] = {"input": 0, "output": 0, "cached_input": 1200, "cached_output": 34}
    text = Page(render_run(doc)).text
    assert "Tokens 1,234 0 live (in 0 · out 0) · 1,234 from the cache" in text
    overall = doc["metrics"]["overall"]
    assert overall["correctness_tests"] > 0
    assert (
        f"Correctness {pct(overall['correctness_pass_rate'])} {overall['correctness_passed']} "
        f"of {overall['correctness_tests']} tests that check the answer passed"
    ) in text


def test_run_category_bars_one_per_model(run_html: str) -> None:
    metrics = run_doc()["metrics"]
    section = run_html[run_html.index('id="categories"') : run_html.index('id="drifted"')]
    page = Page(section)
    for category in ("code", "math", "paraphrase", "safety"):
        assert f'<td class="name" rowspan="2">{category}</td>' in section
    pass_bars = [(label, width) for label, width in page.bars]
    math_old = metrics["categories"][OLD]["math"]["pass_rate"]
    math_new = metrics["categories"][NEW]["math"]["pass_rate"]
    assert (pct(math_old), "100%") in pass_bars  # 5 of 5
    assert (pct(math_new), "40%") in pass_bars  # 2 of 5
    assert "2/5 passed" in page.text
    # drift rate: the share of a category's snapshot comparisons that drifted
    assert "2/2 drifted" in page.text
    assert "0/2 drifted" in page.text


def test_every_bar_is_as_long_as_its_value(run_html: str, compare_html: str) -> None:
    checked = 0
    for html in (run_html, compare_html):
        for label, width in Page(html).bars:
            match = re.fullmatch(r"([\d.]+)%( spread)?", label)
            if match:
                assert float(width.rstrip("%")) == pytest.approx(float(match[1]), abs=0.06)
                checked += 1
    assert checked >= 30


def test_verbosity_bars_share_a_scale(run_html: str) -> None:
    section = run_html[run_html.index('id="verbosity"') :]
    bars = dict(Page(section[: section.index("</section>")]).bars)
    metrics = run_doc()["metrics"]["models"]
    longest = max(m["compared_mean_chars"] for m in metrics.values())
    for m in metrics.values():
        for key in ("baseline_mean_chars", "compared_mean_chars"):
            label = f"{m[key]:,.0f} chars"
            assert float(bars[label].rstrip("%")) == pytest.approx(100 * m[key] / longest, abs=0.01)
    assert "\u00d718.62 longer" in section


def test_run_drifted_tests_show_both_replies_and_the_change(run_html: str) -> None:
    section = run_html[run_html.index('id="drifted"') : run_html.index('id="failures"')]
    text = Page(section).text
    assert "4 of 8 comparisons" in text
    assert f"test_code.py::test_fizzbuzz[{NEW}]" in text
    assert "score 0.62 · needs ≥ 0.80" in text
    assert f"baseline {OLD}, fp_a" in text
    assert f"current {NEW} (served as {NEW}-b), fp_b" in text
    assert "SERVED MODEL CHANGED" in text
    assert "<del>prints every number</del>" in section
    assert "<ins>writes each value</ins>" in section
    assert "<del>3</del>" in section
    assert "<ins>5</ins>" in section
    assert section.count("<details") == 4
    assert section.count('<details class="test" open') == 3


def test_long_replies_are_cut_and_say_so(run_html: str) -> None:
    assert f"cut: showing the first {TEXT_LIMIT:,} of 5,132 characters" in run_html
    assert "THE-END" not in run_html


def test_replies_are_escaped(run_html: str, compare_html: str) -> None:
    for html in (run_html, compare_html):
        assert SCRIPT_REPLY not in html
        assert "<script>alert" not in html
        assert "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
        assert "alert(" in Page(html).text  # shown as text


def test_no_external_resources(run_html: str, compare_html: str) -> None:
    assert_self_contained(run_html)
    assert_self_contained(compare_html)
    assert_self_contained(render_compare(compare_result(forced=True)))
    assert_self_contained(render_run(empty_doc()))


def test_run_sensitivity_repeat_refusals_served(run_html: str) -> None:
    text = Page(run_html).text
    # paraphrase group: p2 disagrees with p0 on the new model
    assert "p0 100%" in text
    assert "p2 0%" in text
    assert '<span class="chip differs">p2 0%</span>' in run_html
    assert "100% spread" in text
    # llm_repeat: passes of runs, pass rate and the Wilson interval
    assert "7 of 10 passed" in text
    assert "70% 39.7%\u201389.2% (95% CI)" in text
    assert "8 of 8 passed stopped early after 8 of 10" in text
    assert '<circle class="point" cx="70%"' in run_html
    assert '<line class="threshold" x1="80%"' in run_html
    # refusals: current vs the baselines'
    assert "1 of 13 replies refused" in text
    # served-model changes and notices
    assert f"now served as {NEW}-b" in text
    assert f"{OLD} is deprecated" in text
    # difficulty and cutoff
    assert "Pass rate by difficulty" in text
    assert "created on or after 2023-09-01" in text
    # failures, collapsed, with their message
    assert "AssertionError: test_math.py::test_is_prime[2] failed" in text


def test_run_with_one_model_has_no_model_column() -> None:
    doc = run_doc()
    items = [i for i in doc["items"] if i["model"] == NEW]
    doc.update(models=[NEW], items=items, metrics=summarize(items, cutoff=None))
    doc["settings"] = {**doc["settings"], "models": [NEW], "cutoff": None}
    html = render_run(doc)
    assert "<th>Model</th>" not in html[html.index('id="categories"') : html.index('id="drifted"')]
    assert "Before and after the training cutoff" not in html


def test_cache_alarms_come_first_in_red_and_are_not_repeated_as_notices() -> None:
    doc = run_doc()
    alarm = "cache: 1 tampered row(s) named a file outside the cache directory <x>"
    doc["notices"] = [alarm, "cache: an ordinary notice"]
    doc["alarms"] = [alarm]
    html = render_run(doc)
    alarms = html.index("<h2>Alarms")
    assert html.rindex('<section class="alert bad" id="served">', 0, alarms) >= 0
    assert alarms < html.index("Served-model changes") < html.index("<h2>Notices")
    assert html.count("tampered row(s)") == 1
    assert "directory &lt;x&gt;" in html  # escaped
    assert "an ordinary notice" in html


def test_empty_runs_render() -> None:
    html = render_run(empty_doc())
    text = Page(html).text
    assert "Tests 0" in text
    assert "Pass rate n/a" in text
    assert "No test in this run used the llm fixture" in text
    assert 'id="categories"' not in html
    # a bare document without metrics (they are derived from the items)
    bare = render_run({"schema": SCHEMA, "items": []})
    assert "LLM drift report" in bare


def test_a_reply_missing_on_one_side() -> None:
    doc = run_doc()
    comparison = next(c for i in doc["items"] for c in i["comparisons"] if c["drifted"])
    comparison["baseline_text"] = None
    assert "(no reply)" in render_run(doc)


# -- the word diff ----------------------------------------------------------------------
def test_word_diff_marks_changed_words_only() -> None:
    before, after = word_diff("The loop prints every number up to n.", "The loop writes up to n!")
    assert before == [
        Segment("same", "The loop "),
        Segment("del", "prints every number"),
        Segment("same", " up to "),
        Segment("del", "n."),
    ]
    assert after == [
        Segment("same", "The loop "),
        Segment("ins", "writes"),
        Segment("same", " up to "),
        Segment("ins", "n!"),
    ]


def test_word_diff_keeps_every_character() -> None:
    before = "  Line one\n\nline  two\tend "
    after = "Line one\nline three\tend"
    old, new = word_diff(before, after)
    assert "".join(s.text for s in old) == before
    assert "".join(s.text for s in new) == after
    assert word_diff("", "") == ([], [])
    assert word_diff("same words", "same words") == (
        [Segment("same", "same words")],
        [Segment("same", "same words")],
    )


def test_formatting() -> None:
    assert pct(None) == "n/a"
    assert pct(1.0) == "100%"
    assert pct(0.5) == "50%"
    assert pct(2 / 3) == "66.7%"
    assert pct(0.9999) == "99.9%"  # never a false 100%
    assert pct(0.0001) == "0.1%"
    assert signed_pts(-0.75) == "-75.0 pts"
    assert signed_pts(None) == "n/a"


# -- the comparison ---------------------------------------------------------------------
def test_compare_headline(compare_html: str) -> None:
    result = compare_result()
    text = Page(compare_html).text
    rates = result["pass_rate"]
    assert f"<title>LLM drift comparison: {OLD} → {NEW}</title>" in compare_html
    assert f"Pass rate {pct(rates['base'])} → {pct(rates['current'])}" in text
    assert signed_pts(rates["delta"]) in text
    assert f"Regressions {len(result['regressions'])} pass → fail" in text
    assert f"Improvements {len(result['improvements'])} fail → pass" in text
    assert "McNemar p 1 not significant at 0.05" in text
    assert f"{len(result['regressions'])} REGRESSIONS" in text
    assert "SEESAW" in text
    assert "Seesaw:" in text
    assert "FORCED" not in text
    assert "did not ask the same things" not in text


def test_compare_categories_grouped_bars(compare_html: str) -> None:
    section = compare_html[compare_html.index('id="categories"') :]
    section = section[: section.index("</section>")]
    page = Page(section)
    # base then current, for code (25% -> 100%) and math (100% -> 25%)
    assert page.bars[:4] == [("25%", "25%"), ("100%", "100%"), ("100%", "100%"), ("25%", "25%")]
    assert "▲ +75.0 pts" in page.text
    assert "▼ -75.0 pts" in page.text
    assert "★ significant rise" in page.text
    assert "★ significant drop" in page.text
    assert page.text.count("★ significant") == 2  # safety moved, but within noise
    assert 'class="sig up"' in section
    assert 'class="sig down"' in section


def test_compare_regressions_with_diff_and_message(compare_html: str) -> None:
    section = compare_html[compare_html.index('id="regressions"') :]
    section = section[: section.index("</section>")]
    text = Page(section).text
    assert "7 test(s) went from pass to fail" in text
    assert "test_math.py::test_sum[0]" in text
    assert "<del>sum</del>" in section
    assert "<ins>total</ins>" in section
    assert "Why the current run failed" in text
    assert "AssertionError: test_math.py::test_sum[0] failed" in text
    assert Page(section).text.index("test_math.py::test_sum[0]") < text.index(
        "test_safety.py::test_declines"
    )
    assert REFUSAL.replace("'", "&#39;") in section


def test_compare_measures_served_and_unpaired(compare_html: str) -> None:
    result = compare_result()
    text = Page(compare_html).text
    ratio = result["verbosity"]["ratio"]
    assert f"\u00d7{ratio:.2f} longer" in text
    assert f"{pct(result['refusals']['base_rate'])}" in text
    assert signed_pts(result["refusals"]["delta"]) in text
    assert f"{NEW} \u00d718, {NEW}-b \u00d71" in text
    assert "Served-model changes in the current run" in text
    assert "test_old.py::test_removed" in text
    assert "test_new.py::test_added" in text
    assert "Skipped on a side (1) test_misc.py::test_flaky" in text
    assert "Snapshot drift in the current run: 1 of 1 comparisons changed" in text


def test_forced_compare_warns_with_the_mismatches() -> None:
    html = render_compare(compare_result(forced=True))
    text = Page(html).text
    assert "FORCED" in text
    assert "Warning: these runs did not ask the same things" in text
    assert "test_math.py::test_sum[7] prompt" in text
    assert "What is 7 + 7? Be brief." in text
    assert html.index('id="mismatches"') < html.index('class="cards"')


def test_compare_without_regressions() -> None:
    result = compare_result()
    result.update(regressions=[], improvements=[], seesaw=False, categories=[])
    text = Page(render_compare(result)).text
    assert "NO REGRESSIONS" in text
    assert "SEESAW" not in text
    assert "Regressions 0 test(s) went from pass to fail None." in text
