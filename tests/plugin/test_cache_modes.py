"""--llm-cache modes, provider failures, the call budget and a corrupt cache."""

from __future__ import annotations

import pytest

from pytest_llmdrift.config import CACHE_MODES
from pytest_llmdrift.testing import Fault, ModelServer

THREE = """
import pytest

@pytest.mark.parametrize("n", [1, 2, 3])
def test_ask(llm, n):
    llm(f"question {n}")
"""


def test_modes_constant_matches_the_docs() -> None:
    assert CACHE_MODES == ("use", "replay", "refresh", "off")


def test_replay_on_an_empty_cache_fails_each_test_and_calls_nothing(
    pytester: pytest.Pytester, server: ModelServer, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_q=THREE)
    result = pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=replay", *xdist_args)
    result.assert_outcomes(failed=3)
    assert server.call_count == 0
    result.stdout.fnmatch_lines(
        [
            "*ReplayMiss: --llm-cache=replay: no cached reply for model 'gpt-4o' (sample 0, "
            f"endpoint {server.openai_base_url}) to the prompt 'question ?'*no call was made*"
            "--llm-cache=use*",
        ]
    )
    result.stdout.fnmatch_lines(["*3 replay miss(es)*"])


def test_replay_after_recording_passes_without_calls(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(test_q=THREE)
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=3)
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=replay").assert_outcomes(passed=3)
    assert server.call_count == 3


def test_refresh_always_calls_and_overwrites(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(
        """
        def test_ask(llm):
            assert llm("q").text == open("expected.txt").read()
        """
    )
    server.set_reply("old")
    pytester.makefile(".txt", expected="old")
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=1)
    server.set_reply("new")  # the provider changed; the cache still answers "old"
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=1)
    assert server.call_count == 1
    pytester.makefile(".txt", expected="new")
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(failed=1)
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=refresh").assert_outcomes(passed=1)
    assert server.call_count == 2
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=replay").assert_outcomes(passed=1)
    assert server.call_count == 2


def test_off_neither_reads_nor_writes(pytester: pytest.Pytester, server: ModelServer) -> None:
    pytester.makepyfile(test_q=THREE)
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=off").assert_outcomes(passed=3)
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=off").assert_outcomes(passed=3)
    assert server.call_count == 6
    assert not (pytester.path / ".llmdrift").exists()


