"""Shared helpers for the example suite."""

import re

import pytest

ANSWER = re.compile(r"\[(Yes|No)\]")


@pytest.fixture
def yes_no():
    """Pull the bracketed [Yes]/[No] answer out of a reply, or None."""

    def extract(text: str) -> str | None:
        match = ANSWER.search(text)
        return match.group(1) if match else None

    return extract
