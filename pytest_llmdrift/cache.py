"""The response cache: a pure key function and JSON-only storage on diskcache.

Values are JSON text, never pickle: diskcache pickles anything that is not str,
bytes or a number, and unpickling a planted cache entry runs code
(CVE-2025-69872). :class:`JSONOnlyDisk` refuses to store or load pickles, so even a
tampered ``cache.db`` cannot execute anything here.

The cache directory is a trust boundary (a restored CI cache may be hostile):

- every value is stored inline in SQLite; a row that names a value file is read only
  when the file is one diskcache made inside the directory (an old cache), and a name
  that leads outside it (an absolute path, ``..``, a symlink) is never opened or
  deleted: the row is dropped and the event raised in :attr:`ResponseCache.alarms`;
- eviction is off, whatever the ``Settings`` table of ``cache.db`` says: only a
  command (``llmdrift cache prune|clear``) removes a reply;
- the commands that only read (``stats``, ``export``) open ``cache.db`` read-only and
  change nothing, damaged or not.

``diskcache`` is imported only when a cache is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_llmdrift.errors import LLMDriftError
from pytest_llmdrift.reply import ChatRequest, JSONDict, Reply, scrub_url

if TYPE_CHECKING:
    import diskcache

T = TypeVar("T")
KEY_VERSION = 1
EXPORT_FORMAT = "llmdrift-cache/1"
_REPLY_PREFIX = "reply:"
_SERVED_PREFIX = "served:"
_DIGEST_PREFIX = "sha256:"
# diskcache modes (diskcache.core.MODE_*), here so that reading needs no diskcache.
_MODE_RAW, _MODE_BINARY, _MODE_TEXT, _MODE_PICKLE = 1, 2, 3, 4
_NO_LIMIT = 2**63 - 1  # SQLite's largest integer
# Forced on every open: diskcache keeps its settings in the ``Settings`` table of
# cache.db and would otherwise take them from an old or tampered cache. No eviction
# and no size limit (a reply is removed only by a command); values always inline
# (so a row naming a file is an old or a tampered one); no statistics (reads stay
# write-free); SQLite pragmas as diskcache's defaults.
_SETTINGS: dict[str, Any] = {
    "eviction_policy": "none",
    "size_limit": _NO_LIMIT,
    "cull_limit": 0,
    "disk_min_file_size": _NO_LIMIT,
    "statistics": 0,
    "tag_index": 0,
    "sqlite_auto_vacuum": 1,
    "sqlite_cache_size": 2**13,
    "sqlite_journal_mode": "wal",
    "sqlite_mmap_size": 2**26,
    "sqlite_synchronous": 1,
}
# The only value files diskcache makes: two levels of hex directories, a hex name.
_VALUE_FILE = re.compile(r"[0-9a-f]{2}[\\/][0-9a-f]{2}[\\/][0-9a-f]{28}\.val")
# Which replies each run used (for `llmdrift cache prune --unused`, `export
# --used-since`): a table of our own in cache.db, which diskcache does not touch.
_USED_TABLE = "llmdrift_used"


class CacheError(LLMDriftError):
    """The cache cannot do what was asked; the message says why and what to do."""


class TamperedEntry(CacheError):
    """A row of ``cache.db`` that llmdrift never writes: a pickle, a value file
    outside the cache directory. Never loaded; dropped without touching the path."""


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (valid in JSON as ``"\\ud800"``, not in
    UTF-8) is encoded as it is, so the bytes of any valid text are unchanged."""
    return text.encode("utf-8", "surrogatepass")


def storable_json(data: Any) -> str:
    """:func:`canonical_json`, unless the data holds a lone surrogate, which SQLite
    and UTF-8 files cannot take: then every non-ASCII character is written as a JSON
    escape, which reads back as the same string."""
    text = canonical_json(data)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text


def key_material(
    *, provider: str, endpoint: str, model: str, request: ChatRequest, sample: int
) -> JSONDict:
    """What a cache key covers: provider, endpoint (base URL), model, the whole
    request and the sample index. Never credentials: they are not in any of these."""
    return {
        "v": KEY_VERSION,
        "provider": provider,
        "endpoint": scrub_url(endpoint),
        "model": model,
        "request": request.to_json(),
        "sample": sample,
    }


