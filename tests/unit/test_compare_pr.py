"""`llmdrift compare` on the runs of a pull request: the common PR edits a prompt or
two, and compare must still compare everything else. Also what it says about files
that are not reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmdrift.cli import main as llmdrift
from pytest_llmdrift.report.compare import CompareError, compare
from pytest_llmdrift.report.document import build_report
from pytest_llmdrift.report.html import render_compare
from pytest_llmdrift.report.render import render_markdown, render_text
from pytest_llmdrift.stats import RunStats


def item(test: str, outcome: str = "passed", *, prompt: str | None = None) -> dict[str, Any]:
    prompt = prompt or f"question {test}"
    return {
        "nodeid": f"{test}[m]",
        "test": test,
        "model": "m",
        "outcome": outcome,
        "text": "[Yes]" if outcome == "passed" else "[No]",
        "replies": [
            {
                "text": "[Yes]" if outcome == "passed" else "[No]",
                "served_model": "m",
                "fingerprint": None,
                "prompt": prompt,
                "request_hash": f"h:{prompt}",
                "params": {"temperature": 0},
            }
        ],
        "comparisons": [],
        "message": None if outcome == "passed" else "AssertionError",
    }


def report(*items: dict[str, Any]) -> dict[str, Any]:
    return build_report(
        items=list(items),
        stats=RunStats(),
        settings={"models": ["m"]},
        exit_status=0,
        plugin_version="0",
    )


EDITED = "Is 7 prime? Answer [Yes] or [No], nothing else."


def pr_pair(*, regress: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """main (base) and the PR (current): the PR edits t_edit's prompt, and its new
    prompt fails; t_other regresses when ``regress``."""
    base = report(item("t_edit"), item("t_keep"), item("t_other"), item("t_fixed", "failed"))
    current = report(
        item("t_edit", "failed", prompt=EDITED),
        item("t_keep"),
        item("t_other", "failed" if regress else "passed"),
        item("t_fixed"),
    )
    return base, current


def test_a_pr_that_edits_a_prompt_compares_the_rest() -> None:
    base, current = pr_pair(regress=True)
    result = compare(base, current)
    assert result["tests"]["asked_differently"] == ["t_edit"]
    assert result["tests"]["compared"] == 3
    assert [r["test"] for r in result["regressions"]] == ["t_other"]  # not t_edit
    assert [r["test"] for r in result["improvements"]] == ["t_fixed"]
    [mismatch] = result["mismatches"]
    assert (mismatch["what"], mismatch["base"], mismatch["current"]) == (
        "prompt",
        ["question t_edit"],
        [EDITED],
    )
    assert result["forced"] is False

    text = render_text(result)
    assert "changed tests, not compared (1)" in text
    assert "t_edit: prompt changed" in text
    assert "base:    question t_edit" in text
    assert f"current: {EDITED}" in text
    markdown = render_markdown(result)
    assert "changed tests, not compared (1)" in markdown
    assert "<code>t&#95;edit</code> | prompt | question t&#95;edit |" in markdown
    page = render_compare(result)
    assert "Changed tests, not compared" in page
    assert EDITED in page
    assert "compared anyway (--force)" not in page

    # --force compares it too; --strict refuses as before
    forced = compare(base, current, force=True)
    assert sorted(r["test"] for r in forced["regressions"]) == ["t_edit", "t_other"]
    assert forced["forced"] is True
    assert forced["tests"]["asked_differently"] == []
    with pytest.raises(CompareError, match="1 test\\(s\\) did not ask the same thing"):
        compare(base, current, strict=True)


def test_nothing_comparable_is_still_an_error() -> None:
    base = report(item("a"))
    current = report(item("a", prompt="another question"))
    with pytest.raises(CompareError, match="nothing is comparable") as info:
        compare(base, current)
    assert info.value.mismatches[0]["test"] == "a"


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_exit_status_is_about_the_comparable_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, clean = pr_pair(regress=False)
    a, b = write(tmp_path / "a.json", base), write(tmp_path / "b.json", clean)
    assert llmdrift(["compare", str(a), str(b)]) == 0  # only the edited test failed
    assert "changed tests, not compared (1)" in capsys.readouterr().out
    assert llmdrift(["compare", str(a), str(b), "--strict"]) == 2
    assert "cannot compare: 1 test(s) did not ask" in capsys.readouterr().err
    _, regressed = pr_pair(regress=True)
    assert llmdrift(["compare", str(a), str(write(tmp_path / "c.json", regressed))]) == 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:  # argparse: one or the other
        llmdrift(["compare", str(a), str(b), "--strict", "--force"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe\x00r\x00e\x00p", "is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8 text"),
        (b"<!doctype html><title>report</title>", "not a JSON report (line 1"),
        (b"", "not a JSON report"),
        (b'{"schema": "llmdrift-report/1", "items": 3}', '"items" must be a list'),
    ],
)
def test_a_file_that_is_not_a_report_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    good = write(tmp_path / "good.json", report(item("a")))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert llmdrift(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert str(bad) in err
    assert "Traceback" not in err


# -- drift is not regression -----------------------------------------------------------
def snap(test: str, question: str, *, drifted: bool | None) -> dict[str, Any]:
    """A snapshot test asking ``question``: recorded (``drifted=None``, the
    --snapshot-update base run, always passes) or compared with its baseline."""
    record = item(test, "failed" if drifted else "passed", prompt=question)
    if drifted is None:
        record["comparisons"] = [{"scorer": "exact()", "updated": True, "score": None}]
    else:
        record["comparisons"] = [
            {
                "scorer": "exact()",
                "updated": False,
                "score": 0.0 if drifted else 1.0,
                "threshold": 1.0,
                "drifted": drifted,
                "baseline_text": "[Yes]",
                "current_text": "[No]" if drifted else "[Yes]",
            }
        ]
    return record


def check(test: str, question: str, right: bool) -> dict[str, Any]:
    """A correctness test asking ``question``: passes when the answer is right."""
    return item(test, "passed" if right else "failed", prompt=question)


def drift_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    # Snapshot tests s1..s6 ask q1..q6; correctness tests c1..c4 ask q1..q4 (q5 and
    # q6 have no correctness check); c7 asks its own q7.
    right_before = {"c1": True, "c2": False, "c3": False, "c4": True, "c7": True}
    right_after = {"c1": False, "c2": True, "c3": True, "c4": True, "c7": False}
    moved = {"s1", "s2", "s3", "s5"}  # their answers change; s4 and s6 keep theirs
    base = report(
        *(snap(f"s{n}", f"q{n}", drifted=None) for n in range(1, 7)),
        *(check(t, f"q{t[1]}", r) for t, r in right_before.items()),
    )
    current = report(
        *(snap(f"s{n}", f"q{n}", drifted=f"s{n}" in moved) for n in range(1, 7)),
        *(check(t, f"q{t[1]}", r) for t, r in right_after.items()),
    )
    return base, current


def test_changed_answers_and_correctness_regressions_are_counted_apart() -> None:
    result = compare(*drift_pair())
    # By hand. Correctness tests: c1 and c7 right -> wrong, c2 and c3 wrong -> right,
    # c4 right both times: 3 of 5 right before and after; McNemar(2, 2) = 1.
    correctness = result["correctness"]
    assert correctness["tests"] == 5
    assert (correctness["regressions"], correctness["improvements"]) == (
        ["c1", "c7"],
        ["c2", "c3"],
    )
    assert (correctness["base_pass_rate"], correctness["current_pass_rate"]) == (0.6, 0.6)
    assert correctness["delta"] == 0.0
    assert correctness["mcnemar_p"] == 1.0
    # Snapshot tests: s1, s2, s3, s5 changed (McNemar(4, 0) = 2 / 2^4); by the
    # correctness test on the same question, s1 went right -> wrong, s2 and s3
    # wrong -> right, and s5 has no check (McNemar(1, 2) = 2 * (1 + 3) / 2^3 = 1).
    moved = result["changed_answers"]
    assert moved["tests"] == 6
    assert moved["changed"] == ["s1", "s2", "s3", "s5"]
    assert moved["restored"] == []
    assert moved["mcnemar_p"] == 0.125
    assert moved["right_to_wrong"] == ["s1"]
    assert moved["wrong_to_right"] == ["s2", "s3"]
    assert moved["still_right"] == moved["still_wrong"] == []
    assert moved["unchecked"] == ["s5"]
    assert moved["checked_mcnemar_p"] == 1.0
    # Together (today's view): 6 pass -> fail, 2 fail -> pass; 9 of 11 -> 5 of 11.
    assert len(result["regressions"]) == 6
    kinds = {r["test"]: r["kind"] for r in result["regressions"]}
    assert kinds == {
        "c1": "correctness",
        "c7": "correctness",
        "s1": "changed answer",
        "s2": "changed answer",
        "s3": "changed answer",
        "s5": "changed answer",
    }
    assert result["pass_rate"]["base"] == pytest.approx(9 / 11)
    assert result["pass_rate"]["current"] == pytest.approx(5 / 11)
    [row] = result["categories"]
    assert (row["regressions"], row["changed_answers"]) == (6, 4)

    text = render_text(result)
    assert text.startswith("m -> m: 2 correctness regression(s), 2 improvement(s); 4 changed")
    assert (
        "correctness (5 test(s) that check the answer): pass rate 60.0% -> 60.0% (+0.0 pts); "
        "2 regression(s), 2 improvement(s); McNemar p = 1 (not significant at 0.05)"
    ) in text
    assert (
        "changed answers (6 snapshot test(s), drift from the baseline): 4 changed, 0 back to "
        "the baseline; of the changed, 1 right -> wrong, 2 wrong -> right, 0 no change in "
        "correctness, 1 without a correctness check"
    ) in text
    assert "all compared tests (a changed answer counts as a failure): pass rate 81.8%" in text
    assert "regressions (6: 2 correctness, 4 changed answer(s)):" in text
    assert "  CHANGED s1" in text
    assert "  REGRESSION c1" in text
    markdown = render_markdown(result)
    assert "- correctness (5 test(s) that check the answer)" in markdown
    assert "6 regressions: 2 correctness, 4 changed answer(s)" in markdown
    page = render_compare(result)
    assert "Correctness regressions" in page
    assert "Changed answers" in page
    assert "1 right → wrong, 2 wrong → right" in page


def test_one_run_says_which_changed_answers_are_now_right() -> None:
    from pytest_llmdrift.plugin import _drift_lines
    from pytest_llmdrift.report.document import correctness_split
    from pytest_llmdrift.report.record import RunRecord

    _, current = drift_pair()
    split = correctness_split(current["items"])
    # drifted: s1 (c1 now wrong), s2 and s3 (c2, c3 now right), s5 (no check);
    # correctness tests c2, c3, c4 of c1, c2, c3, c4, c7 pass.
    assert split == {
        "correctness_tests": 5,
        "correctness_passed": 3,
        "correctness_pass_rate": 0.6,
        "changed_answers": 4,
        "changed_now_right": 2,
        "changed_now_wrong": 1,
        "changed_unchecked": 1,
    }
    assert current["metrics"]["overall"]["changed_now_right"] == 2
    record = RunRecord()
    for entry in current["items"]:
        data = {k: entry[k] for k in ("model", "test", "replies", "comparisons")}
        for c in data["comparisons"]:
            c.update(detail="moved", baseline_model="m")
        outcome = "failed" if entry["outcome"] == "failed" else "passed"
        record.add(nodeid=entry["nodeid"], when="call", outcome=outcome, duration=0, data=data)
    lines = [line for line, _ in _drift_lines(record)]
    assert lines[0] == "snapshots: 4 of 6 comparison(s) drifted"
    assert lines[1] == (
        "  changed answers: 4 test(s), of which 2 now right, 1 now wrong and 1 without a "
        "correctness test on the same question; correctness tests: 3 of 5 passed"
    )
