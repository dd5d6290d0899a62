"""Shared fixtures: the loopback model server and xdist parametrisation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic  # noqa: F401
import diskcache  # noqa: F401
import httpcore2  # noqa: F401
import openai  # noqa: F401
import pytest

from pytest_llmdrift.testing import ModelServer

# The SDKs (and the httpx2/httpcore2 they use) are imported here, before any
# in-process pytester run: pytester restores sys.modules after each run, and an SDK
# first imported inside one would be re-imported afterwards as new module objects,
# so httpx2 would no longer recognise httpcore2's exceptions (it imports httpcore2
# lazily, when the first client is made).

TEST_KEY = "test-openai-key-llmdrift-0123456789"
ANTHROPIC_TEST_KEY = "test-anthropic-key-llmdrift-0123456789"
PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "LLMDRIFT_MODEL",
)


@pytest.fixture(autouse=True)
def _isolated_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real keys or base URLs."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "hypothesis_plugin: the test's pytester runs load Hypothesis's own pytest plugin",
    )


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """Inner runs without Hypothesis's pytest plugin, unless the test is marked
    ``hypothesis_plugin``.

    That plugin imports all of Hypothesis in every process at the end of a run (about
    a second of CPU each): for a ``-n 2`` run, in both workers. Nothing the plugin
    under test does goes through it; tests/plugin/test_paraphrases.py (Hypothesis
    searches) and the import-cost test keep it (they are marked), and the example suite
    runs in its own clean subprocess. PYTEST_ADDOPTS reaches in-process runs,
    subprocess runs and xdist workers alike (pytester clears it when it starts, so it
    is set after).
    """
    if request.node.get_closest_marker("hypothesis_plugin") is None:
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    return pytester


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelServer]:
    """A loopback model server, with the SDKs' environment pointing at it."""
    with ModelServer(reply=None) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.anthropic_base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_TEST_KEY)
        yield srv


@pytest.fixture(params=[pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="xdist")])
def xdist_args(request: pytest.FixtureRequest) -> list[str]:
    return list(request.param)


RECORDER = """
import json, os
from pathlib import Path

def record(reply, **extra):
    line = json.dumps({"text": reply.text, "cached": reply.cached, "model": reply.model,
                       "requested": reply.requested_model, "fingerprint": reply.fingerprint,
                       **extra})
    with open(Path(__file__).parent / "replies.jsonl", "a") as f:
        f.write(line + "\\n")
"""


@pytest.fixture
def recorded(pytester: pytest.Pytester):  # type: ignore[no-untyped-def]
    """Inner tests call ``record(reply)``; this returns what they recorded (and resets)."""
    pytester.makepyfile(recorder=RECORDER)
    path = Path(pytester.path) / "replies.jsonl"

    def read() -> list[dict[str, object]]:
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.unlink()
        return rows

    return read
