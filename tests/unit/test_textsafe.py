"""Everything the plugin prints goes through printable(): no escape reaches a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmdrift.textsafe import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),  # OSC: retitle the terminal
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("ok\rFAIL", "ok\\rFAIL"),  # a carriage return hiding a line
        ("nul\x00", "nul\\x00"),
        ("csi\x9b31m", "csi\\x9b31m"),  # a C1 control
        ("abc\u202edcba", "abc\\u202edcba"),  # a bidi override
        ("lone \ud800", "lone \\ud800"),  # cannot be encoded
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("plain: café ✓", "plain: café ✓"),
    ],
)
def test_control_characters_become_visible_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_one_line_text_escapes_newlines_too() -> None:
    assert printable("a\nb\r\n", newlines=False) == "a\\nb\\r\\n"


@given(st.text())
def test_printable_text_has_no_control_characters(text: str) -> None:
    out = printable(text, newlines=False)
    assert all(ch == "\t" or (ch >= " " and not "\x7f" <= ch <= "\x9f") for ch in out)
    out.encode("utf-8")  # no lone surrogate left
