"""Every use of syrupy's private members, in one place.

``llm_snapshot`` is a syrupy extension, and a few things it needs are not public
API: the single-file extension's file-name helpers and write mode, the session that
``syrupy`` keeps on ``config._syrupy`` (to mark an item's baseline as used), and the
result syrupy records for each assertion (it swallows errors raised while
serializing or writing a snapshot and keeps them there). They are all reached
through this module, so a syrupy release that changes them breaks here, with a
message naming the member and the installed version, and
``tests/unit/test_syrupy_compat.py`` fails loudly before a user sees anything.

Supported: syrupy :data:`SUPPORTED` (the pin in ``pyproject.toml``).
"""

from __future__ import annotations

import dataclasses
import importlib
from importlib import metadata
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from pytest_llmdrift.errors import LLMDriftError

SUPPORTED = ">=7.0,<8"

__all__ = [
    "SUPPORTED",
    "SingleFileSnapshotExtension",
    "SyrupyIncompatible",
    "WriteMode",
    "assertion_error",
    "mark_item_skipped",
    "matches_snapshot_site",
    "max_stem_length",
    "missing_members",
    "sanitize_filename",
    "snapshot_stem",
]

# (module, class, members): what this module reaches into. Dataclass fields count
# as members.
PRIVATE_MEMBERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "syrupy.extensions.single_file",
        "SingleFileSnapshotExtension",
        ("_write_mode", "_sanitize_filename", "_max_stem_length", "_snapshot_stem"),
    ),
    ("syrupy.extensions.single_file", "WriteMode", ("BINARY",)),
    ("syrupy.location", "PyTestLocation", ("item", "matches_snapshot_site")),
    ("syrupy.session", "SnapshotSession", ("ran_item",)),
    ("syrupy.assertion", "SnapshotAssertion", ("executions", "num_executions")),
    ("syrupy.assertion", "AssertionResult", ("exception",)),
)


class SyrupyIncompatible(LLMDriftError):
    """The installed syrupy lacks a member pytest-llmdrift relies on."""


def syrupy_version() -> str:
    try:
        return metadata.version("syrupy")
    except metadata.PackageNotFoundError:  # pragma: no cover - syrupy is a dependency
        return "unknown"


def _incompatible(member: str) -> SyrupyIncompatible:
    return SyrupyIncompatible(
        f"pytest-llmdrift needs syrupy{SUPPORTED}, but syrupy {syrupy_version()} has no "
        f"{member}; install a supported syrupy (pip install 'syrupy{SUPPORTED}')"
    )


def missing_members() -> list[str]:
    """The members of :data:`PRIVATE_MEMBERS` the installed syrupy lacks, as
    ``module.Class.member`` (empty when everything is there)."""
    missing = []
    for module_name, class_name, members in PRIVATE_MEMBERS:
        try:
            owner = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{class_name}")
            continue
        fields = (
            {f.name for f in dataclasses.fields(owner)}
            if dataclasses.is_dataclass(owner)
            else set()
        )
        missing.extend(
            f"{module_name}.{class_name}.{member}"
            for member in members
            if member not in fields and not hasattr(owner, member)
        )
    return missing


def _member(owner: Any, name: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        label = owner.__name__ if isinstance(owner, type) else type(owner).__name__
        raise _incompatible(f"{label}.{name}") from None


# -- the single-file extension's file-name helpers ----------------------------------------
def sanitize_filename(extension: type[SingleFileSnapshotExtension], name: str) -> str:
    return str(_member(extension, "_sanitize_filename")(name))


def max_stem_length(extension: type[SingleFileSnapshotExtension]) -> int:
    return int(_member(extension, "_max_stem_length")())


def snapshot_stem(extension: type[SingleFileSnapshotExtension], filename: str) -> str | None:
    stem = _member(extension, "_snapshot_stem")(filename)
    return None if stem is None else str(stem)


def matches_snapshot_site(test_location: Any, snapshot_location: str) -> bool:
    return bool(_member(test_location, "matches_snapshot_site")(snapshot_location))


# -- the session and the assertions -------------------------------------------------------
def mark_item_skipped(config: Any, nodeid: str) -> None:
    """Tell syrupy's session that ``nodeid`` was skipped: its snapshots then count
    neither as used nor as unused (so ``--snapshot-update`` keeps them)."""
    session = getattr(config, "_syrupy", None)  # None when syrupy is disabled
    if session is not None:
        _member(session, "ran_item")(nodeid, "skipped")


def assertion_error(assertion: Any) -> Exception | None:
    """The error syrupy caught during ``assertion``'s last comparison (reading,
    serializing or writing the snapshot), or None. syrupy turns such an error into
    a failed comparison and keeps it aside; an update run would otherwise look as if
    it had written a file it never wrote."""
    count = int(_member(assertion, "num_executions"))
    if count == 0:
        return None
    result = _member(assertion, "executions").get(count - 1)
    if result is None:
        return None
    error = _member(result, "exception")
    return error if isinstance(error, Exception) else None
