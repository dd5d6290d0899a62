"""`llmdrift cache` on damaged, tampered and filtered caches (issue 10), without
pytest runs: the caches are made by the library directly."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmdrift.cache import ResponseCache, cache_key, key_material
from pytest_llmdrift.cli import EXIT_BROKEN_PIPE, main
from pytest_llmdrift.reply import ChatRequest, Reply


def fill(directory: Path, prompts: list[str], model: str = "gpt-4o") -> None:
    cache = ResponseCache(directory, track_use=False)
    for prompt in prompts:
        m = key_material(
            provider="openai",
            endpoint="https://api.openai.com/v1",
            model=model,
            request=ChatRequest.build(prompt, params={}),
            sample=0,
        )
        cache.put(cache_key(m), m, Reply(text="a", model=model, requested_model=model))
    cache.close()


def files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_stats_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    """`llmdrift cache stats | head -1`: the reader is gone before we write."""
    read, write = os.pipe()
    os.close(read)  # no reader at all: the first flush meets a broken pipe
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest_llmdrift.cli",
                "cache",
                "stats",
                "--cache-dir",
                str(tmp_path),
            ],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert result.returncode == EXIT_BROKEN_PIPE
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr


def test_read_only_commands_change_nothing_on_a_corrupt_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"garbage" * 1000)
    (tmp_path / "llm-cache.jsonl").write_text("the good committed export\n")
    before = files(tmp_path)
    assert main(["cache", "stats", "--cache-dir", str(directory)]) == 1
    assert "cannot be read" in capsys.readouterr().err
    out = str(tmp_path / "llm-cache.jsonl")
    assert main(["cache", "export", "--cache-dir", str(directory), "-o", out]) == 1
    assert "nothing was changed" in capsys.readouterr().err
    assert files(tmp_path) == before  # nothing moved aside, the export kept


def test_damage_is_reported_by_stats_refused_by_export_and_removed_by_prune(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b", "c"])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    db = sqlite3.connect(directory / "cache.db")
    db.execute("UPDATE Cache SET raw = 0, key = ? WHERE rowid = 1", (pickle.dumps("x"),))
    db.execute(
        "UPDATE Cache SET mode = 3, value = NULL, filename = ? WHERE rowid = 2", (str(victim),)
    )
    db.commit()
    db.close()
    where = ["--cache-dir", str(directory)]
    assert main(["cache", "stats", *where]) == 1
    captured = capsys.readouterr()
    assert "replies: 1" in captured.out
    assert "2 damaged entries" in captured.err
    assert "pickled key" in captured.err
    assert "outside the cache directory" in captured.err

    export = tmp_path / "llm-cache.jsonl"
    assert main(["cache", "export", *where, "-o", str(export)]) == 1
    assert "prune --damaged" in capsys.readouterr().err
    assert not export.exists()

    assert main(["cache", "prune", *where, "--damaged", "--unused"]) == 2
    assert main(["cache", "prune", *where, "--damaged"]) == 0
    assert "removed 2 damaged entries" in capsys.readouterr().out
    assert victim.read_text() == "precious"
    assert main(["cache", "export", *where, "-o", str(export)]) == 0
    assert "wrote 1 replies" in capsys.readouterr().out


def test_clear_repairs_a_cache_with_a_pickled_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"])
    db = sqlite3.connect(directory / "cache.db")
    db.execute("UPDATE Cache SET raw = 0, key = ? WHERE rowid = 1", (pickle.dumps("x"),))
    db.commit()
    db.close()
    assert main(["cache", "clear", "--cache-dir", str(directory)]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert main(["cache", "stats", "--cache-dir", str(directory)]) == 0
    assert "replies: 0" in capsys.readouterr().out


def test_prune_needs_a_filter_and_reports_per_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"], model="gpt-4o")
    fill(directory, ["a"], model="claude-x")
    where = ["--cache-dir", str(directory)]
    assert main(["cache", "prune", *where]) == 1
    assert "llmdrift cache clear" in capsys.readouterr().err
    assert main(["cache", "prune", *where, "--model", "gpt-4o", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove 2 replies" in out
    assert "  openai:gpt-4o: 2" in out
    assert main(["cache", "prune", *where, "--before", "2999-01-01", "--model", "claude-x"]) == 0
    assert "removed 1 replies" in capsys.readouterr().out
    assert main(["cache", "stats", *where]) == 0
    assert "replies: 2" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "prune", *where, "--before", "yesterday"])
    assert exit_info.value.code == 2
    assert "not a date like" in capsys.readouterr().err
