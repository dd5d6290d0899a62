"""syrupy's private members behind llm_snapshot, and how baselines are written and read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from syrupy.data import Snapshot, SnapshotCollection

from pytest_llmdrift import syrupy_compat
from pytest_llmdrift.snapshot import (
    END_MARKER,
    LLMDriftExtension,
    SnapshotFormatError,
    SnapshotRecord,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_syrupy_has_every_member_the_adapter_uses() -> None:
    missing = syrupy_compat.missing_members()
    assert not missing, (
        f"syrupy {syrupy_compat.syrupy_version()} changed members pytest-llmdrift uses "
        f"through pytest_llmdrift/syrupy_compat.py: {', '.join(missing)}. Adapt the adapter "
        "and the syrupy pin in pyproject.toml."
    )
    assert syrupy_compat.syrupy_version() in SpecifierSet(syrupy_compat.SUPPORTED)


def test_the_pin_in_pyproject_is_the_supported_range() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert f'"syrupy{syrupy_compat.SUPPORTED}"' in text


def test_a_missing_member_is_named_with_the_version() -> None:
    class Session:  # a syrupy session without ran_item
        pass

    class Config:
        _syrupy = Session()

    with pytest.raises(syrupy_compat.SyrupyIncompatible) as info:
        syrupy_compat.mark_item_skipped(Config(), "test_x.py::test_x")
    message = str(info.value)
    assert f"syrupy {syrupy_compat.syrupy_version()} has no Session.ran_item" in message
    assert f"syrupy{syrupy_compat.SUPPORTED}" in message


def test_missing_members_lists_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        syrupy_compat,
        "PRIVATE_MEMBERS",
        (
            ("syrupy.session", "SnapshotSession", ("ran_item", "no_such_member")),
            ("syrupy.assertion", "AssertionResult", ("exception",)),
            ("syrupy.nowhere", "Gone", ("x",)),
        ),
    )
    assert syrupy_compat.missing_members() == [
        "syrupy.session.SnapshotSession.no_such_member",
        "syrupy.nowhere.Gone",
    ]


# -- writing: whole or not at all ---------------------------------------------------------
def write(path: Path, data: bytes) -> None:
    collection = SnapshotCollection(location=str(path))
    collection.add(Snapshot(name=path.stem, data=data))
    LLMDriftExtension.write_snapshot_collection(snapshot_collection=collection)


def test_a_baseline_is_written_through_a_temporary_file_and_a_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "test_a.llmdrift"
    path.write_bytes(b"old baseline\n")
    path.chmod(0o640)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        renames.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write(path, b"new baseline\n")
    assert path.read_bytes() == b"new baseline\n"
    [(src, dst)] = renames
    assert Path(src).parent == tmp_path
    assert dst == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file keeps its mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_a.llmdrift"]


def test_a_write_that_fails_midway_leaves_the_old_baseline_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "test_a.llmdrift"
    path.write_bytes(b"old baseline\n")

    def crash(fd: int) -> None:  # after the data went to the temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="No space left"):
        write(path, b"new baseline, much longer than the old one\n")
    assert path.read_bytes() == b"old baseline\n"
    assert [p.name for p in tmp_path.iterdir()] == ["test_a.llmdrift"]


def test_a_new_baseline_gets_the_default_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.llmdrift"
    write(path, b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


# -- reading: a cut-off file is told from a shorter reply ---------------------------------
RECORD = SnapshotRecord(text="line one\nline two", model="m", recorded="2026-01-01T00:00:00Z")


def test_a_baseline_ends_with_the_end_line_and_round_trips() -> None:
    text = RECORD.render()
    assert text.endswith(f"\nline two\n{END_MARKER}\n")
    assert SnapshotRecord.parse(text) == RECORD
    assert SnapshotRecord.parse(text.rstrip("\n")) == RECORD  # an editor dropped the last \n
    empty = SnapshotRecord(text="", model="m")
    assert SnapshotRecord.parse(empty.render()) == empty


@pytest.mark.parametrize("cut", [2, 5, len(END_MARKER) + 2, len(END_MARKER) + 8])
def test_a_cut_off_baseline_is_an_error_not_a_shorter_reply(cut: int) -> None:
    text = RECORD.render()
    with pytest.raises(SnapshotFormatError, match="was cut off"):
        SnapshotRecord.parse(text[:-cut], source="__snapshots__/t/test_a.llmdrift")


def test_a_format_1_baseline_still_reads() -> None:
    old = (
        "# pytest-llmdrift baseline (llmdrift-snapshot/1); the reply follows the "
        "'--- reply ---' line.\n"
        "# Re-record with: pytest --snapshot-update --llm-model=MODEL\n"
        'model: "m"\n'
        'recorded: "2026-01-01T00:00:00Z"\n'
        "--- reply ---\n"
        "line one\nline two\n"
    )
    assert SnapshotRecord.parse(old) == RECORD


def test_errors_syrupy_swallowed_are_named_in_the_failure() -> None:
    from pytest_llmdrift.errors import ProviderError
    from pytest_llmdrift.scorers import ScoreContext, exact
    from pytest_llmdrift.snapshot import Comparison, SnapshotIOError, _fresh, _snapshot_io_error

    def comparison(update: bool) -> Comparison:
        found = Comparison(scorer=exact(), update=update, context=ScoreContext())
        found.location = "__snapshots__/t/test_a.llmdrift"
        return found

    full = OSError(28, "No space left on device")
    written = _snapshot_io_error(full, comparison(update=True))
    assert isinstance(written, SnapshotIOError)
    assert str(written) == (
        "the baseline at __snapshots__/t/test_a.llmdrift could not be written: OSError: "
        "[Errno 28] No space left on device; nothing was recorded"
    )
    assert "could not be read: PermissionError" in str(
        _snapshot_io_error(PermissionError("denied"), comparison(update=False))
    )
    # A judge that could not answer stays itself: the report counts no verdict.
    judge = ProviderError("HTTP 500\x1b[2J", provider="openai", model="judge")
    assert _snapshot_io_error(judge, comparison(update=False)) is judge
    fresh = _fresh(judge)  # what is raised: same type and fields, printable text
    assert (type(fresh), fresh.provider, fresh.model) == (ProviderError, "openai", "judge")
    assert "\x1b" not in str(fresh)
    assert fresh.__traceback__ is None
    own = SnapshotFormatError("bad file")
    assert _snapshot_io_error(own, comparison(update=True)) is own
