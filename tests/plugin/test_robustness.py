"""Nothing is lost to bad input: replies that are not valid Unicode, baselines that
cannot be written, option values out of range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmdrift.testing import ModelServer

SUITE = """
from pytest_llmdrift import Reply


def test_live(llm, llm_snapshot):
    reply = llm("say something")
    assert reply.text == "ok \\ufffd end"
    assert reply == llm_snapshot


def test_unwritable(llm_snapshot):
    reply = Reply(text="hand-made \\ud800", model="m", requested_model="m")
    assert reply == llm_snapshot
"""


def test_a_reply_with_a_lone_surrogate_loses_nothing(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    server.set_reply("ok \ud800 end")  # valid JSON ("\ud800"), not valid Unicode
    pytester.makepyfile(test_it=SUITE)
    result = pytester.runpytest(
        "-p", "no:randomly", "--llm-model=openai:gpt-4o", "--snapshot-update", "--llm-report=r.json"
    )
    result.assert_outcomes(passed=1, failed=1)
    # The live reply: cleaned where it entered, said once, cached, recorded, reported.
    result.stdout.fnmatch_lines(
        [
            "*openai:gpt-4o: the provider sent text with lone surrogates*replaced by U+FFFD*",
            "*snapshots: 1 baseline(s) checked or recorded (update run)*",
        ]
    )
    baseline = Path(pytester.path, "__snapshots__", "test_it", "test_live.llmdrift")
    assert "ok \ufffd end\n--- end of reply ---" in baseline.read_text(encoding="utf-8")
    report = json.loads(Path(pytester.path, "r.json").read_text(encoding="utf-8"))
    texts = [item.get("text") for item in report["items"] if item.get("text")]
    assert texts == ["ok \ufffd end"], report["items"]
    # A reply that cannot be written is an error, never "recorded".
    result.stdout.fnmatch_lines(
        ["E*the reply cannot be written as a baseline: it holds a lone surrogate*"]
    )
    assert not Path(pytester.path, "__snapshots__", "test_it", "test_unwritable.llmdrift").exists()
    # The cache kept the reply: a replay run answers without the server.
    calls = server.call_count
    pytester.makepyfile(test_it=SUITE.split("\n\ndef test_unwritable")[0])
    again = pytester.runpytest(
        "-p", "no:randomly", "--llm-model=openai:gpt-4o", "--llm-cache=replay"
    )
    again.assert_outcomes(passed=1)
    assert server.call_count == calls


def test_an_out_of_range_count_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--llm-max-calls=9223372036854775808", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*argument --llm-max-calls: expected a whole number >= 0 and "
            "<= 9223372036854775807, got '9223372036854775808'*"
        ]
    )