def cache_key(material: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(_utf8(canonical_json(material))).hexdigest()
    return _REPLY_PREFIX + digest


def entry_digest(key: str, material: Any, reply: Any) -> str:
    """What an export line's ``digest`` holds: the SHA-256 of the line's key, request
    and reply. It shows an edit; it is not a signature (anyone can recompute it)."""
    data = {"key": key, "material": material, "reply": reply}
    return _DIGEST_PREFIX + hashlib.sha256(_utf8(canonical_json(data))).hexdigest()


def value_file(directory: str | os.PathLike[str], filename: object) -> str | None:
    """The path of the value file a ``cache.db`` row names, or None when the name is
    not one diskcache makes or leads outside ``directory`` (an absolute path, ``..``,
    a symlink out): a tampered row, whose path must be neither read nor deleted."""
    if not isinstance(filename, str) or not _VALUE_FILE.fullmatch(filename):
        return None
    root = os.path.realpath(directory)
    path = os.path.join(root, filename)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        return None
    return path


def _remove_value_file(directory: str, filename: object) -> bool:
    """Delete a value file and its two directories when empty (never anything
    above them); False, touching nothing, when the name leads outside ``directory``."""
    path = value_file(directory, filename)
    if path is None:
        return False
    with contextlib.suppress(OSError):
        os.remove(path)  # a symlink itself, never what it points to
    parent = os.path.dirname(path)
    for folder in (parent, os.path.dirname(parent)):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    return True


def _refused_text(filename: object, directory: Path) -> str:
    return (
        f"a tampered cache row named the file {str(filename)[:80]!r}, outside the cache "
        f"directory {directory}; the row was dropped and the file left alone"
    )


def _fetch_value(directory: str, mode: object, filename: object, value: object) -> str:
    """The text a ``cache.db`` row holds, read the way :class:`JSONOnlyDisk` reads it
    (no diskcache needed): inline text, or a value file inside ``directory``.
    Raises TamperedEntry for a row llmdrift would never write, OSError/ValueError for
    a value that cannot be read."""
    if mode == _MODE_RAW:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, str):
            return value
        raise ValueError(f"not JSON text ({type(value).__name__})")
    if mode in (_MODE_TEXT, _MODE_BINARY):
        path = value_file(directory, filename)
        if path is None:
            raise TamperedEntry(
                f"the cache was tampered with: the entry names the file {str(filename)[:80]!r}, "
                "outside the cache directory; that file was not read or deleted"
            )
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    if mode == _MODE_PICKLE:
        raise TamperedEntry("refusing to unpickle a cache value (the cache was tampered with)")
    raise TamperedEntry(f"unknown storage mode {mode!r} (the cache was tampered with)")


def _json_only_disk() -> type[diskcache.Disk]:
    import diskcache

    class JSONOnlyDisk(diskcache.Disk):  # type: ignore[misc]
        """A diskcache Disk that stores text only, never unpickles, and never reads
        or deletes a file outside the cache directory (those paths are collected in
        :attr:`refused` instead)."""

        def __init__(self, directory: str, **kwargs: Any) -> None:
            super().__init__(directory, **kwargs)
            self.refused: list[str] = []

        def put(self, key: Any) -> tuple[Any, bool]:
            if not isinstance(key, str):
                raise TypeError("llmdrift cache keys are strings")
            return super().put(key)  # type: ignore[no-any-return]

        def get(self, key: Any, raw: bool) -> Any:
            if not raw:
                raise CacheError("refusing to unpickle a cache key (the cache was tampered with)")
            return super().get(key, raw)

        def store(self, value: Any, read: bool, key: Any = None) -> Any:
            if read or not isinstance(value, str):
                raise TypeError("llmdrift cache values are JSON text")
            return super().store(value, read, key=key)

        def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
            if read:
                raise TypeError("llmdrift cache values are read as text")
            return _fetch_value(self._directory, mode, filename, value)

        def remove(self, file_path: str) -> None:
            """Delete a value file; a name that leads outside the cache directory is
            not touched, only remembered."""
            if not _remove_value_file(self._directory, file_path):
                self.refused.append(str(file_path))

    return JSONOnlyDisk


