"""The llm fixture end to end: real SDKs against the loopback server."""

from __future__ import annotations

import threading

import pytest

from pytest_llmdrift.testing import ModelServer, RecordedRequest, ScriptedReply

QUESTIONS = """
import pytest
from recorder import record

@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_prime(llm, n):
    reply = llm(f"Is {n} a prime number?")
    record(reply, n=n)
    assert reply.text.startswith("echo: Is")
"""


def test_first_run_calls_rerun_is_all_cached(
    pytester: pytest.Pytester, server: ModelServer, recorded
) -> None:
    # Under xdist: test_cache_modes.py::test_xdist_workers_share_one_cache_without_duplicate_calls
    pytester.makepyfile(test_q=QUESTIONS)
    result = pytester.runpytest("--llm-model=gpt-4o")
    result.assert_outcomes(passed=6)
    assert server.call_count == 6
    first = recorded()
    assert len(first) == 6
    assert not any(row["cached"] for row in first)
    result.stdout.fnmatch_lines(["*= llmdrift =*", "calls: 6 live, 0 cached*"])

    result = pytester.runpytest("--llm-model=gpt-4o")
    result.assert_outcomes(passed=6)
    assert server.call_count == 6  # no new call
    again = recorded()
    assert len(again) == 6
    assert all(row["cached"] for row in again)
    assert sorted(r["text"] for r in again) == sorted(r["text"] for r in first)
    result.stdout.fnmatch_lines(["calls: 0 live, 6 cached*"])


