"""The JSON run report, `llmdrift compare` and `llmdrift merge`, end to end.

Two scripted models answer a small suite; which test each gets right is fixed
below, so every number the report and the comparison print is worked out by hand
here and checked exactly, with and without xdist.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_llmdrift.cli import main as llmdrift
from pytest_llmdrift.testing import ModelServer, RecordedRequest, ScriptedReply

SUITE = """
import pytest
from pytest_llmdrift import extract


@pytest.mark.llm(category="math", difficulty="easy", created="2023-01-10")
@pytest.mark.parametrize("n", range(10))
def test_math(llm, n):
    assert "[Yes]" in llm(f"math question {n}", temperature=0).text


@pytest.mark.llm(category="facts", difficulty="hard", created="2023-11-01")
@pytest.mark.parametrize("n", range(8))
def test_facts(llm, n):
    assert "[Yes]" in llm(f"facts question {n}", temperature=0).text


@pytest.mark.llm(category="story")
@pytest.mark.parametrize("n", range(4))
def test_story(llm, llm_snapshot, n):
    reply = llm(f"story question {n}", temperature=0)
    assert reply == llm_snapshot(extract(r"\\[(Yes|No)\\]"))
"""

# Which questions each model gets right ([Yes]); the rest it answers [No].
RIGHT = {
    "model-a": {"math": set(range(10)), "facts": {0}, "story": set(range(4))},
    "model-b": {"math": {9}, "facts": set(range(8)), "story": {0, 2}},
}
# By hand, model-a -> model-b:
#   math:  9 regressions (0-8), 0 improvements   -> McNemar p = 2 * 1/2^9  = 0.00390625
#   facts: 0 regressions, 7 improvements (1-7)   -> McNemar p = 2 * 1/2^7  = 0.015625
#   story: 2 regressions (1, 3: the answer drifts from model-a's baseline), 0 improvements
#          -> p = 2 * 1/2^2 = 0.5
#   all:   11 regressions, 7 improvements -> p = 2 * sum(C(18, k), k <= 7) / 2^18
#          = 2 * 63004 / 262144 = 0.480682373046875
MATH_REGRESSIONS = [f"test_suite.py::test_math[{n}]" for n in range(9)]
STORY_REGRESSIONS = ["test_suite.py::test_story[1]", "test_suite.py::test_story[3]"]
FACTS_IMPROVEMENTS = [f"test_suite.py::test_facts[{n}]" for n in range(1, 8)]
MCNEMAR_ALL = 0.480682373046875


def behaviour(request: RecordedRequest) -> ScriptedReply:
    match = re.search(r"(math|facts|story) question (\d+)", request.prompt)
    assert match is not None, request.prompt
    kind, n = match.group(1), int(match.group(2))
    right = n in RIGHT[request.model][kind]
    answer = "[Yes]" if right else "[No]"
    text = (
        f"Let me think about {kind} {n} carefully. {answer}"
        if request.model == "model-a"
        else answer
    )
    return ScriptedReply(text, fingerprint=f"fp_{request.model}")


@pytest.fixture(scope="session")
def recorded_baselines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the first test of a session keeps model-a's baselines for the others."""
    return tmp_path_factory.mktemp("report-baselines") / "__snapshots__"


@pytest.fixture
def suite(
    pytester: pytest.Pytester, server: ModelServer, recorded_baselines: Path
) -> pytest.Pytester:
    server.set_reply(behaviour)
    pytester.makepyfile(test_suite=SUITE)
    # The baselines come from model-a: recorded once per session (they hold no
    # address, so they fit every test's server), then copied in.
    if recorded_baselines.is_dir():
        shutil.copytree(recorded_baselines, pytester.path / "__snapshots__")
    else:
        pytester.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(
            passed=15, failed=7
        )
        shutil.copytree(pytester.path / "__snapshots__", recorded_baselines)
    return pytester


