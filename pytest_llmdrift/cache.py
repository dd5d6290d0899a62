"""The response cache: a pure key function and JSON-only storage on diskcache.

Values are JSON text, never pickle: diskcache pickles anything that is not str,
bytes or a number, and unpickling a planted cache entry runs code
(CVE-2025-69872). :class:`JSONOnlyDisk` refuses to store or load pickles, so even a
tampered ``cache.db`` cannot execute anything here.

``diskcache`` is imported only when a cache is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
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


class CacheError(LLMDriftError):
    """The cache cannot do what was asked; the message says why and what to do."""


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
    digest = hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()
    return _REPLY_PREFIX + digest


def _json_only_disk() -> type[diskcache.Disk]:
    import diskcache

    class JSONOnlyDisk(diskcache.Disk):  # type: ignore[misc]
        """A diskcache Disk that stores text and bytes only and never unpickles."""

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
            if mode == diskcache.core.MODE_PICKLE:
                raise CacheError("refusing to unpickle a cache value (the cache was tampered with)")
            return super().fetch(mode, filename, value, read)

    return JSONOnlyDisk


@dataclass
class CacheStats:
    entries: int = 0
    size_bytes: int = 0
    models: dict[str, int] = field(default_factory=dict)


class ResponseCache:
    """Replies on disk under ``directory``, safe to share between processes.

    Opening is lazy and happens once; a directory that cannot be opened as a cache
    (a corrupt ``cache.db``) is moved aside to ``<dir>.corrupt-<time>`` and a fresh
    cache is made in its place. What happened is appended to :attr:`notices`.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.notices: list[str] = []
        self._cache: diskcache.Cache | None = None

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
            return diskcache.Cache(str(self.directory), disk=disk)
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
            return diskcache.Cache(str(self.directory), disk=disk)
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
        self.notices.append(
            f"the response cache at {self.directory} was corrupt ({error}); "
            f"moved it to {target} and started an empty one"
        )
        return target

    def close(self) -> None:
        if self._cache is not None:
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
            return Reply.from_json(raw["reply"]).as_cached()
        except (KeyError, TypeError, ValueError) as exc:
            self._drop(key, exc)
            return None

    def put(self, key: str, material: Mapping[str, Any], reply: Reply) -> None:
        """Store a reply (never an error: callers only pass successful replies)."""
        value = {
            "material": dict(material),
            "reply": {**reply.to_json(), "cached": False},
            "stored_at": time.time(),
        }
        self._set(key, canonical_json(value))

    def _read(self, key: str) -> JSONDict | None:
        self._store  # noqa: B018 - opening errors are not entry errors: let them through
        try:
            text = self._guarded(lambda store: store.get(key))
        except CacheError as exc:
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
        self.notices.append(f"dropped a damaged cache entry {key[:19]}... ({error})")

    # -- served-model identity ---------------------------------------------------
    def served_identity(self, provider: str, endpoint: str, model: str) -> JSONDict | None:
        """What the provider last said it served for ``model``: {"model", "fingerprint"}."""
        return self._read(_SERVED_PREFIX + canonical_json([provider, scrub_url(endpoint), model]))

    def set_served_identity(
        self, provider: str, endpoint: str, model: str, served: str, fingerprint: str | None
    ) -> None:
        key = _SERVED_PREFIX + canonical_json([provider, scrub_url(endpoint), model])
        self._set(key, canonical_json({"model": served, "fingerprint": fingerprint}))

    # -- management (the `llmdrift cache` command) ---------------------------------
    def _entries(self) -> Iterator[tuple[str, JSONDict]]:
        for key in sorted(k for k in self._store.iterkeys() if str(k).startswith(_REPLY_PREFIX)):
            data = self._read(key)
            if data is not None:
                yield key, data

    def stats(self) -> CacheStats:
        stats = CacheStats(size_bytes=int(self._store.volume()))
        for _key, data in self._entries():
            stats.entries += 1
            material = data.get("material", {})
            name = f"{material.get('provider', '?')}:{material.get('model', '?')}"
            stats.models[name] = stats.models.get(name, 0) + 1
        return stats

    def clear(self) -> int:
        """Delete everything; returns how many replies there were."""
        replies = sum(1 for k in self._store.iterkeys() if str(k).startswith(_REPLY_PREFIX))
        self._store.clear()
        return replies

    def export(self, path: Path) -> int:
        """Write every reply as sorted, canonical JSON lines to ``path`` (atomically).

        The same cache content always gives the same file, so it diffs well and can be
        committed or handed to CI for ``--llm-cache=replay``."""
        lines = []
        for key, data in self._entries():
            reply = {**data["reply"], "latency_s": 0.0}  # a measurement, not content
            lines.append(canonical_json({"key": key, "material": data["material"], "reply": reply}))
        served = []
        for key in sorted(k for k in self._store.iterkeys() if str(k).startswith(_SERVED_PREFIX)):
            identity = self._read(key)
            if identity is not None:
                served.append(canonical_json({"served": key, "identity": identity}))
        header = canonical_json({"format": EXPORT_FORMAT, "entries": len(lines)})
        atomic_write_text(path, "\n".join([header, *lines, *served]) + "\n")
        return len(lines)

    def import_file(self, path: Path) -> int:
        """Load an export. Every line is checked first; a bad file changes nothing."""
        entries, served = read_export(path)
        with self._store.transact():
            for key, material, reply in entries:
                self.put(key, material, reply)
            for key, identity in served:
                self._store.set(key, canonical_json(identity))
        return len(entries)


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
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheError(
                f"{path}:{number}: malformed entry ({exc}); nothing was imported"
            ) from exc
        if cache_key(material) != key:
            raise CacheError(
                f"{path}:{number}: the key does not match the request it stores (was the line "
                "edited?); nothing was imported"
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
    the old file or the new one, never half of one."""
    path = Path(path)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"{blocker} is a file, not a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
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