@dataclass
class CacheStats:
    entries: int = 0
    size_bytes: int = 0
    models: dict[str, int] = field(default_factory=dict)
    # One line per entry that could not be read (what `stats` reports as damage).
    damaged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """A reply as the management commands see it: read-only, with its use marks."""

    key: str
    data: JSONDict
    used_run: str | None = None
    used_at: float | None = None

    @property
    def model(self) -> str:
        material = self.data.get("material")
        if not isinstance(material, dict):
            return "?:?"
        return f"{material.get('provider', '?')}:{material.get('model', '?')}"

    def matches_model(self, spec: str) -> bool:
        """Whether this reply is of ``spec``, ``[provider:]name`` as given to
        --llm-model (``gpt-4o`` and ``openai:gpt-4o`` both match)."""
        provider, _, name = self.model.partition(":")
        return spec in (name, f"{provider}:{name}")

    @property
    def stored_at(self) -> float:
        stored = self.data.get("stored_at")
        return float(stored) if isinstance(stored, int | float) else 0.0


@dataclass
class Contents:
    """Everything a read-only pass over ``cache.db`` found."""

    entries: list[Entry] = field(default_factory=list)
    served: list[tuple[str, JSONDict]] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    last_run: str | None = None
    size_bytes: int = 0


class ResponseCache:
    """Replies on disk under ``directory``, safe to share between processes.

    Opening is lazy and happens once; a directory that cannot be opened as a cache
    (a corrupt ``cache.db``) is moved aside to ``<dir>.corrupt-<time>`` and a fresh
    cache is made in its place. What happened is appended to :attr:`notices`; the
    serious events among them (a cache moved aside, tampered rows dropped) are also
    appended to :attr:`alarms`, for a louder report.

    The keys read or written are remembered (in memory) and marked used by
    ``run_id`` in one transaction on :meth:`close`, when ``track_use`` is set: the
    run id is the one given (the plugin passes xdist's test-run id, the same in every
    worker of one run), else one per cache object.
    """

    def __init__(
        self, directory: Path, *, track_use: bool = True, run_id: str | None = None
    ) -> None:
        self.directory = Path(directory)
        self.notices: list[str] = []
        self.alarms: list[str] = []
        self._cache: diskcache.Cache | None = None
        self._track_use = track_use
        self.run_id = run_id or uuid.uuid4().hex
        self._used: set[str] = set()

    # -- opening -------------------------------------------------------------
    @property
    def _store(self) -> diskcache.Cache:
        if self._cache is None:
            self._cache = self._open()
        return self._cache

    def _open(self) -> diskcache.Cache:
        import diskcache

        if self.directory.exists() and not self.directory.is_dir():
            raise CacheError(
                f"the response cache directory {self.directory} is a file; pass "
                "--llm-cache-dir=DIR with a directory (it is made if missing)"
            )
        disk = _json_only_disk()
        try:
            return diskcache.Cache(str(self.directory), disk=disk, **_SETTINGS)
        except OSError as exc:
            raise CacheError(
                f"cannot make the response cache at {self.directory}: {exc}. Pass "
                "--llm-cache-dir=DIR with a writable directory, or --llm-cache=off."
            ) from exc
        except (sqlite3.DatabaseError, CacheError) as exc:
            if not _is_corruption(exc):
                raise CacheError(
                    f"cannot open the response cache at {self.directory}: {exc}. Check that "
                    "the directory is writable, pass --llm-cache-dir=DIR to use another one, "
                    "or --llm-cache=off to run without a cache."
                ) from exc
            moved = self._move_aside(exc)
        try:
            return diskcache.Cache(str(self.directory), disk=disk, **_SETTINGS)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise CacheError(
                f"cannot open the response cache at {self.directory} ({exc}); "
                f"the old one was moved to {moved}. Pass --llm-cache-dir=DIR to use another "
                "directory or --llm-cache=off to run without a cache."
            ) from exc

    def _move_aside(self, error: BaseException) -> Path:
        """Move a corrupt cache directory out of the way, once, even with several
        processes racing: under a lock, and only if it is still unreadable."""

        with directory_lock(self.directory.parent):
            if _healthy(self.directory):  # another process replaced it while we waited
                return self.directory
            stamp = time.strftime("%Y%m%d-%H%M%S")
            target = self.directory.with_name(
                f"{self.directory.name}.corrupt-{stamp}-{os.getpid()}"
            )
            os.replace(self.directory, target)
        self._alarm(
            f"the response cache at {self.directory} was corrupt ({error}); "
            f"moved it to {target} and started an empty one"
        )
        return target

    def _alarm(self, text: str) -> None:
        self.notices.append(text)
        self.alarms.append(text)

    def close(self) -> None:
        """Write the use marks (one transaction) and close the store."""
        if self._cache is not None:
            if self._used and self._track_use:
                try:
                    _write_marks(self.directory, self.run_id, sorted(self._used))
                except sqlite3.Error as exc:
                    self.notices.append(
                        f"could not record which cached replies this run used ({exc}); "
                        "`llmdrift cache prune --unused` will not know about this run"
                    )
            self._used.clear()
            self._cache.close()
            self._cache = None

    def _set(self, key: str, text: str) -> None:
        self._guarded(lambda store: store.set(key, text))

    def _guarded(self, operation: Callable[[diskcache.Cache], T]) -> T:
        """Run ``operation`` on the store; damage found only now (a page of
        ``cache.db`` corrupt behind a sound header) is handled like damage found on
        opening: the directory is moved aside, a fresh cache made, and the operation
        retried once."""
        try:
            return operation(self._store)
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise CacheError(f"the response cache at {self.directory} failed: {exc}") from exc
            self.close()
            self._move_aside(exc)
            return operation(self._store)

    # -- replies ---------------------------------------------------------------
    def get(self, key: str) -> Reply | None:
        """The cached reply for ``key``, or None. A damaged entry is dropped (noted)."""
        raw = self._read(key)
        if raw is None:
            return None
        try:
            reply = Reply.from_json(raw["reply"]).as_cached()
        except (KeyError, TypeError, ValueError) as exc:
            self._drop(key, exc)
            return None
        self._used.add(key)
        return reply

    def put(self, key: str, material: Mapping[str, Any], reply: Reply) -> None:
        """Store a reply (never an error: callers only pass successful replies)."""
        value = {
            "material": dict(material),
            "reply": {**reply.to_json(), "cached": False},
            "stored_at": time.time(),
        }
        self._set(key, storable_json(value))
        self._used.add(key)

    def _read(self, key: str) -> JSONDict | None:
        self._store  # noqa: B018 - opening errors are not entry errors: let them through
        try:
            text = self._guarded(lambda store: store.get(key))
        except (CacheError, ValueError) as exc:  # a tampered row, undecodable text
            self._drop(key, exc)
            return None
        if text is None:
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self._drop(key, exc)
            return None
        return data

    def _drop(self, key: str, error: BaseException) -> None:
        with contextlib.suppress(Exception):
            self._store.delete(key)
        text = f"dropped a damaged cache entry {key[:19]}... ({error})"
        if isinstance(error, TamperedEntry):
            self._alarm(text)
        else:
            self.notices.append(text)
        self._check_refused(said=text)

    def _check_refused(self, said: str = "") -> None:
        """Raise an alarm for every file path diskcache was stopped from deleting
        (unless ``said`` already names it)."""
        if self._cache is None:
            return
        refused: list[str] = self._cache.disk.refused
        for name in refused:
            if repr(name[:80]) not in said:
                self._alarm(_refused_text(name, self.directory))
        refused.clear()

    # -- served-model identity ---------------------------------------------------
    def served_identity(self, provider: str, endpoint: str, model: str) -> JSONDict | None:
        """What the provider last said it served for ``model``: {"model", "fingerprint"}."""
        return self._read(_served_key(provider, endpoint, model))

    def set_served_identity(
        self, provider: str, endpoint: str, model: str, served: str, fingerprint: str | None
    ) -> None:
        key = _served_key(provider, endpoint, model)
        self._set(key, storable_json({"model": served, "fingerprint": fingerprint}))

    # -- management (the `llmdrift cache` command) ---------------------------------
    def contents(self) -> Contents:
        """Every reply, served-model record and damaged row, read through a read-only
        connection: nothing is changed, moved aside or dropped, whatever is found.
        Raises CacheError when there is no readable ``cache.db``."""
        return read_contents(self.directory)

    def stats(self) -> CacheStats:
        found = self.contents()
        stats = CacheStats(size_bytes=found.size_bytes, damaged=found.damaged)
        for entry in found.entries:
            stats.entries += 1
            stats.models[entry.model] = stats.models.get(entry.model, 0) + 1
        return stats

    def clear(self) -> int:
        """Delete everything, tampered rows included (their files are left alone when
        outside the directory); returns how many replies there were."""
        self._store  # noqa: B018 - opens (a corrupt cache is moved aside first)
        try:
            with _connect(self.directory, read_only=True) as db:
                replies = _count_replies(db)
        except sqlite3.DatabaseError:
            replies = 0  # damage clear() meets is moved aside: nothing of it is left
        self._guarded(lambda store: store.clear())
        with contextlib.suppress(sqlite3.Error), _connect(self.directory) as db:
            db.execute(f"DROP TABLE IF EXISTS {_USED_TABLE}")
        self._check_refused()
        return replies

    def prune(
        self,
        *,
        unused: bool = False,
        before: float | None = None,
        model: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, int]:
        """Remove the replies that match every filter given: not used by the last run
        that used this cache, stored before ``before`` (a timestamp), of ``model``
        (``[provider:]name``). Returns the count removed (or, with ``dry_run``, that
        would be) per ``provider:model``. Served-model records are kept."""
        if not (unused or before is not None or model):
            raise CacheError(
                "prune needs a filter (--unused, --before DATE or --model MODEL); "
                "to remove every reply, use `llmdrift cache clear`"
            )
        found = self.contents()
        if unused and found.last_run is None:
            raise CacheError(
                f"no run has recorded which replies it used in {self.directory} (runs "
                "record it from this version on); run the whole suite once, then prune "
                "--unused"
            )
        chosen = [
            entry
            for entry in found.entries
            if (not unused or entry.used_run != found.last_run)
            and (before is None or entry.stored_at < before)
            and (not model or entry.matches_model(model))
        ]
        removed: dict[str, int] = {}
        for entry in chosen:
            removed[entry.model] = removed.get(entry.model, 0) + 1
        if dry_run or not chosen:
            return removed
        store = self._store
        with store.transact():
            for entry in chosen:
                store.delete(entry.key)
        with contextlib.suppress(sqlite3.Error), _connect(self.directory) as db:
            db.executemany(f"DELETE FROM {_USED_TABLE} WHERE key = ?", [(e.key,) for e in chosen])
        self._check_refused()
        return removed

    def export(
        self, path: Path, *, model: str | None = None, used_since: float | None = None
    ) -> int:
        """Write the replies (all, or those of ``model`` / used by a run since
        ``used_since``) as sorted, canonical JSON lines to ``path``, atomically, each
        with a digest of its content; then every served-model record.

        The same cache content always gives the same file, so it diffs well and can be
        committed or handed to CI for ``--llm-cache=replay``. A damaged cache, or one
        with no reply to write, is refused and ``path`` is left as it was."""
        found = self.contents()
        if found.damaged:
            raise CacheError(
                f"the cache at {self.directory} has {len(found.damaged)} damaged "
                f"entr{'y' if len(found.damaged) == 1 else 'ies'} ({found.damaged[0]}); "
                f"nothing was written and {path} was left as it was. Run "
                "`llmdrift cache prune --damaged` to remove them, then export again"
            )
        lines = []
        for entry in found.entries:
            if model and not entry.matches_model(model):
                continue
            if used_since is not None and (entry.used_at or 0.0) < used_since:
                continue
            reply = {**entry.data["reply"], "latency_s": 0.0}  # a measurement, not content
            material = entry.data["material"]
            line = {"key": entry.key, "material": material, "reply": reply}
            line["digest"] = entry_digest(entry.key, material, reply)
            lines.append(storable_json(line))
        if not lines:
            what = "no replies" if not found.entries else "no replies that match the filters"
            raise CacheError(
                f"the cache at {self.directory} has {what}; nothing was written and {path} "
                "was left as it was"
            )
        served = [storable_json({"served": k, "identity": v}) for k, v in found.served]
        header = canonical_json({"format": EXPORT_FORMAT, "entries": len(lines)})
        atomic_write_text(path, "\n".join([header, *lines, *served]) + "\n")
        return len(lines)

    def prune_damaged(self, *, dry_run: bool = False) -> int:
        """Remove the rows that cannot be read (tampered ones included, their files
        left alone when outside the directory); returns how many."""
        with _connect(self.directory, read_only=True) as db:
            rows = db.execute("SELECT rowid, key, raw, mode, filename, value FROM Cache").fetchall()
        directory = str(self.directory)
        bad = [(row[0], row[4]) for row in rows if _row_damage(directory, *row[1:])]
        if dry_run or not bad:
            return len(bad)
        # By rowid: a pickled key cannot be named through diskcache.
        with _connect(self.directory) as db:
            db.executemany("DELETE FROM Cache WHERE rowid = ?", [(rowid,) for rowid, _ in bad])
        for _rowid, name in bad:
            if name is not None and not _remove_value_file(directory, name):
                self._alarm(_refused_text(name, self.directory))
        return len(bad)

    def import_file(self, path: Path) -> int:
        """Load an export. Every line is checked first; a bad file changes nothing."""
        entries, served = read_export(path)
        with self._store.transact():
            for key, material, reply in entries:
                self.put(key, material, reply)
            for key, identity in served:
                self._store.set(key, storable_json(identity))
        return len(entries)