def test_one_item_per_model_with_the_model_in_the_id(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(
        """
        def test_ask(llm):
            reply = llm("hello")
            assert reply.requested_model == llm.model
            assert reply.model == llm.model

        def test_no_llm():
            pass
        """
    )
    result = pytester.runpytest(
        "-v",
        "--llm-model=gpt-4o",
        "--llm-model=claude-3-5-haiku-20241022",
        "--llm-model=openai:llama3.1:8b",
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        [
            "*test_ask?gpt-4o? PASSED*",
            "*test_ask?claude-3-5-haiku-20241022? PASSED*",
            "*test_ask?openai:llama3.1:8b? PASSED*",
            "*test_no_llm PASSED*",
        ]
    )
    protocols = sorted((r.protocol, r.model) for r in server.requests)
    assert protocols == [
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("openai", "gpt-4o"),
        ("openai", "llama3.1:8b"),
    ]


def test_without_a_model_the_test_errors_saying_how_to_pin_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no model is pinned: pass --llm-model=MODEL*LLMDRIFT_MODEL*"])


def test_env_fallback_pins_the_model(
    pytester: pytest.Pytester, server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMDRIFT_MODEL", "gpt-4o,claude-3-opus")
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(["*test_ask?gpt-4o?*", "*test_ask?claude-3-opus?*"])


def test_ini_pins_the_model_and_the_flag_wins(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makeini("[pytest]\nllm_model = gpt-4o claude-3-opus\n")
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    pytester.runpytest("-v").assert_outcomes(passed=2)
    result = pytester.runpytest("-v", "--llm-model=gpt-4o-mini")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_ask?gpt-4o-mini? PASSED*"])


def test_the_prompt_and_parameters_are_sent_as_given(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(
        """
        def test_ask(llm):
            llm("  Is 7 prime?\\n", system="Answer [Yes] or [No].", temperature=0.0,
                max_tokens=50, seed=7)
            llm([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                 {"role": "user", "content": "c"}])
        """
    )
    pytester.runpytest("--llm-model=gpt-4o", "--llm-model=claude-3-opus").assert_outcomes(passed=2)
    by_protocol = {}
    for r in server.requests:
        by_protocol.setdefault(r.protocol, []).append(r)
    openai_first, openai_second = by_protocol["openai"]
    assert openai_first.body["messages"] == [
        {"role": "system", "content": "Answer [Yes] or [No]."},
        {"role": "user", "content": "  Is 7 prime?\n"},
    ]
    assert openai_first.body["temperature"] == 0.0
    assert openai_first.body["seed"] == 7
    assert openai_first.body["max_tokens"] == 50  # a compatible server gets max_tokens
    assert [m["content"] for m in openai_second.body["messages"]] == ["a", "b", "c"]
    anthropic_first, _ = by_protocol["anthropic"]
    assert anthropic_first.body["system"] == "Answer [Yes] or [No]."
    assert anthropic_first.body["messages"] == [{"role": "user", "content": "  Is 7 prime?\n"}]
    assert anthropic_first.body["max_tokens"] == 50
    assert anthropic_first.body["temperature"] == 0.0  # through extra_body
    assert "seed" not in anthropic_first.body


def test_sample_and_map(pytester: pytest.Pytester, server: ModelServer) -> None:
    server.set_reply(lambda request: f"reply to {request.prompt}")
    pytester.makepyfile(
        """
        def test_sample(llm):
            replies = llm.sample("same prompt", 4, temperature=1.0)
            assert len(replies) == 4
            assert [r.sample for r in replies] == [0, 1, 2, 3]

        def test_map(llm):
            prompts = [f"q{i}" for i in range(10)]
            replies = llm.map(prompts)
            assert [r.text for r in replies] == [f"reply to q{i}" for i in range(10)]
        """
    )
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=2)
    assert server.call_count == 14
    # each sample index is its own cache entry: a re-run calls nothing
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=2)
    assert server.call_count == 14


def test_map_runs_concurrently_up_to_the_limit(pytester: pytest.Pytester, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Each request waits, inside the server, for two others: the nine calls are answered
    # only if they come three at a time (no clock: the timeout only stops a hang).
    three = threading.Barrier(3, timeout=30)

    def reply(request: RecordedRequest) -> str:
        three.wait()
        return "ok"

    with ModelServer(reply=reply) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k" * 20)
        pytester.makepyfile(
            """
            def test_map(llm):
                assert len(llm.map([f"q{i}" for i in range(9)])) == 9
            """
        )
        pytester.runpytest("--llm-model=gpt-4o", "--llm-concurrency=3").assert_outcomes(passed=1)
        assert srv.max_concurrent == 3  # never more than the limit
        assert srv.call_count == 9  # none retried after a broken wait


def test_served_alias_and_fingerprint_are_recorded_and_reported(
    pytester: pytest.Pytester, server: ModelServer, recorded
) -> None:
    server.set_reply(ScriptedReply("ok", model="gpt-4o-2024-08-06", fingerprint="fp_abc"))
    pytester.makepyfile(
        """
        from recorder import record

        def test_ask(llm):
            record(llm("hi"))
        """
    )
    result = pytester.runpytest("--llm-model=gpt-4o")
    result.assert_outcomes(passed=1)
    (row,) = recorded()
    assert (row["model"], row["requested"], row["fingerprint"]) == (
        "gpt-4o-2024-08-06",
        "gpt-4o",
        "fp_abc",
    )
    result.stdout.fnmatch_lines(
        ["*openai:gpt-4o: 1 live*", "*served as gpt-4o-2024-08-06 (fingerprint fp_abc)*alias*"]
    )


def test_served_model_change_against_the_cache_is_reported(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile("def test_ask(llm):\n    llm('hi')\n")
    server.set_reply(ScriptedReply("ok", fingerprint="fp_old"))
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=1)
    server.set_reply(ScriptedReply("ok", fingerprint="fp_new"))
    result = pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=refresh")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*served-model change: openai:gpt-4o: the provider now serves gpt-4o (fingerprint "
            "fp_new); the cache recorded gpt-4o (fingerprint fp_old)*"
        ]
    )


def test_served_model_change_within_a_run_is_reported(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    served = iter(["gpt-4o-2024-05-13", "gpt-4o-2024-08-06"])
    server.set_reply(lambda request: ScriptedReply("ok", model=next(served)))
    pytester.makepyfile("def test_a(llm):\n    llm('a')\n\ndef test_b(llm):\n    llm('b')\n")
    result = pytester.runpytest("--llm-model=gpt-4o", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*WARNING this run's replies (live and cached) came from different served models: "
            "gpt-4o-2024-05-13, gpt-4o-2024-08-06*"
        ]
    )


def test_no_summary_when_the_plugin_was_not_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= llmdrift =*")


def test_disabled_with_no_llmdrift(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:llmdrift", "--help")
    result.stdout.no_fnmatch_line("*--llm-model*")


def test_an_argument_the_sdk_does_not_know_says_so(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile("def test_ask(llm):\n    llm('hi', frobnicate=1)\n")
    result = pytester.runpytest("--llm-model=gpt-4o")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*TypeError: openai does not accept an argument passed to llm()*frobnicate*extra_body*"]
    )
    assert server.call_count == 0
