"""@pytest.mark.llm_repeat and @pytest.mark.llm, end to end."""

from __future__ import annotations

import json
import threading

import pytest

from pytest_llmdrift.testing import ModelServer, RecordedRequest

REPEAT = """
import pytest

@pytest.mark.llm_repeat(10, min_pass_rate={bar})
def test_capital(llm):
    assert llm("What is the capital of France?", temperature=1).text == "Paris"
"""


def right_nine_times_in_ten(server: ModelServer) -> None:
    """The 4th answer (call 3) is wrong; every other one is right: 9 in 10."""
    calls = iter(range(1000))
    lock = threading.Lock()

    def reply(request: RecordedRequest) -> str:
        with lock:
            call = next(calls)
        return "Lyon" if call == 3 else "Paris"

    server.set_reply(reply)


@pytest.mark.parametrize(
    ("bar", "outcome", "calls"),
    [
        # needs 8 of 10: 8 passes are reached on the 9th sample (one failure at #3)
        pytest.param(0.8, "passed", 9, id="0.8-passes-after-9"),
        # needs 10 of 10: lost at the first failure, the 4th sample
        pytest.param(0.95, "failed", 4, id="0.95-fails-after-4"),
        # needs 5 of 10: the 5th pass comes on the 6th sample (one failure at #3)
        pytest.param(0.5, "passed", 6, id="0.5-passes-after-6"),
    ],
)
def test_llm_repeat_verdict_and_early_stop(
    pytester: pytest.Pytester, server: ModelServer, bar: float, outcome: str, calls: int
) -> None:
    right_nine_times_in_ten(server)
    pytester.makepyfile(test_repeat=REPEAT.format(bar=bar))
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-report=r.json")
    result.assert_outcomes(**{outcome: 1})
    assert server.call_count == calls
    [item] = json.loads((pytester.path / "r.json").read_text())["items"]
    repeat = item["repeat"]
    assert repeat["runs"] == calls
    assert repeat["n"] == 10
    assert repeat["passes"] == calls - (1 if calls > 3 else 0)
    assert repeat["stopped_early"] is (calls < 10)
    assert 0 <= repeat["ci_low"] <= repeat["pass_rate"] <= repeat["ci_high"] <= 1
    assert len(item["replies"]) == calls
    assert [r["sample"] for r in item["replies"]] == list(range(calls))
    if outcome == "failed":
        result.stdout.fnmatch_lines(
            [
                "*RepeatFailed: llm_repeat: 3 of 4 samples passed, stopped after 4 of 10; "
                "needs 10 of 10 (min_pass_rate 0.95); pass rate 0.75, 95% Wilson interval "
                "0.30-0.95*",
                "*llm_repeat: 0 of 1 repeated test(s) cleared their pass-rate bar*",
            ]
        )
        # The first failing sample's own assertion is shown as the cause.
        result.stdout.fnmatch_lines(["*AssertionError: assert 'Lyon' == 'Paris'*"])


def test_llm_repeat_samples_are_cached_one_by_one(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    right_nine_times_in_ten(server)
    pytester.makepyfile(test_repeat=REPEAT.format(bar=0.8))
    pytester.runpytest("--llm-model=openai:gpt-4o").assert_outcomes(passed=1)
    assert server.call_count == 9
    # Re-run: every sample comes from the cache, with the same verdict.
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-cache=replay")
    result.assert_outcomes(passed=1)
    assert server.call_count == 9
    result.stdout.fnmatch_lines(["*0 live, 9 cached*"])


def test_llm_repeat_under_xdist(pytester: pytest.Pytester, server: ModelServer) -> None:
    right_nine_times_in_ten(server)
    pytester.makepyfile(test_repeat=REPEAT.format(bar=0.8))
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "-n", "2", "--llm-report=r.json")
    result.assert_outcomes(passed=1)
    [item] = json.loads((pytester.path / "r.json").read_text())["items"]
    assert (item["repeat"]["runs"], item["repeat"]["passes"]) == (9, 8)


