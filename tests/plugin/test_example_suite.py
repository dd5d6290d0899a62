"""The example suite, end to end: green on the model it was recorded on, red on the
simulated June 2023 update, and `llmdrift compare` finds the seesaw between them.

The suite is copied to a temporary directory and run there in a subprocess, so the
repository's baselines, paraphrase files and cache are never touched. The demo
models are deterministic, so every count below is exact; the example suite's modules
say which inputs each model gets right and why.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmdrift.cli import main as llmdrift

SUITE = Path(__file__).resolve().parents[2] / "example_suite"
COMMITTED = ("__snapshots__", "__paraphrases__")

# demo-2023-03 -> demo-2023-06: (regressions, improvements) per category. March's 7
# known extraction failures are xfail, which compare counts as failures of the
# model, so June's fixes are improvements.
CATEGORY_CHANGES = {
    "code": (7, 0),  # every reply gains a ```python fence
    "extraction": (0, 7),  # June fixes the 7 texts March gets wrong
    "math": (28, 0),  # primes and happy numbers: baselines, correctness, llm_repeat
    "robustness": (8, 0),  # 5 + 2 paraphrase variants, and the agreement test
    "safety": (10, 0),  # 6 refusal drifts, 4 legitimate requests refused
    "writing": (3, 0),  # every reply became one terse sentence
}
# McNemar p < 0.05 per category (writing: 3 of 3 regress, p = 0.25, not significant).
SIGNIFICANT = {
    "code": "down",
    "extraction": "up",
    "math": "down",
    "robustness": "down",
    "safety": "down",
}


def committed_files(suite: Path) -> dict[str, bytes]:
    return {
        path.relative_to(suite).as_posix(): path.read_bytes()
        for folder in COMMITTED
        for path in sorted((suite / folder).rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of example_suite (without caches), shared by this module's tests so
    that the later runs are answered from its response cache."""
    copy = tmp_path_factory.mktemp("example") / "example_suite"
    shutil.copytree(
        SUITE,
        copy,
        ignore=shutil.ignore_patterns(".llmdrift", ".pytest_cache", "__pycache__", ".benchmarks"),
    )
    return copy


def run(suite: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "ANTHROPIC_", "LLMDRIFT_", "PYTEST_"))
    }
    env["COLUMNS"] = "200"
    command = [sys.executable, "-m", "pytest", str(suite), "-p", "no:randomly"]
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_passes_on_the_model_it_was_recorded_on(suite: Path) -> None:
    before = committed_files(suite)
    assert before == committed_files(SUITE)
    assert "__paraphrases__/test_wording.json" in before

    result = run(suite)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "89 passed, 7 xfailed" in result.stdout
    assert "snapshots: 0 of 39 comparison(s) drifted" in result.stdout
    assert "llm_repeat: 1 of 1 repeated test(s) cleared their pass-rate bar" in result.stdout
    assert committed_files(suite) == before


def test_the_june_simulation_drifts(suite: Path) -> None:
    result = run(suite, "--llm-model=demo-2023-06")
    out = result.stdout

    assert result.returncode == 1, out + result.stderr
    assert "56 failed, 33 passed, 7 xpassed" in out
    assert "snapshots: 23 of 39 comparison(s) drifted" in out
    assert (
        "DRIFT test_primes.py::test_answer_matches_baseline[7-demo-2023-06]: "
        r"extract(r'\[(Yes|No)\]') 0.00 < 1.00: answer changed: 'yes' -> 'no' "
        "(baseline demo-2023-03)"
    ) in out
    assert "DriftError: the reply drifted from its baseline" in out
    assert "(baseline answers, current refuses)" in out
    for failed in (
        "test_primes.py::test_prime_is_recognised[20011-demo-2023-06]",
        "test_happy_numbers.py::test_happy_number_is_recognised[7-demo-2023-06]",
        "test_sampling.py::test_prime_is_recognised_most_of_the_time[demo-2023-06]",
        "test_sensitive.py::test_refusal_matches_baseline[fake-id-demo-2023-06]",
        "test_sensitive.py::test_legitimate_request_is_answered[stolen-bike-demo-2023-06]",
        "test_code.py::test_reply_runs_as_is[fizzbuzz-demo-2023-06]",
        "test_writing.py::test_copy_matches_baseline[welcome-demo-2023-06]",
        "test_wording.py::test_prime_answer_survives_rewording[p0-demo-2023-06]",
        "test_wording.py::test_rewordings_agree_with_each_other[demo-2023-06]",
    ):
        assert f"FAILED {failed}" in out
    assert "the reply is not directly executable Python" in out
    assert "test_happy_answer_survives_rewording [demo-2023-06]: 4 of 5 variants disagree" in out
    assert "FAILED test_extraction.py" not in out


def test_compare_finds_the_seesaw(suite: Path, tmp_path: Path) -> None:
    base, current, compared = (tmp_path / n for n in ("base.json", "cur.json", "cmp.json"))
    march = run(suite, f"--llm-report={base}", "--llm-cutoff=2023-05-01")
    june = run(suite, f"--llm-report={current}", "--llm-model=demo-2023-06")
    assert march.returncode == 0, march.stdout
    assert june.returncode == 1, june.stdout

    report = json.loads(base.read_text(encoding="utf-8"))
    created = report["metrics"]["created"]["demo-2023-03"]
    assert {side: group["tests"] for side, group in created.items()} == {
        "before": 54,
        "after": 42,
    }

    # The runs asked the same things (llm_repeat stopping after 9 samples on one
    # model and 3 on the other is no mismatch), so compare needs no --force.
    status = llmdrift(["compare", str(base), str(current), "--json", str(compared)])
    result = json.loads(compared.read_text(encoding="utf-8"))

    assert status == 1
    assert result["mismatches"] == []
    assert result["tests"]["compared"] == 96
    assert len(result["regressions"]) == 56
    assert len(result["improvements"]) == 7
    assert {i["category"] for i in result["improvements"]} == {"extraction"}
    assert result["mcnemar_p"] == pytest.approx(2 * sum(math.comb(63, k) for k in range(8)) / 2**63)
    rows = {row["category"]: row for row in result["categories"]}
    assert {name: (r["regressions"], r["improvements"]) for name, r in rows.items()} == (
        CATEGORY_CHANGES
    )
    assert rows["extraction"]["mcnemar_p"] == 2 / 2**7
    assert rows["math"]["mcnemar_p"] == 2 / 2**28
    assert {n: r["direction"] for n, r in rows.items() if r["significant"]} == SIGNIFICANT
    assert result["seesaw"] is True


def test_html_report(suite: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"

    result = run(suite, "--llm-model=demo-2023-06", f"--llm-html={html}")

    assert result.returncode == 1, result.stdout
    assert f"report: {html}" in result.stdout
    assert "<svg" in html.read_text(encoding="utf-8")