def _served_key(provider: str, endpoint: str, model: str) -> str:
    return _SERVED_PREFIX + storable_json([provider, scrub_url(endpoint), model])


@contextlib.contextmanager
def _connect(directory: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to ``cache.db`` of our own (not diskcache's), committed and
    closed on exit. Read-only opens never create or change the database."""
    path = Path(directory) / "cache.db"
    if read_only:
        if not path.is_file():
            raise CacheError(f"no response cache at {directory} (no cache.db)")
        uri = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=60)
    else:
        db = sqlite3.connect(path, timeout=60)
    try:
        with db:
            yield db
    finally:
        db.close()


def _count_replies(db: sqlite3.Connection) -> int:
    """Rows keyed ``reply:...`` (whatever they hold), never decoding a key."""
    row = db.execute(
        "SELECT COUNT(*) FROM Cache WHERE raw = 1 AND typeof(key) = 'text' AND key LIKE ?",
        (_REPLY_PREFIX + "%",),
    ).fetchone()
    return int(row[0])


def _row_damage(
    directory: str, key: object, raw: object, mode: object, filename: object, value: object
) -> str | None:
    """Why a ``cache.db`` row cannot be used, or None when it can."""
    if raw != 1 or not isinstance(key, str):
        return "a key that is not text (a pickled key: the cache was tampered with)"
    try:
        data = json.loads(_fetch_value(directory, mode, filename, value))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if key.startswith(_REPLY_PREFIX):
            Reply.from_json(data["reply"])
            if not isinstance(data.get("material"), dict):
                raise ValueError("no request material")
    except (OSError, ValueError, KeyError, TypeError, CacheError) as exc:
        return str(exc) or type(exc).__name__
    return None


def read_contents(directory: Path) -> Contents:
    """What ``llmdrift cache stats|export|prune`` work on; see
    :meth:`ResponseCache.contents`."""
    found = Contents()
    folder = str(directory)
    if not (Path(directory) / "cache.db").is_file():
        return found  # nothing cached yet
    try:
        with _connect(directory, read_only=True) as db:
            check = db.execute("PRAGMA quick_check(1)").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check and check[0]}")
            rows = db.execute(
                "SELECT key, raw, mode, filename, value FROM Cache ORDER BY key"
            ).fetchall()
            (pages,) = db.execute("PRAGMA page_count").fetchone()
            (page_size,) = db.execute("PRAGMA page_size").fetchone()
            found.size_bytes = int(pages) * int(page_size)
            marks: dict[str, tuple[str, float]] = {}
            with contextlib.suppress(sqlite3.OperationalError):  # no run marked yet
                for key, run, used_at in db.execute(f"SELECT key, run, used_at FROM {_USED_TABLE}"):
                    marks[key] = (run, used_at)
                last = db.execute(
                    f"SELECT run FROM {_USED_TABLE} ORDER BY used_at DESC LIMIT 1"
                ).fetchone()
                found.last_run = last[0] if last else None
    except sqlite3.DatabaseError as exc:
        raise CacheError(
            f"the response cache at {directory} cannot be read ({exc}); nothing was "
            "changed. A pytest run moves a damaged cache aside and starts an empty one, "
            "and so does `llmdrift cache clear`"
        ) from exc
    for key, raw, mode, filename, value in rows:
        damage = _row_damage(folder, key, raw, mode, filename, value)
        if damage is not None:
            found.damaged.append(f"{str(key)[:19]!r}: {damage}")
            continue
        if key.startswith(_REPLY_PREFIX):
            data = json.loads(_fetch_value(folder, mode, filename, value))
            run, used_at = marks.get(key, (None, None))
            found.entries.append(Entry(key, data, run, used_at))
        elif key.startswith(_SERVED_PREFIX):
            found.served.append((key, json.loads(_fetch_value(folder, mode, filename, value))))
    return found


def _write_marks(directory: Path, run_id: str, keys: Iterable[str]) -> None:
    """Mark ``keys`` used by ``run_id`` now, in one transaction."""
    now = time.time()
    with _connect(directory) as db:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {_USED_TABLE} "
            "(key TEXT PRIMARY KEY, run TEXT NOT NULL, used_at REAL NOT NULL)"
        )
        db.executemany(
            f"INSERT OR REPLACE INTO {_USED_TABLE} (key, run, used_at) VALUES (?, ?, ?)",
            [(key, run_id, now) for key in keys],
        )


Export = tuple[list[tuple[str, JSONDict, Reply]], list[tuple[str, JSONDict]]]


def read_export(path: Path) -> Export:
    """The replies and served-model records in an export, all checked."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CacheError(f"cannot read cache export {path}: {exc}") from exc
    if not lines:
        raise CacheError(f"{path} is empty, not an llmdrift cache export")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise CacheError(
            f"{path}:1: not an llmdrift cache export (expected a first line with "
            f'"format": "{EXPORT_FORMAT}"); make one with `llmdrift cache export`'
        )
    entries = []
    served: list[tuple[str, JSONDict]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if "served" in item:
                key, identity = str(item["served"]), dict(item["identity"])
                if not key.startswith(_SERVED_PREFIX):
                    raise ValueError("not a served-model record")
                served.append((key, identity))
                continue
            key, material = item["key"], item["material"]
            reply = Reply.from_json(item["reply"])
            digest = item.get("digest")  # exports made before digests have none
            if digest is not None and not isinstance(digest, str):
                raise TypeError("the digest is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheError(
                f"{path}:{number}: malformed entry ({exc}); nothing was imported"
            ) from exc
        if cache_key(material) != key:
            raise CacheError(
                f"{path}:{number}: the key does not match the request it stores (was the line "
                "edited?); nothing was imported"
            )
        if digest is not None and digest != entry_digest(key, material, item["reply"]):
            raise CacheError(
                f"{path}:{number}: the digest does not match the entry's request and reply "
                "(was the line edited?); nothing was imported. Re-record the reply "
                "(--llm-cache=refresh) and export again rather than editing an export"
            )
        entries.append((key, material, reply))
    if header.get("entries") not in (None, len(entries)):
        raise CacheError(
            f"{path}: header says {header['entries']} entries but the file has {len(entries)} "
            "(truncated?); nothing was imported"
        )
    return entries, served


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers see
    the old file or the new one, never half of one.

    A lone surrogate (which UTF-8 cannot hold) is written as the six characters of
    its escape, ``\\ud800``: never an error, and exact for JSON text, where that is
    the same string."""
    path = Path(path)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"{blocker} is a file, not a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(
            fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n"
        ) as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def _healthy(directory: Path) -> bool:
    """Whether ``directory`` holds a cache database that passes SQLite's check."""
    path = directory / "cache.db"
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False
    return bool(row) and row[0] == "ok"


def _is_corruption(error: BaseException) -> bool:
    """A damaged database (or a tampered one), as opposed to one that cannot be
    opened at all (permissions, a missing parent): only the former is moved aside."""
    if isinstance(error, CacheError):
        return True
    text = str(error).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock held on ``directory`` itself, made if missing (no lock file
    left behind), for processes (xdist workers) that take turns at a read-then-write."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: best effort, no lock
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
