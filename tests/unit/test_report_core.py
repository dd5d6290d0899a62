"""The pure core of the reports: statistics, markers, metrics, compare, merge, render."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmdrift.markers import RepeatSpec, llm_metadata, run_repeated
from pytest_llmdrift.report.compare import CompareError, compare, exit_status
from pytest_llmdrift.report.document import (
    SCHEMA,
    ReportError,
    build_report,
    group_metrics,
    load_report,
    merge_reports,
    summarize,
)
from pytest_llmdrift.report.render import render_markdown, render_text
from pytest_llmdrift.report.statistics import (
    mcnemar_exact,
    repeat_verdict,
    required_passes,
    wilson_interval,
)
from pytest_llmdrift.stats import RunStats


# -- statistics ------------------------------------------------------------------------
def test_wilson_interval_known_values() -> None:
    # 9 of 10 at 95%: the textbook Wilson interval is (0.596, 0.982)
    low, high = wilson_interval(9, 10)
    assert (round(low, 3), round(high, 3)) == (0.596, 0.982)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


@given(st.integers(0, 500), st.integers(0, 500), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_holds_the_rate_inside_0_1(k: int, extra: int, confidence: float) -> None:
    n = k + extra
    low, high = wilson_interval(k, n, confidence)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= k / n <= high


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="0 <= passes <= n"):
        wilson_interval(3, 2)


def test_mcnemar_exact_known_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(9, 0) == 2 / 2**9
    assert mcnemar_exact(1, 1) == 1.0
    # 476 right->wrong vs 147 wrong->right (GPT-4 primes, March -> June): tiny
    assert mcnemar_exact(476, 147) < 1e-30
    assert mcnemar_exact(11, 7) == 2 * sum(math.comb(18, k) for k in range(8)) / 2**18


@given(st.integers(0, 300), st.integers(0, 300))
def test_mcnemar_is_symmetric_and_a_probability(b: int, c: int) -> None:
    p = mcnemar_exact(b, c)
    assert 0.0 < p <= 1.0
    assert p == mcnemar_exact(c, b)


@given(st.integers(1, 40), st.sampled_from([0.1, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0]), st.data())
def test_repeat_verdict_is_final_when_given(n: int, bar: float, data: st.DataObject) -> None:
    """Once repeat_verdict decides, no outcome of the remaining samples changes it."""
    outcomes = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    passes = failures = 0
    decided: bool | None = None
    for outcome in outcomes:
        passes += outcome
        failures += not outcome
        decided = repeat_verdict(passes, failures, n, bar)
        if decided is not None:
            break
    assert decided is not None
    full_rate = sum(outcomes) / n
    remaining = n - passes - failures
    # best and worst case for the rest agree with the decision
    assert (passes + remaining) / n >= bar if decided else passes / n < bar
    if passes + failures == n:
        assert decided == (full_rate >= bar)


def test_required_passes_avoids_float_rounding() -> None:
    assert required_passes(10, 0.7) == 7
    assert required_passes(10, 0.8) == 8
    assert required_passes(3, 0.5) == 2


# -- markers ---------------------------------------------------------------------------
def test_llm_metadata_is_checked_and_json_able() -> None:
    meta = llm_metadata((), {"category": "math", "difficulty": 2, "created": date(2023, 3, 1)})
    assert meta == {"category": "math", "difficulty": 2, "created": "2023-03-01"}
    assert json.loads(json.dumps(meta)) == meta
    with pytest.raises(ValueError, match="non-empty string"):
        llm_metadata((), {"category": ""})


def test_repeat_spec_from_marker_arguments() -> None:
    assert RepeatSpec.from_marker((10, 0.8), {}) == RepeatSpec(10, 0.8)
    assert RepeatSpec.from_marker((), {"n": 5}) == RepeatSpec(5, 1.0)
    with pytest.raises(ValueError, match="min_pass_rate twice"):
        RepeatSpec.from_marker((5, 0.5), {"min_pass_rate": 0.5})
    with pytest.raises(ValueError, match="confidence"):
        RepeatSpec.from_marker((5,), {"confidence": 1})


def test_run_repeated_stops_when_decided_and_reports_the_first_failure() -> None:
    seen: list[int] = []

    def body(sample: int) -> None:
        seen.append(sample)
        assert sample not in (1, 2), f"sample {sample} is wrong"

    # needs 9 of 10, so one failure is allowed: the second (sample 2) decides it
    result, first = run_repeated(body, RepeatSpec(10, 0.9))
    assert seen == [0, 1, 2]
    assert not result.passed
    assert result.stopped_early
    assert str(first).startswith("sample 1 is wrong")
    assert result.failures == (
        (1, "AssertionError: sample 1 is wrong"),
        (2, "AssertionError: sample 2 is wrong"),
    )


def test_run_repeated_counts_errors_as_failed_samples_but_lets_passthrough_through() -> None:
    def body(sample: int) -> None:
        raise RuntimeError("provider down")

    result, first = run_repeated(body, RepeatSpec(3))
    assert (result.runs, result.passed, type(first)) == (1, False, RuntimeError)
    with pytest.raises(RuntimeError, match="provider down"):
        run_repeated(body, RepeatSpec(3), passthrough=(RuntimeError,))


# -- metrics ---------------------------------------------------------------------------
def item(
    test: str,
    outcome: str = "passed",
    *,
    model: str = "m1",
    category: str | None = None,
    text: str = "ok",
    created: str | None = None,
    comparison: dict[str, Any] | None = None,
    prompt: str = "q",
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "nodeid": f"{test}[{model}]",
        "test": test,
        "model": model,
        "outcome": outcome,
        "category": category,
        "difficulty": None,
        "created": created,
        "text": text,
        "replies": [
            {
                "text": text,
                "served_model": model,
                "fingerprint": None,
                "prompt": prompt,
                "request_hash": f"h:{prompt}",
                "params": params or {"temperature": 0},
            }
        ],
        "comparisons": [comparison] if comparison else [],
        "paraphrase": None,
        "repeat": None,
        "message": None if outcome == "passed" else "AssertionError: no",
    }


def comparison(baseline: str, current: str, drifted: bool) -> dict[str, Any]:
    return {
        "scorer": "similar(min=0.8)",
        "score": 0.1 if drifted else 1.0,
        "threshold": 0.8,
        "drifted": drifted,
        "baseline_text": baseline,
        "current_text": current,
        "baseline_model": "m0",
        "updated": False,
    }


def test_group_metrics_counts_pass_drift_verbosity_and_refusals() -> None:
    items = [
        item(
            "a",
            text="I can't help with that.",
            comparison=comparison("Sure: x" * 10, "I can't help with that.", True),
        ),
        item("b", "failed", text="yes", comparison=comparison("yes", "yes", False)),
        item("c", "skipped"),
        item("d", "error"),
    ]
    m = group_metrics(items)
    assert (m["passed"], m["failed"], m["error"], m["skipped"]) == (1, 1, 1, 1)
    assert m["pass_rate"] == 1 / 3  # skipped has no verdict
    assert (m["comparisons"], m["drifted"], m["drift_rate"]) == (2, 1, 0.5)
    assert m["baseline_mean_chars"] == (70 + 3) / 2
    assert m["compared_mean_chars"] == (23 + 3) / 2
    assert m["verbosity_ratio"] == pytest.approx(13 / 36.5)
    assert m["refusal_rate"] == 1 / 4
    assert m["baseline_refusal_rate"] == 0.0


def test_summarize_splits_by_model_category_and_cutoff() -> None:
    items = [
        item("a", category="math", created="2023-01-01"),
        item("b", "failed", category="math", created="2023-08-01"),
        item("a", "failed", model="m2", category="math", created="2023-01-01"),
    ]
    metrics = summarize(items, cutoff="2023-06-01")
    assert metrics["models"]["m1"]["pass_rate"] == 0.5
    assert metrics["categories"]["m2"]["math"]["pass_rate"] == 0.0
    assert metrics["created"]["m1"]["before"]["pass_rate"] == 1.0
    assert metrics["created"]["m1"]["after"]["pass_rate"] == 0.0
    assert summarize(items)["created"] == {}


def doc(items: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    stats = RunStats()
    return build_report(
        items=items,
        stats=stats,
        settings={"models": ["m1"], **settings},
        exit_status=0,
        plugin_version="0",
    )


def test_load_report_checks_schema_and_items(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc([item("a")])))
    assert load_report(path)["schema"] == SCHEMA
    bad = doc([item("a")])
    bad["items"][0]["outcome"] = "crashed"
    path.write_text(json.dumps(bad))
    with pytest.raises(ReportError, match="outcome 'crashed'"):
        load_report(path)


def test_merge_refuses_shards_of_different_runs() -> None:
    a, b = doc([item("a")]), doc([item("b")], cutoff="2023-01-01")
    with pytest.raises(ReportError, match="not shards of one run: their settings differ"):
        merge_reports([a, b], ["a.json", "b.json"], plugin_version="0")


def test_merge_keeps_the_failing_shards_exit_status() -> None:
    a, b, c = doc([item("a")]), doc([item("b")]), doc([])
    a["exit_status"], b["exit_status"], c["exit_status"] = 0, 1, 5
    merged = merge_reports([a, b, c], ["a", "b", "c"], plugin_version="0")
    assert merged["exit_status"] == 1
    a["exit_status"] = b["exit_status"] = 0
    assert merge_reports([a, b, c], ["a", "b", "c"], plugin_version="0")["exit_status"] == 0


# -- compare -----------------------------------------------------------------------------
def test_compare_pairs_by_test_and_counts_changes() -> None:
    base = doc([item("a"), item("b"), item("c", "failed"), item("gone")])
    current = doc([item("a", "failed"), item("b"), item("c"), item("new")])
    result = compare(base, current)
    assert [r["test"] for r in result["regressions"]] == ["a"]
    assert [r["test"] for r in result["improvements"]] == ["c"]
    assert result["tests"]["only_base"] == ["gone"]
    assert result["tests"]["only_current"] == ["new"]
    assert result["mcnemar_p"] == 1.0
    assert exit_status(result) == 1
    assert result["seesaw"] is False


def test_compare_lists_every_kind_of_mismatch() -> None:
    base = doc([item("a"), item("b"), item("c", comparison=comparison("x", "x", False))])
    other = comparison("x", "x", False)
    other["scorer"] = "exact()"
    current = doc(
        [item("a", prompt="q2"), item("b", params={"temperature": 1}), item("c", comparison=other)]
    )
    with pytest.raises(CompareError, match="3 test\\(s\\) did not ask the same thing") as info:
        compare(base, current, strict=True)
    assert {(m["test"], m["what"]) for m in info.value.mismatches} == {
        ("a", "prompt"),
        ("b", "sampling settings"),
        ("c", "scorer"),
    }
    assert compare(base, current, force=True)["forced"] is True


def test_compare_needs_shared_tests_and_one_model() -> None:
    with pytest.raises(CompareError, match="share no tests"):
        compare(doc([item("a")]), doc([item("b")]))
    two = doc([item("a"), item("a", model="m2")])
    with pytest.raises(CompareError, match="choose one with --base-model"):
        compare(two, doc([item("a")]))
    with pytest.raises(CompareError, match=r"--current-model=m9: .* has no results for it"):
        compare(two, two, base_model="m1", current_model="m9")


def test_render_escapes_untrusted_text_in_markdown() -> None:
    base = doc([item("a", text="fine")])
    current = doc([item("a", "failed", text="<img src=x onerror=alert(1)> | pipe")])
    result = compare(base, current)
    markdown = render_markdown(result)
    assert "<img" not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt; \\| pipe" in markdown
    text = render_text(result)
    assert "REGRESSION a" in text


def test_an_expected_failure_counts_as_a_failure_of_the_model() -> None:
    base = doc([item("a", "xfailed"), item("b"), item("c", "skipped")])
    current = doc([item("a", "xpassed"), item("b", "xfailed"), item("c")])
    result = compare(base, current)
    assert [r["test"] for r in result["improvements"]] == ["a"]
    assert [r["test"] for r in result["regressions"]] == ["b"]
    assert result["tests"]["skipped"] == ["c"]
    metrics = group_metrics(base["items"])
    assert (metrics["xfailed"], metrics["pass_rate"]) == (1, 0.5)


def test_run_record_keeps_xfail_outcomes() -> None:
    from pytest_llmdrift.report.record import RunRecord

    record = RunRecord()
    for when, outcome in (("setup", "passed"), ("call", "xfailed"), ("teardown", "passed")):
        record.add(nodeid="t", when=when, outcome=outcome, duration=0.1, data={"model": "m"})
    assert record.items["t"].outcome == "xfailed"


def test_compare_ignores_how_many_samples_a_repeat_took() -> None:
    base = doc([item("a")])
    current = doc([item("a", "failed")])
    base["items"][0]["replies"] *= 9  # llm_repeat stopped after 9 samples, then 3
    current["items"][0]["replies"] *= 3
    assert compare(base, current)["mismatches"] == []


def test_an_xfail_that_never_asked_the_model_has_no_verdict() -> None:
    unrun = item("a", "xfailed")
    unrun["replies"] = []
    assert group_metrics([unrun, item("b")])["pass_rate"] == 1.0
    result = compare(doc([unrun, item("b")]), doc([item("a"), item("b")]))
    assert result["tests"]["skipped"] == ["a"]


def test_a_run_that_stopped_early_asked_the_same_things() -> None:
    base = doc([item("a")])
    current = doc([item("a", "failed")])
    second = {**base["items"][0]["replies"][0], "prompt": "q2", "request_hash": "h:q2"}
    base["items"][0]["replies"].append(second)  # a later call the current run never made
    assert compare(base, current)["mismatches"] == []
    current["items"][0]["replies"].append({**second, "prompt": "q3", "request_hash": "h:q3"})
    with pytest.raises(CompareError) as info:
        compare(base, current, strict=True)
    [mismatch] = info.value.mismatches
    assert (mismatch["base"], mismatch["current"]) == (["q", "q2"], ["q", "q3"])


def test_unpinned_nodeid_cuts_at_the_items_own_name() -> None:
    from types import SimpleNamespace

    from pytest_llmdrift.models import ModelSpec, unpinned_nodeid

    spec = ModelSpec(provider="demo", name="demo-2023-03", text="demo-2023-03")
    callspec = SimpleNamespace(
        params={"llm": spec}, id="a::b-demo-2023-03", _idlist=["a::b", "demo-2023-03"]
    )
    item = SimpleNamespace(
        nodeid="t.py::test_p[a::b-demo-2023-03]",
        name="test_p[a::b-demo-2023-03]",
        callspec=callspec,
    )
    assert unpinned_nodeid(item) == "t.py::test_p[a::b]"


def test_repeated_on_one_side_only_is_a_mismatch() -> None:
    base, current = doc([item("a")]), doc([item("a")])
    base["items"][0]["repeat"] = {"n": 5, "min_pass_rate": 0.8}
    with pytest.raises(CompareError) as info:
        compare(base, current, strict=True)
    assert info.value.mismatches[0]["what"] == "llm_repeat settings"


def test_markdown_neutralises_mentions_links_and_code() -> None:
    result = compare(
        doc([item("a")]), doc([item("a", "failed", text="@octocat ![x](http://e/x.png) `rm`")])
    )
    markdown = render_markdown(result)
    assert "@octocat" not in markdown
    assert "](http" not in markdown
    assert "`rm`" not in markdown
