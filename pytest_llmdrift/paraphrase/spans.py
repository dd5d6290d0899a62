"""Protected spans: the parts of a prompt no paraphrase may touch. Pure.

Numbers, quoted text, code (inline backticks and fenced blocks), ``{placeholders}``,
JSON/bracket blocks and URLs carry a prompt's meaning character for character::

    >>> [kind for _, _, kind in protected_spans('Is 17077 prime? Answer [Yes] or [No].')]
    ['number', 'brace', 'brace']

Transforms work on *masked* text, in which every span is replaced by a three-character
token of private-use characters that no casing, typo or synonym rule can alter.
"""

from __future__ import annotations

import json
import re

__all__ = [
    "SPAN_KINDS",
    "TOKEN_PATTERN",
    "mask",
    "protected_spans",
    "spans_preserved",
    "token",
    "unmask",
]

SPAN_KINDS = ("fence", "code", "url", "json", "brace", "quote", "number")

_TOKEN_OPEN = "\ue000"
_TOKEN_CLOSE = "\ue001"
_TOKEN_BASE = 0xE100
_TOKEN_MAX = 0xF8FF - _TOKEN_BASE
TOKEN_PATTERN = re.compile(f"{_TOKEN_OPEN}[\ue100-\uf8ff]{_TOKEN_CLOSE}")

_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_URL = re.compile(r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]")
_LSQUO, _RSQUO = "\u2018", "\u2019"  # curly single quotes
_CLOSING_QUOTE = {'"': '"', "\u201c": "\u201d", "'": "'", _LSQUO: _RSQUO}
_OPENERS = {"{": "}", "[": "]"}


def token(index: int) -> str:
    """The masked stand-in for span number ``index``."""
    if not 0 <= index <= _TOKEN_MAX:
        raise ValueError(f"a prompt may hold at most {_TOKEN_MAX + 1} protected spans")
    return f"{_TOKEN_OPEN}{chr(_TOKEN_BASE + index)}{_TOKEN_CLOSE}"


def _balanced(text: str, start: int) -> int | None:
    """End (exclusive) of the bracket block opening at ``start``, or None if it does
    not close. Brackets inside double-quoted strings do not count."""
    stack = [_OPENERS[text[start]]]
    i = start + 1
    in_string = False
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in _OPENERS:
            stack.append(_OPENERS[c])
        elif c in "}]":
            if c != stack.pop():
                return None
            if not stack:
                return i + 1
        i += 1
    return None


def _quote_end(text: str, start: int) -> int | None:
    """End (exclusive) of the quotation opening at ``start``, or None when the quote
    mark is not clearly an opening one (an apostrophe as in don't, or unclosed)."""
    opener = text[start]
    closer = _CLOSING_QUOTE[opener]
    if opener in ("'", _LSQUO):
        # A single quote opens a quotation only at the start of a word and when a
        # matching mark closes it at the end of a word, on the same line.
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in ("'", _RSQUO)):
            return None
        if start + 1 >= len(text) or text[start + 1].isspace():
            return None
        i = start + 1
        while i < len(text) and text[i] != "\n":
            if text[i] == closer and not text[i - 1].isspace():
                after = text[i + 1] if i + 1 < len(text) else " "
                if not after.isalnum():
                    return i + 1
            i += 1
        return None
    end = text.find(closer, start + 1)
    return None if end < 0 else end + 1


def _number_end(text: str, start: int) -> int:
    match = _NUMBER.match(text, start)
    assert match is not None  # text[start] is a digit
    return match.end()


