"""`llmdrift cache stats|clear|export|import`, and the replay hand-off to CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmdrift.cli import main
from pytest_llmdrift.testing import ModelServer

TESTS = """
import pytest

@pytest.mark.parametrize("n", range(4))
def test_ask(llm, n):
    assert llm(f"q{n}").text == f"echo: q{n}"
"""


@pytest.fixture
def recorded_project(pytester: pytest.Pytester, server: ModelServer, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    pytester.makepyfile(test_q=TESTS)
    pytester.runpytest("--llm-model=gpt-4o").assert_outcomes(passed=4)
    monkeypatch.chdir(pytester.path)
    return pytester.path


def test_stats(recorded_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert "replies: 4" in out
    assert "openai:gpt-4o: 4" in out


def test_export_import_hands_a_cache_to_a_keyless_replay_run(
    recorded_project: Path,
    pytester: pytest.Pytester,
    server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cache", "export", "-o", "llm-cache.jsonl"]) == 0
    exported = (recorded_project / "llm-cache.jsonl").read_text()
    assert main(["cache", "export", "-o", "again.jsonl"]) == 0
    assert (recorded_project / "again.jsonl").read_text() == exported  # deterministic

    assert main(["cache", "clear"]) == 0
    assert "removed 4 entries" in capsys.readouterr().out
    # CI: no key, only the committed export (the endpoint is part of the key, so it
    # stays what it was when the replies were recorded).
    monkeypatch.delenv("OPENAI_API_KEY")
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=replay").assert_outcomes(failed=4)
    assert main(["cache", "import", "llm-cache.jsonl"]) == 0
    pytester.runpytest("--llm-model=gpt-4o", "--llm-cache=replay").assert_outcomes(passed=4)
    assert server.call_count == 4


def test_import_of_a_bad_file_fails_and_changes_nothing(
    recorded_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (recorded_project / "bad.jsonl").write_text('{"format": "something-else"}\n')
    assert main(["cache", "import", "bad.jsonl"]) == 1
    err = capsys.readouterr().err
    assert "not an llmdrift cache export" in err
    assert "llmdrift cache export" in err
    main(["cache", "stats"])
    assert "replies: 4" in capsys.readouterr().out


def test_cache_dir_flag_and_missing_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "stats", "--cache-dir", str(tmp_path / "nope")]) == 0
    assert "no cache at" in capsys.readouterr().err
    assert main(["cache", "export", "--cache-dir", str(tmp_path / "nope"), "-o", "x"]) == 1


def test_console_script_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_llmdrift.cli", "cache", "frobnicate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_the_cache_is_found_from_a_subdirectory(
    recorded_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = recorded_project / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert main(["cache", "stats"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {recorded_project / '.llmdrift' / 'cache'}" in out
    assert "replies: 4" in out


def test_a_tampered_row_in_a_real_run_then_prune_unused(
    recorded_project: Path,
    pytester: pytest.Pytester,
    server: ModelServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 10: a row pointing at a file outside the cache neither deletes nor
    serves it, and the summary says so; then `prune --unused` keeps what this last
    run used."""
    import sqlite3

    victim = recorded_project.parent / "victim.txt"
    victim.write_text("precious")
    db = sqlite3.connect(recorded_project / ".llmdrift" / "cache" / "cache.db")
    db.execute(
        "UPDATE Cache SET mode = 3, value = NULL, filename = ? WHERE value LIKE '%\"q0\"%'",
        (str(victim),),
    )
    db.commit()
    db.close()
    calls = server.call_count
    result = pytester.runpytest("--llm-model=gpt-4o", "-k", "not 3")
    result.assert_outcomes(passed=3)
    assert victim.read_text() == "precious"
    result.stdout.fnmatch_lines(["ALARM cache: *tampered*outside the cache directory*"])
    assert server.call_count == calls + 1  # the dropped reply was asked again
    capsys.readouterr()  # the in-process run above printed to the captured stdout

    assert main(["cache", "prune", "--unused", "--dry-run"]) == 0
    assert "would remove 1 replies" in capsys.readouterr().out
    assert main(["cache", "prune", "--unused"]) == 0
    assert main(["cache", "stats"]) == 0
    assert "replies: 3" in capsys.readouterr().out
