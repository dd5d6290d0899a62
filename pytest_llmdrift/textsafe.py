"""Text that is safe to print on a terminal. Pure.

Replies, served-model names, fingerprints, prompts and provider error messages come
from outside: printed raw, an escape sequence in them could retitle the terminal
(OSC), clear the screen, hide a line behind a carriage return or smuggle a hyperlink.
Everything the plugin prints goes through :func:`printable`; files (baselines,
reports, the cache) keep the exact text.
"""

from __future__ import annotations

import re

# C0 controls (but tab and newline, handled below), DEL, C1 controls, and the
# Unicode marks that reorder or hide text (bidi overrides/isolates, line and
# paragraph separators), and lone surrogates (which cannot be encoded).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_UNSAFE_OR_NEWLINE = re.compile(_UNSAFE.pattern[:-1] + "\n]")


_NAMED = {"\r": "\\r", "\n": "\\n"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: object, *, newlines: bool = True) -> str:
    """``text`` with every control character shown as a visible escape (``ESC`` ->
    ``\\x1b``); tabs are kept, and newlines too unless ``newlines=False`` (for text
    that must stay on one line)."""
    pattern = _UNSAFE if newlines else _UNSAFE_OR_NEWLINE
    return pattern.sub(_escape, str(text))