def protected_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` for every protected span of ``text``, sorted and
    non-overlapping. Kinds: ``fence`` (a ````` ``` ````` block, to the end of the text
    when unclosed), ``code`` (inline backticks), ``url``, ``json`` (a bracket block
    that parses as JSON), ``brace`` (any other balanced ``{...}``/``[...]`` block,
    e.g. a ``{placeholder}`` or ``[Yes]``), ``quote`` (``"..."``, ``“...”``, and
    single quotes (straight or curly) when clearly a quotation) and ``number`` (``17077``, ``-3``,
    ``2.5e3``, ``1,000``)."""
    spans: list[tuple[int, int, str]] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        end: int | None = None
        kind = ""
        if text.startswith("```", i):
            close = text.find("```", i + 3)
            end, kind = (n if close < 0 else close + 3), "fence"
        elif c == "`":
            close = text.find("`", i + 1)
            if close > i + 1:
                end, kind = close + 1, "code"
        elif c == "h" and (m := _URL.match(text, i)) and (i == 0 or not text[i - 1].isalnum()):
            end, kind = m.end(), "url"
        elif c in _OPENERS:
            end = _balanced(text, i)
            if end is not None:
                kind = "json" if _is_json(text[i:end]) else "brace"
        elif c in _CLOSING_QUOTE:
            end = _quote_end(text, i)
            kind = "quote"
        elif c.isdigit():
            end, kind = _number_end(text, i), "number"
        elif (
            c in "-+"
            and i + 1 < n
            and text[i + 1].isdigit()
            # A sign, not a hyphen as in "5-3" or "gpt-4".
            and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_)]."))
        ):
            end, kind = _number_end(text, i + 1), "number"
        if end is not None and end > i:
            spans.append((i, end, kind))
            i = end
        else:
            i += 1
    return spans


def _is_json(block: str) -> bool:
    try:
        value = json.loads(block)
    except ValueError:
        return False
    return isinstance(value, dict | list)


def mask(text: str) -> tuple[str, list[str]]:
    """Replace every protected span by a token; returns the masked text and the
    spans' texts (token ``i`` stands for ``spans[i]``)."""
    parts: list[str] = []
    spans: list[str] = []
    last = 0
    for start, end, _ in protected_spans(text):
        parts.append(text[last:start])
        parts.append(token(len(spans)))
        spans.append(text[start:end])
        last = end
    parts.append(text[last:])
    return "".join(parts), spans


def unmask(masked: str, spans: list[str]) -> str:
    """Put the spans back in place of their tokens."""

    def put_back(match: re.Match[str]) -> str:
        index = ord(match.group(0)[1]) - _TOKEN_BASE
        if index >= len(spans):
            raise ValueError(f"unknown protected-span token #{index} in a masked text")
        return spans[index]

    return TOKEN_PATTERN.sub(put_back, masked)


def tokens_intact(masked: str, count: int) -> bool:
    """Whether a masked text still holds each of the ``count`` tokens exactly once
    (in any order: moving a sentence moves its spans) and no stray token halves."""
    found = [ord(m.group(0)[1]) - _TOKEN_BASE for m in TOKEN_PATTERN.finditer(masked)]
    if sorted(found) != list(range(count)):
        return False
    rest = TOKEN_PATTERN.sub("", masked)
    return _TOKEN_OPEN not in rest and _TOKEN_CLOSE not in rest


def spans_preserved(template: str, variant: str) -> bool:
    """Whether every protected span of ``template`` appears unchanged in ``variant``,
    each at its own place (a span repeated twice must appear twice). Order is free:
    moving an instruction sentence to the front moves its spans with it. A number
    must stand on its own (``17077`` is not found inside ``170771``)."""
    claimed: list[tuple[int, int]] = []
    spans = protected_spans(template)
    # Longest first, so a short span cannot claim a place inside a longer one's.
    for start, end, kind in sorted(spans, key=lambda s: s[0] - s[1]):
        needle = template[start:end]
        pos = variant.find(needle)
        while pos >= 0:
            stop = pos + len(needle)
            free = all(stop <= a or pos >= b for a, b in claimed)
            alone = kind != "number" or (
                (pos == 0 or not variant[pos - 1].isdigit())
                and (stop == len(variant) or not variant[stop].isdigit())
            )
            if free and alone:
                claimed.append((pos, stop))
                break
            pos = variant.find(needle, pos + 1)
        else:
            return False
    return True
