"""llm_snapshot end to end: record, compare across models, update, share baselines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_llmdrift.testing import Fault, ModelServer, RecordedRequest, ScriptedReply

SUITE = """
import pytest
from pytest_llmdrift.scorers import extract, similar

PROMPT = "Is {n} a prime number? Think step by step, then answer [Yes] or [No]."


@pytest.mark.parametrize("n", [2, 3, 4, 5, 9])
def test_prime(llm, llm_snapshot, n):
    reply = llm(PROMPT.format(n=n), temperature=0)
    assert reply == llm_snapshot(extract(r"\\[(Yes|No)\\]"))


def test_story(llm, llm_snapshot):
    reply = llm("Describe the sea in one sentence.", temperature=0)
    assert reply == llm_snapshot(similar(min=0.6))
"""

PRIME = {2: True, 3: True, 4: False, 5: True, 9: False}
SEA = "The sea is a vast, restless body of salt water that covers most of the planet."


def behaviour(request: RecordedRequest) -> ScriptedReply:
    """model-a: right, with reasoning. model-b: says No to 3 and 5 (drift in the answer).
    model-c: right, but reworded, served under a new name and fingerprint."""
    model = request.model
    match = re.search(r"Is (\d+) a prime", request.prompt)
    if match is None:
        sea = (
            SEA
            if model != "model-c"
            else ("The sea is a vast and restless body of salt water covering most of the planet.")
        )
        return ScriptedReply(sea, fingerprint="fp_a")
    n = int(match.group(1))
    answer = PRIME[n]
    if model == "model-a":
        return ScriptedReply(
            f"Let's check divisors of {n} up to its square root. So the answer is "
            f"[{'Yes' if answer else 'No'}].",
            fingerprint="fp_a",
        )
    if model == "model-b":
        if n in (3, 5):
            answer = False
        return ScriptedReply(f"[{'Yes' if answer else 'No'}]", fingerprint="fp_b")
    return ScriptedReply(
        f"Checking {n}: the verdict is [{'Yes' if answer else 'No'}]",
        model="model-c-2026-11-01",
        fingerprint="fp_c",
    )


@pytest.fixture
def suite(pytester: pytest.Pytester, server: ModelServer) -> pytest.Pytester:
    server.set_reply(behaviour)
    pytester.makepyfile(test_drift=SUITE)
    return pytester


def snapshot_files(pytester: pytest.Pytester) -> dict[str, str]:
    folder = pytester.path / "__snapshots__" / "test_drift"
    return {p.name: p.read_text() for p in sorted(folder.glob("*"))} if folder.exists() else {}


BASELINES = [
    "test_prime[2].llmdrift",
    "test_prime[3].llmdrift",
    "test_prime[4].llmdrift",
    "test_prime[5].llmdrift",
    "test_prime[9].llmdrift",
    "test_story.llmdrift",
]


def record_model_a(suite: pytest.Pytester, *args: str) -> dict[str, str]:
    result = suite.runpytest("--llm-model=openai:model-a", "--snapshot-update", *args)
    result.assert_outcomes(passed=6)
    files = snapshot_files(suite)
    assert sorted(files) == BASELINES  # one baseline per test: the model is not in the name
    return files


def assert_model_b_drifted(result: pytest.RunResult) -> None:
    """Model B fails exactly the tests whose extracted answer moved, and says how."""
    result.stdout.fnmatch_lines_random(
        [
            "FAILED test_drift.py::test_prime[[]3-openai:model-b[]]*",
            "FAILED test_drift.py::test_prime[[]5-openai:model-b[]]*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*DriftError: the reply drifted from its baseline: extract(*) scored 0.00, "
            "below the threshold 1.00 (answer changed: 'yes' -> 'no')",
            "*baseline: model-a, fingerprint fp_a, recorded *",
            "*Let's check divisors of ? up to its square root. So the answer is [[]Yes].*",
            "*current:  model-b, fingerprint fp_b*",
            "*[[]No]*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*DRIFT test_drift.py::test_prime[[]?-openai:model-b[]]: extract(*) 0.00 < 1.00: "
            "answer changed: 'yes' -> 'no' (baseline model-a)",
        ]
    )


MODEL_C_SUMMARY = (
    "  compared model-c (served model-c-2026-11-01), fp_c with baselines from "
    "model-a, fp_a: 5 comparison(s)"
)


def test_the_lifecycle(suite: pytest.Pytester) -> None:
    # 1. record model A's replies as the baseline
    files = record_model_a(suite)

    # 2. model A again passes
    suite.runpytest("--llm-model=openai:model-a").assert_outcomes(passed=6)

    # 3. model B fails exactly the tests whose extracted answer moved
    result = suite.runpytest("--llm-model=openai:model-b", "-rf")
    result.assert_outcomes(passed=4, failed=2)
    assert_model_b_drifted(result)
    result.stdout.fnmatch_lines(["snapshots: 2 of 6 comparison(s) drifted"])

    # 4. model C only rewords (and is served under a dated name): it passes
    result = suite.runpytest("--llm-model=openai:model-c")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["snapshots: 0 of 6 comparison(s) drifted", MODEL_C_SUMMARY])

    # 5. two models in one run share the baseline and delete nothing
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-model=openai:model-b")
    result.assert_outcomes(passed=10, failed=2)
    assert snapshot_files(suite) == files

    # 6. --snapshot-update moves the baseline to model B
    suite.runpytest("--llm-model=openai:model-b", "--snapshot-update")
    moved = snapshot_files(suite)
    assert sorted(moved) == sorted(files)
    assert '"model-b"' in moved["test_prime[3].llmdrift"]
    suite.runpytest("--llm-model=openai:model-b").assert_outcomes(passed=6)
    result = suite.runpytest("--llm-model=openai:model-a")
    result.assert_outcomes(passed=4, failed=2)


def test_the_lifecycle_under_xdist(suite: pytest.Pytester) -> None:
    """The steps of the lifecycle that xdist changes, each once under ``-n 2``: workers
    record the baselines; two models in one run share them and delete nothing; the
    workers' drifts and served-model changes reach the controller's summary; an update
    by the workers moves the baselines. (Reading them is the same in every process.)"""
    files = record_model_a(suite, "-n", "2")

    result = suite.runpytest(
        "--llm-model=openai:model-b", "--llm-model=openai:model-c", "-rf", "-n", "2"
    )
    result.assert_outcomes(passed=10, failed=2)
    assert snapshot_files(suite) == files
    assert_model_b_drifted(result)
    result.stdout.fnmatch_lines(["snapshots: 2 of 12 comparison(s) drifted"])
    result.stdout.fnmatch_lines([MODEL_C_SUMMARY])

    suite.runpytest("--llm-model=openai:model-b", "--snapshot-update", "-n", "2")
    moved = snapshot_files(suite)
    assert sorted(moved) == sorted(files)
    assert all('"model-b"' in text for text in moved.values())


def test_a_served_model_change_under_the_same_name_is_stated_even_when_passing(
    suite: pytest.Pytester, server: ModelServer
) -> None:
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=6)

    def refitted(request: RecordedRequest) -> ScriptedReply:
        reply = behaviour(request)
        return ScriptedReply(reply.text, model="model-a-0613", fingerprint="fp_a2")

    server.set_reply(refitted)
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-cache=refresh")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "snapshots: 0 of 6 comparison(s) drifted",
            "  served-model change against the baseline: model-a, fp_a -> "
            "model-a (served model-a-0613), fp_a2 in 6 comparison(s)",
        ]
    )


def test_the_snapshot_file_is_readable_and_complete(suite: pytest.Pytester) -> None:
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=6)
    text = snapshot_files(suite)["test_prime[3].llmdrift"]
    lines = text.splitlines()
    assert lines[0].startswith("# pytest-llmdrift baseline (llmdrift-snapshot/2)")
    header = dict(
        line.split(": ", 1) for line in lines[2:] if ": " in line and not line.startswith("Let")
    )
    assert header["model"] == '"model-a"'
    assert header["provider"] == '"openai"'
    assert header["served_model"] == '"model-a"'
    assert header["fingerprint"] == '"fp_a"'
    assert header["prompt"] == (
        '"Is 3 a prime number? Think step by step, then answer [Yes] or [No]."'
    )
    assert header["sampling"] == '{"temperature": 0}'
    assert json.loads(header["scorer"]) == r"extract(r'\[(Yes|No)\]')"
    assert re.fullmatch(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', header["recorded"])
    assert lines[-3] == "--- reply ---"
    assert lines[-2] == "Let's check divisors of 3 up to its square root. So the answer is [Yes]."
    assert lines[-1] == "--- end of reply ---"


def test_an_unchanged_reply_is_not_rewritten_on_update(suite: pytest.Pytester) -> None:
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=6)
    before = snapshot_files(suite)
    path = suite.path / "__snapshots__" / "test_drift" / "test_story.llmdrift"
    stamp = path.stat().st_mtime_ns
    result = suite.runpytest("--llm-model=openai:model-a", "--snapshot-update")
    result.assert_outcomes(passed=6)
    assert snapshot_files(suite) == before
    assert path.stat().st_mtime_ns == stamp


def test_selecting_with_k_and_updating_deletes_nothing(
    suite: pytest.Pytester, xdist_args: list[str]
) -> None:
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=6)
    files = snapshot_files(suite)
    result = suite.runpytest(
        "--llm-model=openai:model-b", "--snapshot-update", "-k", "story", *xdist_args
    )
    result.assert_outcomes(passed=1)
    assert sorted(snapshot_files(suite)) == sorted(files)
    assert snapshot_files(suite)["test_prime[3].llmdrift"] == files["test_prime[3].llmdrift"]
    suite.runpytest("--llm-model=openai:model-a", "-k", "prime", *xdist_args).assert_outcomes(
        passed=5
    )


def test_update_with_two_models_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--llm-model=openai:model-a", "--llm-model=openai:model-b", "--snapshot-update"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--snapshot-update records one model's replies as the baseline; 2 models are pinned*"]
    )


def test_a_missing_baseline_says_how_to_record_one(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--llm-model=openai:model-a", "-k", "story")
    result.assert_outcomes(failed=1, deselected=5)
    result.stdout.fnmatch_lines(
        [
            "*no baseline recorded at __snapshots__*test_story.llmdrift: record one with "
            "pytest --snapshot-update --llm-model=MODEL*"
        ]
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda text: text.replace("--- reply ---", "--- oops ---"),
            "*SnapshotFormatError: *test_story.llmdrift: not an llmdrift snapshot (no '--- reply "
            "---' line)*",
        ),
        (
            lambda text: text.replace('model: "model-a"', "model: model-a"),
            "*SnapshotFormatError: *test_story.llmdrift:3: the value of 'model' is not valid JSON*",
        ),
        (
            lambda text: text.replace("provider:", "colour:"),
            "*SnapshotFormatError: *test_story.llmdrift:4: unexpected header line 'colour*",
        ),
    ],
)
def test_a_malformed_snapshot_names_the_file(suite: pytest.Pytester, damage, message) -> None:  # type: ignore[no-untyped-def]
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=6)
    path = suite.path / "__snapshots__" / "test_drift" / "test_story.llmdrift"
    path.write_text(damage(path.read_text()))
    result = suite.runpytest("--llm-model=openai:model-a", "-k", "story")
    result.assert_outcomes(failed=1, deselected=5)
    result.stdout.fnmatch_lines([message])
    # --snapshot-update repairs it
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update", "-k", "story")
    suite.runpytest("--llm-model=openai:model-a").assert_outcomes(passed=6)


def test_default_scorer_from_the_ini(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_default="""
        def test_story(llm, llm_snapshot):
            assert llm("Is 2 a prime number? answer") == llm_snapshot
        """
    )
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update", "test_default.py")
    # model-b answers "[Yes]" instead of a sentence: fails the default similar(min=0.8)
    result = suite.runpytest("--llm-model=openai:model-b", "test_default.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*similar(min=0.8) scored 0.*"])
    suite.makeini('[pytest]\nllm_scorer = extract(r"\\[(Yes|No)\\]")\n')
    suite.runpytest("--llm-model=openai:model-b", "test_default.py").assert_outcomes(passed=1)


def test_a_bad_ini_scorer_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nllm_scorer = __import__('os').system('echo hi')\n")
    result = suite.runpytest("--llm-model=openai:model-a")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key llm_scorer: *"])


JUDGED = """
from pytest_llmdrift.scorers import judge