def test_a_provider_error_is_an_error_not_a_failed_sample(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    from pytest_llmdrift.testing import Fault

    server.set_reply("Paris")
    server.inject(Fault.status(400, "bad request"), times=1)
    pytester.makepyfile(test_repeat=REPEAT.format(bar=0.5))
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-max-retries=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ProviderError*bad request*"])
    result.stdout.no_fnmatch_line("*RepeatFailed*")


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("llm_repeat()", "needs the number of samples"),
        ("llm_repeat(0)", "must be a whole number >= 1, got 0"),
        ("llm_repeat(5, min_pass_rate=1.5)", "must be a number in (0, 1]"),
        ("llm_repeat(5, bar=0.5)", "unknown argument 'bar'"),
        ("llm('math')", "keyword arguments only"),
        ("llm(category='math', topic='x')", "unknown argument(s) topic"),
        ("llm(created='last June')", "must be a date, as 'YYYY-MM-DD'"),
        ("llm(difficulty=['hard'])", "must be a string or a number"),
    ],
)
def test_bad_marker_arguments_error_the_test_and_say_how_to_fix_them(
    pytester: pytest.Pytester, server: ModelServer, marker: str, message: str
) -> None:
    server.set_reply("Paris")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_x(llm):
            llm("hi")
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert server.call_count == 0


def test_llm_repeat_with_llm_snapshot_is_refused(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.set_reply("Paris")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm_repeat(3)
        def test_x(llm, llm_snapshot):
            assert llm("hi") == llm_snapshot
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*llm_repeat*llm_snapshot keeps one baseline per test*"])


def test_llm_repeat_on_an_async_test_is_refused(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm_repeat(3)
        async def test_x(llm):
            pass
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "-W", "ignore")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*llm_repeat does not support async tests*"])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.llm(category=None, difficulty=None, created=None):*",
            "@pytest.mark.llm_repeat(n, min_pass_rate=1.0, confidence=0.95):*",
        ]
    )


def test_marker_metadata_and_date_objects_reach_the_report(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.set_reply("Paris")
    pytester.makepyfile(
        """
        import datetime
        import pytest

        pytestmark = pytest.mark.llm(category="geo")

        @pytest.mark.llm(difficulty=3, created=datetime.date(2024, 2, 29))
        def test_x(llm):
            assert llm("capital?").text == "Paris"

        def test_y(llm):
            assert llm("capital?").text == "Paris"
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-report=r.json")
    result.assert_outcomes(passed=2)
    items = {i["test"]: i for i in json.loads((pytester.path / "r.json").read_text())["items"]}
    x, y = (
        items["test_marker_metadata_and_date_objects_reach_the_report.py::test_x"],
        items["test_marker_metadata_and_date_objects_reach_the_report.py::test_y"],
    )
    # markers combine: the module's category, the function's difficulty and date
    assert (x["category"], x["difficulty"], x["created"]) == ("geo", 3, "2024-02-29")
    assert (y["category"], y["difficulty"], y["created"]) == ("geo", None, None)


def test_llm_repeat_sample_outcomes(pytester: pytest.Pytester, server: ModelServer) -> None:
    server.set_reply("not json")
    pytester.makepyfile(
        """
        import json
        import pytest

        @pytest.mark.llm_repeat(3, min_pass_rate=0.5)
        def test_unparseable(llm):
            json.loads(llm("give me JSON", temperature=1).text)  # fails every sample

        @pytest.mark.llm_repeat(3)
        def test_known_bad(llm):
            llm("hi", temperature=1)
            pytest.xfail("known bad")

        @pytest.fixture
        def reply(llm):
            return llm("once", temperature=1)

        @pytest.mark.llm_repeat(3)
        def test_in_a_fixture(reply):
            assert reply.text
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-report=r.json")
    result.assert_outcomes(failed=2, xfailed=1)
    result.stdout.fnmatch_lines(["*RepeatFailed: llm_repeat: 0 of 2 samples passed*"])
    result.stdout.fnmatch_lines(["*RepeatMisuse: *sample 0 made no llm() call in the test body*"])
    items = {
        i["test"].split("::")[1]: i
        for i in json.loads((pytester.path / "r.json").read_text())["items"]
    }
    assert items["test_unparseable"]["repeat"]["failures"][0]["message"].startswith(
        "JSONDecodeError"
    )


def test_a_non_finite_difficulty_is_refused(pytester: pytest.Pytester, server: ModelServer) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(difficulty=float("nan"))
        def test_x(llm):
            llm("hi")
        """
    )
    result = pytester.runpytest("--llm-model=openai:gpt-4o", "--llm-report=r.json")
    result.assert_outcomes(errors=1)
    assert (pytester.path / "r.json").exists()