def run(suite: pytest.Pytester, model: str, report: str, *args: str) -> pytest.RunResult:
    return suite.runpytest(f"--llm-model=openai:{model}", f"--llm-report={report}", *args)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_report_and_compare_match_the_numbers_worked_out_by_hand(
    suite: pytest.Pytester, xdist_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    base = run(suite, "model-a", "a.json", "--llm-cutoff=2023-06-01", *xdist_args)
    base.assert_outcomes(passed=15, failed=7)  # facts 1-7 fail on model-a
    current = run(
        suite, "model-b", "b.json", "--llm-cutoff=2023-06-01", "--llm-html=out/b.html", *xdist_args
    )
    current.assert_outcomes(passed=1 + 8 + 2, failed=9 + 2)
    current.stdout.fnmatch_lines(["report: *b.json"])
    assert_html_report_and_summary_lines(current, "b.json", suite.path / "out" / "b.html")

    report = load(suite.path / "b.json")
    assert report["schema"] == "llmdrift-report/1"
    assert report["models"] == ["openai:model-b"]
    assert report["calls"]["live"] == 22
    assert report["calls"]["by_model"]["openai:model-b"]["served"] == {"model-b": 22}
    items = {item["test"]: item for item in report["items"]}
    assert len(items) == 22
    story1 = items["test_suite.py::test_story[1]"]
    assert story1["nodeid"] == "test_suite.py::test_story[1-openai:model-b]"
    assert story1["model"] == "openai:model-b"
    assert story1["outcome"] == "failed"
    assert story1["category"] == "story"
    assert story1["text"] == "[No]"
    assert story1["served_model"] == "model-b"
    assert story1["fingerprint"] == "fp_model-b"
    [comparison] = story1["comparisons"]
    assert comparison["drifted"] is True
    assert comparison["baseline_model"] == "model-a"
    assert comparison["baseline_text"] == "Let me think about story 1 carefully. [Yes]"
    assert comparison["scorer"] == r"extract(r'\[(Yes|No)\]')"
    assert (comparison["score"], comparison["threshold"]) == (0.0, 1.0)
    drifted = sorted(
        item["test"] for item in report["items"] for c in item["comparisons"] if c["drifted"]
    )
    assert drifted == STORY_REGRESSIONS
    math = items["test_suite.py::test_math[0]"]
    assert (math["difficulty"], math["created"]) == ("easy", "2023-01-10")
    assert "AssertionError" in math["message"]

    metrics = report["metrics"]
    by_category = metrics["categories"]["openai:model-b"]
    assert by_category["math"]["pass_rate"] == 0.1
    assert by_category["facts"]["pass_rate"] == 1.0
    assert by_category["story"]["pass_rate"] == 0.5
    assert by_category["story"]["drift_rate"] == 0.5
    # story replies shrink from "Let me think about story N carefully. [Yes]" to "[No]"/"[Yes]"
    base_chars = sum(len(f"Let me think about story {n} carefully. [Yes]") for n in range(4)) / 4
    assert by_category["story"]["verbosity_ratio"] == pytest.approx(
        ((4 + 5 + 5 + 4) / 4) / base_chars
    )
    assert metrics["difficulties"]["openai:model-b"]["easy"]["pass_rate"] == 0.1
    assert metrics["difficulties"]["openai:model-b"]["hard"]["pass_rate"] == 1.0
    assert metrics["cutoff"] == "2023-06-01"
    created = metrics["created"]["openai:model-b"]
    assert (created["before"]["tests"], created["after"]["tests"]) == (10, 8)

    # -- compare ---------------------------------------------------------------------
    capsys.readouterr()
    status = llmdrift(
        [
            "compare",
            str(suite.path / "a.json"),
            str(suite.path / "b.json"),
            "--json",
            str(suite.path / "cmp.json"),
            "--markdown",
            str(suite.path / "cmp.md"),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 1  # regressions
    result = load(suite.path / "cmp.json")
    assert sorted(r["test"] for r in result["regressions"]) == sorted(
        MATH_REGRESSIONS + STORY_REGRESSIONS
    )
    assert sorted(r["test"] for r in result["improvements"]) == FACTS_IMPROVEMENTS
    assert result["mcnemar_p"] == MCNEMAR_ALL
    categories = {c["category"]: c for c in result["categories"]}
    assert (categories["math"]["mcnemar_p"], categories["math"]["direction"]) == (
        0.00390625,
        "down",
    )
    assert (categories["facts"]["mcnemar_p"], categories["facts"]["direction"]) == (
        0.015625,
        "up",
    )
    assert (categories["story"]["mcnemar_p"], categories["story"]["direction"]) == (0.5, "same")
    assert result["seesaw"] is True
    assert result["pass_rate"]["base"] == pytest.approx(15 / 22)
    assert result["pass_rate"]["current"] == pytest.approx(11 / 22)
    assert "11 regression(s), 7 improvement(s); McNemar p = 0.48" in printed
    assert "SEESAW" in printed
    markdown = (suite.path / "cmp.md").read_text()
    assert "| math | 10 | 100.0% | 10.0% | -90.0 pts | 9 | 0 |" in markdown
    assert "11 regressions" in markdown


def test_compare_with_no_regressions_exits_0(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run(suite, "model-a", "a1.json")
    run(suite, "model-a", "a2.json")
    assert llmdrift(["compare", str(suite.path / "a1.json"), str(suite.path / "a2.json")]) == 0
    assert "0 regression(s), 0 improvement(s); McNemar p = 1" in capsys.readouterr().out


def test_compare_refuses_runs_that_asked_differently(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run(suite, "model-a", "a.json")
    # The same suite, but the math questions asked at the default temperature.
    suite.makepyfile(
        test_suite=SUITE.replace('f"math question {n}", temperature=0', 'f"math question {n}"')
    )
    run(suite, "model-b", "b.json")
    capsys.readouterr()
    args = ["compare", str(suite.path / "a.json"), str(suite.path / "b.json")]
    assert llmdrift([*args, "--strict", "--json", str(suite.path / "refused.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot compare" in err
    assert "test_suite.py::test_math[0]: sampling settings differ" in err
    refused = load(suite.path / "refused.json")
    assert refused["compatible"] is False
    assert {m["what"] for m in refused["mismatches"]} == {"sampling settings"}
    assert llmdrift([*args, "--force"]) == 1
    assert "WARNING: compared with --force although 10 test(s)" in capsys.readouterr().out


def test_compare_refuses_a_changed_prompt_and_names_it(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run(suite, "model-a", "a.json")
    suite.makepyfile(
        test_suite=SUITE.replace('f"facts question {n}"', 'f"Please: facts question {n}"')
    )
    run(suite, "model-b", "b.json")
    capsys.readouterr()
    args = ["compare", str(suite.path / "a.json"), str(suite.path / "b.json"), "--strict"]
    assert llmdrift(args) == 2
    err = capsys.readouterr().err
    assert "8 test(s) did not ask the same thing" in err
    assert "test_suite.py::test_facts[0]: prompt differs: ['facts question 0'] vs" in err


def test_compare_picks_a_model_from_a_run_of_two(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    suite.runpytest(
        "--llm-model=openai:model-a", "--llm-model=openai:model-b", "--llm-report=both.json"
    )
    both = str(suite.path / "both.json")
    capsys.readouterr()
    assert llmdrift(["compare", both, both]) == 2
    assert "choose one with --base-model" in capsys.readouterr().err
    status = llmdrift(
        [
            "compare",
            both,
            both,
            "--base-model=openai:model-a",
            "--current-model=openai:model-b",
            "--json=-",
        ]
    )
    assert status == 1
    result = json.loads(capsys.readouterr().out)
    assert result["mcnemar_p"] == MCNEMAR_ALL


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such report"),
        ("{not json", "not a JSON report"),
        ('{"schema": "other/1", "items": []}', "is not 'llmdrift-report/1'"),
        ('{"items": []}', 'no "schema" key'),
    ],
)
def test_compare_explains_a_bad_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert llmdrift(["compare", str(bad), str(bad)]) == 2
    assert message in capsys.readouterr().err


def test_merge_combines_shards_into_the_whole_run(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run(suite, "model-b", "whole.json")
    run(suite, "model-b", "shard1.json", "-k", "math or story")
    run(suite, "model-b", "shard2.json", "-k", "facts")
    out = suite.path / "merged" / "all.json"
    page = suite.path / "merged" / "all.html"
    shards = [str(suite.path / "shard1.json"), str(suite.path / "shard2.json")]
    status = llmdrift(["merge", *shards, "-o", str(out), "--html", str(page)])
    assert status == 0, capsys.readouterr().err
    assert "test_math[0-openai:model-b]" in page.read_text()  # the merged run's page
    merged, whole = load(out), load(suite.path / "whole.json")
    strip = ("duration", "latency_s", "cached", "message")  # messages show latencies

    def comparable(doc: dict[str, Any]) -> list[Any]:
        return [
            {
                **{k: v for k, v in item.items() if k not in strip},
                "replies": [
                    {k: v for k, v in r.items() if k not in strip} for r in item["replies"]
                ],
            }
            for item in doc["items"]
        ]

    assert comparable(merged) == comparable(whole)
    assert merged["metrics"]["categories"] == whole["metrics"]["categories"]
    assert merged["calls"]["live"] + merged["calls"]["cached"] == 22
    assert merged["merged_from"] == [
        str(suite.path / "shard1.json"),
        str(suite.path / "shard2.json"),
    ]
    # A shard given twice is refused, and nothing is written.
    again = suite.path / "again.json"
    shard1 = str(suite.path / "shard1.json")
    assert llmdrift(["merge", shard1, shard1, "-o", str(again)]) == 1
    assert "shards must not overlap" in capsys.readouterr().err
    assert not again.exists()


def test_report_path_that_is_a_directory_is_a_usage_error(suite: pytest.Pytester) -> None:
    (suite.path / "out").mkdir()
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-report=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-report=*out is a directory; give a file path*"])


def test_bad_cutoff_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-cutoff=June 2023")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected a date as YYYY-MM-DD*"])


def assert_html_report_and_summary_lines(result: pytest.RunResult, report: str, path: Path) -> None:
    """What a model-b run with --llm-report=REPORT --llm-html=PATH prints and writes."""
    result.stdout.fnmatch_lines(
        [
            "*snapshots: 2 of 4 comparison(s) drifted*",
            "*DRIFT test_suite.py::test_story[1-openai:model-b]*answer changed*",
            f"report: *{report}",
            f"report: *{path.parent.name}*{path.name}",
        ]
    )
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lstrip().lower().startswith("<!doctype html>")
    assert "<svg" in page
    assert "test_story[1-openai:model-b]" in page
    assert re.search(r">\s*50(\.0)?%\s*<", page)  # the pass rate: 11 of 22


def test_html_report_and_summary_lines(suite: pytest.Pytester) -> None:
    # Under xdist, the same checks run in test_report_and_compare_match_..._by_hand[xdist].
    result = suite.runpytest(
        "--llm-model=openai:model-b", "--llm-html=out/report.html", "--llm-report=r.json"
    )
    assert_html_report_and_summary_lines(result, "r.json", suite.path / "out" / "report.html")


def test_a_report_that_cannot_be_written_is_said_loudly(suite: pytest.Pytester) -> None:
    (suite.path / "blocker").write_text("a file, not a directory")
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-report=blocker/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*blocker is a file, not a directory*"])


def test_a_report_that_cannot_be_written_fails_the_run(suite: pytest.Pytester) -> None:
    # The path was fine at start-up; a test then puts a directory in its way.
    suite.makepyfile(
        test_blocker="""
        import os

        def test_block(llm):
            os.makedirs("r.json")
        """
    )
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-report=r.json", "-k", "block")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*report NOT written: --llm-report=*r.json: *"])


def test_a_test_with_no_model_pinned_is_in_the_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--llm-report=r.json", "-k", "math and 0")
    result.assert_outcomes(errors=1)  # the llm fixture fails at setup
    [record] = load(suite.path / "r.json")["items"]
    assert (record["model"], record["outcome"]) == (None, "error")
    assert "no model is pinned" in record["message"]


def test_xfail_outcomes_are_kept(pytester: pytest.Pytester, server: ModelServer) -> None:
    server.set_reply("No")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xfail(reason="known")
        def test_known(llm):
            assert llm("q1").text == "Yes"

        @pytest.mark.xfail(reason="fixed?")
        def test_fixed(llm):
            assert llm("q2").text == "No"

        @pytest.mark.xfail(reason="fixed!", strict=True)
        def test_strict(llm):
            assert llm("q3").text == "No"

        @pytest.mark.xfail(run=False, reason="not run")
        def test_unrun(llm):
            llm("q4")
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-report=r.json")
    result.assert_outcomes(xfailed=2, xpassed=1, failed=1)
    report = load(pytester.path / "r.json")
    outcomes = {i["test"].split("::")[1]: i["outcome"] for i in report["items"]}
    assert outcomes == {
        "test_known": "xfailed",
        "test_fixed": "xpassed",
        "test_strict": "xpassed",  # pytest fails it; the model passed the check
        "test_unrun": "xfailed",
    }
    # the unrun one asked nothing: no verdict; the others: 1 fail, 2 passes
    assert report["metrics"]["overall"]["pass_rate"] == pytest.approx(2 / 3)


def test_provider_failures_are_not_verdicts_on_the_model(
    suite: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run(suite, "model-a", "a.json", "-k", "math")
    # A fresh cache and a budget of 3 calls: 7 math tests error without an answer.
    run(suite, "model-a", "b.json", "-k", "math", "--llm-cache-dir=other", "--llm-max-calls=3")
    report = load(suite.path / "b.json")
    refused = [i for i in report["items"] if i["no_verdict"]]
    assert len(refused) == 7
    assert {i["no_verdict"] for i in refused} == {"BudgetExceeded"}
    assert report["metrics"]["overall"]["pass_rate"] == 1.0  # 3 of 3 decided
    capsys.readouterr()
    assert llmdrift(["compare", str(suite.path / "a.json"), str(suite.path / "b.json")]) == 0
    assert "0 regression(s)" in capsys.readouterr().out


def test_collect_only_keeps_the_last_report(suite: pytest.Pytester) -> None:
    run(suite, "model-a", "r.json")
    before = (suite.path / "r.json").read_text()
    run(suite, "model-a", "r.json", "--collect-only")
    assert (suite.path / "r.json").read_text() == before