def test_story(llm, llm_snapshot):
    assert llm("Describe the sea in one sentence.") == llm_snapshot(
        judge("describes the sea", min=0.7)
    )
"""


def test_the_judge_scorer_uses_the_judge_model_and_caches_its_verdict(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    verdicts = {"text": '{"score": 0.9, "reason": "both describe the sea"}'}

    def reply(request: RecordedRequest) -> str:
        if request.model == "judge-model":
            assert "Requirement: describes the sea" in request.prompt
            assert "Question: Describe the sea in one sentence." in request.prompt
            return verdicts["text"]
        return SEA if request.model == "model-a" else "Waves and salt, as far as eyes can see."

    server.set_reply(reply)
    pytester.makepyfile(test_judged=JUDGED)
    pytester.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=1)
    args = ("--llm-model=openai:model-b", "--llm-judge=openai:judge-model")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    judge_calls = sum(1 for r in server.requests if r.model == "judge-model")
    assert judge_calls == 1
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert sum(1 for r in server.requests if r.model == "judge-model") == 1  # cached

    verdicts["text"] = "It is fine, I think."
    result = pytester.runpytest(*args, "--llm-cache=refresh")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ScorerError: the judge's verdict could not be read*It is fine, I think.*"]
    )
    # an unreadable verdict is never cached: with a fresh cache, the next run asks again
    judge_calls = lambda: sum(1 for r in server.requests if r.model == "judge-model")  # noqa: E731
    pytester.runpytest(*args, "--llm-cache-dir=fresh").assert_outcomes(failed=1)
    before = judge_calls()
    verdicts["text"] = '{"score": 0.8}'
    pytester.runpytest(*args, "--llm-cache-dir=fresh").assert_outcomes(passed=1)
    assert judge_calls() == before + 1
    result = pytester.runpytest("--llm-model=openai:model-b")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the judge scorer needs a judge model: pass --llm-judge=MODEL*"])
    # A judge that cannot answer (here: out of budget) is no verdict on the model.
    result = pytester.runpytest(
        *args, "--llm-cache-dir=fresh2", "--llm-max-calls=1", "--llm-report=r.json"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*BudgetExceeded: the live-call budget of 1*openai:judge-model*"])
    (item,) = json.loads((pytester.path / "r.json").read_text())["items"]
    assert item["no_verdict"] == "BudgetExceeded"


def test_comparing_something_else_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(llm_snapshot):\n    assert 'text' == llm_snapshot\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*llm_snapshot compares replies from the llm fixture*not str*"])


def test_snapshots_live_beside_the_test_module(suite: pytest.Pytester) -> None:
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update")
    assert Path(suite.path / "__snapshots__" / "test_drift").is_dir()


def test_recording_a_baseline_without_an_answer_warns(pytester: pytest.Pytester, server) -> None:  # type: ignore[no-untyped-def]
    server.set_reply("I would rather not say.")
    pytester.makepyfile(
        """
        from pytest_llmdrift import extract

        def test_q(llm, llm_snapshot):
            assert llm("Is 7 prime? [Yes] or [No]") == llm_snapshot(extract(r"\\[(Yes|No)\\]"))
        """
    )
    result = pytester.runpytest("--llm-model=gpt-4o", "--snapshot-update")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*test_recording_a_baseline_without_an_answer_warns.py:4: LLMDriftWarning: the "
            "baseline recorded at __snapshots__*test_q.llmdrift fails its own scorer "
            "(extract(*): no answer found in the current reply*"
        ]
    )


def test_update_new_only_with_two_models_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--llm-model=openai:model-a", "--llm-model=openai:model-b", "--snapshot-update-new-only"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--snapshot-update-new-only records one model's replies*"])


def test_unscored_comparisons_are_counted_in_the_summary(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--llm-model=openai:model-a", "-k", "story")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["snapshots: 0 of 1 comparison(s) drifted, 1 not scored (no baseline, or an error)"]
    )
    result = suite.runpytest("--llm-model=openai:model-a", "--snapshot-update")
    result.stdout.fnmatch_lines(["snapshots: 6 baseline(s) checked or recorded (update run)"])


def test_update_keeps_the_baselines_of_tests_that_failed_before_comparing(
    suite: pytest.Pytester,
    server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    xdist_args: list[str],
) -> None:
    suite.runpytest("--llm-model=openai:model-a", "--snapshot-update").assert_outcomes(passed=6)
    files = snapshot_files(suite)
    # the provider fails for the story: that test never reaches its comparison
    server.set_reply(
        lambda r: Fault.server_error(message="down") if "sea" in r.prompt else behaviour(r)
    )
    result = suite.runpytest(
        "--llm-model=openai:model-a",
        "--snapshot-update",
        "--llm-cache=refresh",
        "--llm-max-retries=0",
        *xdist_args,
    )
    result.assert_outcomes(passed=5, failed=1)
    assert snapshot_files(suite) == files
    # no model pinned at all: every llm test errors, and no baseline is deleted
    result = suite.runpytest("--snapshot-update", *xdist_args)
    result.assert_outcomes(errors=6)
    assert snapshot_files(suite) == files
    # nor does a normal run count them as unused
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    result = suite.runpytest("--llm-model=openai:model-a", "--llm-cache=replay", *xdist_args)
    assert snapshot_files(suite) == files


def test_carriage_returns_in_replies_survive_the_snapshot_file(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.set_reply({"crlf": "line1\r\nline2", "cr": "a\rb", "*": "plain"})
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmdrift import exact

        @pytest.mark.parametrize("prompt", ["crlf", "cr"])
        def test_q(llm, llm_snapshot, prompt):
            assert llm(prompt) == llm_snapshot(exact(strip=False))
        """
    )
    pytester.runpytest("--llm-model=gpt-4o", "--snapshot-update").assert_outcomes(passed=2)
    folder = next((pytester.path / "__snapshots__").iterdir())
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=2)
    pytester.runpytest("--llm-model=gpt-4o", "--snapshot-update").assert_outcomes(passed=2)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
