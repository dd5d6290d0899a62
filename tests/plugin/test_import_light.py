"""The plugin costs nothing to runs that do not use it, and a cached run imports no SDK.

Each run is a fresh ``python -m pytest`` subprocess, so ``sys.modules`` tells the truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmdrift.testing import ModelServer

HEAVY = ("openai", "anthropic", "httpx2", "diskcache", "hypothesis", "jinja2", "rapidfuzz")
DUMP = """
import json, sys
def pytest_unconfigure(config):
    with open("modules.json", "w") as f:
        json.dump(sorted(m.split(".")[0] for m in sys.modules), f)
"""


def run_pytest(path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=path,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return set(json.loads((path / "modules.json").read_text()))


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    pytester.makeconftest(DUMP)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    return pytester.path


@pytest.mark.hypothesis_plugin  # the runs measure with and without it
def test_a_run_without_llm_tests_imports_nothing_heavy(project: Path) -> None:
    # hypothesis's own pytest plugin imports hypothesis; measure ours without it...
    loaded = run_pytest(project, "-p", "no:hypothesispytest")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "pytest_llmdrift" in loaded  # ...and the plugin was really there
    # ...and with it, our plugin adds nothing heavy to what the run already had.
    without = run_pytest(project, "-p", "no:llmdrift")
    with_plugin = run_pytest(project)
    assert not (with_plugin - without) & set(HEAVY)


def test_a_run_answered_from_the_cache_imports_no_sdk(project: Path, server: ModelServer) -> None:
    (project / "test_llm.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('n', range(5))\n"
        "def test_ask(llm, n):\n    assert llm(f'q{n}').text == f'echo: q{n}'\n"
    )
    live = run_pytest(project, "--llm-model=gpt-4o", "--llm-model=claude-3-opus")
    assert {"openai", "anthropic"} <= live  # the live run did use the SDKs
    assert server.call_count == 10
    cached = run_pytest(
        project, "--llm-model=gpt-4o", "--llm-model=claude-3-opus", "--llm-report=r.json"
    )
    assert server.call_count == 10
    assert not cached & {"openai", "anthropic", "httpx2"}
    assert "jinja2" not in cached  # the JSON report needs no templates
    replay = run_pytest(
        project,
        "--llm-model=gpt-4o",
        "--llm-cache=replay",
        env={"OPENAI_API_KEY": ""},  # no key: replay never needs one
    )
    assert not replay & {"openai", "anthropic", "httpx2"}