def test_xdist_workers_share_one_cache_without_duplicate_calls(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(20))
        def test_ask(llm, n):
            llm(f"distinct prompt {n}")
        """
    )
    result = pytester.runpytest("--llm-model=gpt-4o", "-n", "2")
    result.assert_outcomes(passed=20)
    assert server.call_count == 20
    assert len({r.prompt for r in server.requests}) == 20
    result.stdout.fnmatch_lines(["calls: 20 live, 0 cached*"])
    result = pytester.runpytest("--llm-model=gpt-4o", "-n", "2", "--llm-cache=replay")
    result.assert_outcomes(passed=20)
    assert server.call_count == 20
    result.stdout.fnmatch_lines(["calls: 0 live, 20 cached*"])  # merged from both workers


def test_a_429_then_success_is_absorbed_by_the_sdk_retry(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.inject(Fault.rate_limit(retry_after=0.01), times=1)
    pytester.makepyfile("def test_ask(llm):\n    assert llm('hi').text == 'echo: hi'\n")
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=1)
    assert server.call_count == 2


def test_a_persistent_500_fails_that_test_with_the_message_and_is_not_cached(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    # xdist changes nothing here: a worker stores (or not) through the same code.
    server.set_reply({"bad": "never sent", "*": "fine"})
    server.inject(
        Fault.server_error(message="the upstream model is overloaded"), times=100, model="gpt-4o"
    )
    pytester.makepyfile(
        """
        def test_bad(llm):
            llm("bad")

        def test_other(llm):
            pass
        """
    )
    result = pytester.runpytest("--llm-model=gpt-4o", "--llm-max-retries=1")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*ProviderError: openai answered HTTP 500 for model 'gpt-4o':*"
            "the upstream model is overloaded*",
            "*not cached, so a re-run tries again*",
        ]
    )
    assert server.call_count == 2  # one try and the SDK's one retry
    server.reset()
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=2)
    assert server.call_count == 1  # the error was not cached: called again, now answered


def test_a_400_says_the_request_was_rejected(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.inject(Fault.bad_request("Unsupported parameter: 'temperature'"), times=1)
    pytester.makepyfile("def test_ask(llm):\n    llm('hi', temperature=0.3)\n")
    result = pytester.runpytest("--llm-model=gpt-4o")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*openai answered HTTP 400 for model 'gpt-4o':*Unsupported parameter: 'temperature'*",
            "*the provider rejected the request: check the arguments passed to llm()*",
        ]
    )
    assert server.call_count == 1


def test_a_dropped_connection_names_the_endpoint(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.inject(Fault.drop(), times=5)
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    result = pytester.runpytest("--llm-model=claude-3-opus", "--llm-max-retries=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*anthropic could not be reached at {server.anthropic_base_url} for model "
            "'claude-3-opus': Connection error.",
            "*-> check $ANTHROPIC_BASE_URL and the network*",
        ]
    )


def test_max_calls_budget(
    pytester: pytest.Pytester, server: ModelServer, xdist_args: list[str]
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_ask(llm, n):
            llm(f"q{n}")
        """
    )
    result = pytester.runpytest("--llm-model=gpt-4o", "--llm-max-calls=4", *xdist_args)
    result.assert_outcomes(passed=4, failed=2)
    assert server.call_count == 4
    result.stdout.fnmatch_lines(
        [
            "*BudgetExceeded: the live-call budget of 4 (--llm-max-calls) is spent*",
            "*--llm-max-calls=4 was reached: 2 call(s) were refused*",
        ]
    )
    # cached replies cost nothing: a re-run with the same budget only calls the 2 missing
    pytester.runpytest("--llm-model=gpt-4o", "--llm-max-calls=2", *xdist_args).assert_outcomes(
        passed=6
    )
    assert server.call_count == 6


def test_a_corrupt_cache_is_moved_aside_and_the_run_goes_on(
    pytester: pytest.Pytester, server: ModelServer, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_q=THREE)
    cache_dir = pytester.path / ".llmdrift" / "cache"
    cache_dir.mkdir(parents=True)
    (cache_dir / "cache.db").write_bytes(b"garbage, not sqlite " * 200)
    result = pytester.runpytest("--llm-model=gpt-4o", *xdist_args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["ALARM cache: the response cache at *cache was corrupt*moved it to*"]
    )
    assert result.stdout.str().count("was corrupt") == 1  # an alarm is not also a notice
    moved = list((pytester.path / ".llmdrift").glob("cache.corrupt-*"))
    assert len(moved) == 1
    assert (moved[0] / "cache.db").read_bytes().startswith(b"garbage")
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=replay").assert_outcomes(passed=3)


def test_missing_key_names_the_variable_and_suggests_replay(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    result = pytester.runpytest("--llm-model=gpt-4o", "--llm-model=claude-3-opus")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*MissingCredentials: $OPENAI_API_KEY is not set*Export OPENAI_API_KEY=*"
            "--llm-cache=replay*",
            "*MissingCredentials: $ANTHROPIC_API_KEY is not set*--llm-cache=replay*",
        ]
    )


def test_cache_dir_option(pytester: pytest.Pytester, server: ModelServer) -> None:
    pytester.makepyfile(test_q=THREE)
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache-dir=elsewhere").assert_outcomes(passed=3)
    assert (pytester.path / "elsewhere" / "cache.db").exists()
    assert not (pytester.path / ".llmdrift").exists()
    pytester.makeini("[pytest]\nllm_cache_dir = elsewhere\nllm_cache = replay\n")
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=3)
    assert server.call_count == 3
