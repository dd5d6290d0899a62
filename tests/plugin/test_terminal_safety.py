"""Nothing from outside drives the terminal: replies, served-model names and
fingerprints are printed with their control characters shown as escapes, while the
baseline and the report keep the exact text."""

from __future__ import annotations

import json

import pytest

from pytest_llmdrift.testing import ModelServer, ScriptedReply

HOSTILE_TEXT = "\x1b]0;pwned\x07\x1b[2JLondon\rParis\x00 \u202eevil"
HOSTILE_MODEL = "gpt-4o\x1b[8m-hidden"
HOSTILE_FINGERPRINT = "fp\x1b]8;;http://evil.example\x07link"
RAW = ("\x1b", "\x07", "\x00", "\r", "\u202e")


def test_hostile_replies_and_served_names_are_printed_escaped(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    pytester.makepyfile(
        """
        def test_capital(llm, llm_snapshot):
            assert llm("capital of France?") == llm_snapshot
        """
    )
    server.set_reply("Paris is the capital of France.")
    pytester.runpytest("--llm-model=gpt-4o", "--snapshot-update").assert_outcomes(passed=1)
    server.set_reply(
        ScriptedReply(HOSTILE_TEXT, model=HOSTILE_MODEL, fingerprint=HOSTILE_FINGERPRINT)
    )
    result = pytester.runpytest(
        "--llm-model=gpt-4o", "--llm-cache=refresh", "--llm-report=r.json", "-rA"
    )
    result.assert_outcomes(failed=1)
    output = "\n".join(result.outlines + result.errlines)
    for char in RAW:
        assert char not in output, f"{char!r} printed raw"
    # What it was is still readable, as escapes: in the drift message and the summary.
    assert "\\x1b]0;pwned\\x07\\x1b[2JLondon\\rParis\\x00 \\u202eevil" in output
    assert "DriftError: the reply drifted from its baseline" in output
    assert "current:  gpt-4o (served gpt-4o\\x1b[8m-hidden), fingerprint fp\\x1b]8;;" in output
    summary = output.split(" llmdrift ")[-1]
    assert "served as gpt-4o\\x1b[8m-hidden (fingerprint fp\\x1b]8;;http" in summary
    assert "served-model change against the baseline" in summary
    assert "DRIFT " in summary
    # The report keeps the exact text.
    report = json.loads((pytester.path / "r.json").read_text())
    (item,) = report["items"] if isinstance(report["items"], list) else report["items"].values()
    assert item["replies"][0]["text"] == HOSTILE_TEXT
    assert item["replies"][0]["served_model"] == HOSTILE_MODEL
