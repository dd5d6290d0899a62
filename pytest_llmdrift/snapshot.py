"""``llm_snapshot``: syrupy snapshots compared by a tolerance score, not equality.

One baseline per test, shared by every model the test runs on: the model's id is
left out of the snapshot's name, so ``--llm-model=new`` is scored against what
``--llm-model=old --snapshot-update`` recorded. A snapshot is one readable text file
(``__snapshots__/<test module>/<test name>.llmdrift``): a header of JSON values (the
model that produced the reply, what the provider served, its fingerprint, the
prompt, the sampling settings, the scorer, when it was recorded) and then the reply
text, verbatim.

syrupy makes extensions with no arguments and re-imports them by name under xdist,
so :class:`LLMDriftExtension` lives at module level and learns what to compare with
from a context variable that :class:`LLMSnapshot` sets around each assertion.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import json
import os
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmdrift import syrupy_compat
from pytest_llmdrift.errors import LLMDriftError, LLMDriftWarning
from pytest_llmdrift.models import ModelSpec, baseline_name
from pytest_llmdrift.reply import Reply
from pytest_llmdrift.scorers import Score, ScoreContext, Scorer, ScorerError
from pytest_llmdrift.textsafe import printable

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.data import SnapshotCollection
    from syrupy.location import PyTestLocation
    from syrupy.types import SnapshotIndex

# Format 2 ends the reply with END_MARKER, so a cut-off file is told from a shorter
# reply; format 1 files (no end line) still read.
SNAPSHOT_FORMAT = "llmdrift-snapshot/2"
FILE_EXTENSION = "llmdrift"
REPLY_MARKER = "--- reply ---"
END_MARKER = "--- end of reply ---"
_HEADER_FIELDS = (
    "model",
    "provider",
    "served_model",
    "fingerprint",
    "prompt",
    "system",
    "sampling",
    "sample",
    "scorer",
    "recorded",
)
_COMPARED_FIELDS = (*(f for f in _HEADER_FIELDS if f != "recorded"), "text")


class SnapshotFormatError(LLMDriftError):
    """A snapshot file that cannot be read (hand-edited or damaged)."""


class SnapshotIOError(LLMDriftError):
    """A baseline that could not be read or written (the message says why)."""


class DriftError(AssertionError):
    """A reply drifted from its baseline (or has none). The message says what moved:
    baseline and current model and answer, the scorer, score and threshold, a diff."""


@dataclass(frozen=True)
class SnapshotRecord:
    """One baseline: the reply text and what produced it."""

    text: str
    model: str
    provider: str = ""
    served_model: str = ""
    fingerprint: str | None = None
    prompt: str | None = None
    system: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    sample: int = 0
    scorer: str = ""
    recorded: str = ""

    @classmethod
    def from_reply(cls, reply: Reply, *, model: str, scorer: str) -> SnapshotRecord:
        request = reply.request
        return cls(
            text=reply.text,
            model=model,
            provider=reply.provider,
            served_model=reply.model,
            fingerprint=reply.fingerprint,
            prompt=request.prompt if request is not None else None,
            system=request.system if request is not None else None,
            sampling=request.to_json()["params"] if request is not None else {},
            sample=reply.sample,
            scorer=scorer,
            recorded=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def render(self) -> str:
        lines = [
            f"# pytest-llmdrift baseline ({SNAPSHOT_FORMAT}); the reply follows the "
            f"'{REPLY_MARKER}' line and ends before the '{END_MARKER}' line.",
            "# Re-record with: pytest --snapshot-update --llm-model=MODEL",
        ]
        for name in _HEADER_FIELDS:
            value = getattr(self, name)
            lines.append(f"{name}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}")
        lines.append(REPLY_MARKER)
        return "\n".join(lines) + "\n" + self.text + "\n" + END_MARKER + "\n"

    @classmethod
    def parse(cls, data: str, *, source: str = "snapshot") -> SnapshotRecord:
        head, marker, text = data.partition("\n" + REPLY_MARKER + "\n")
        if not marker:
            raise SnapshotFormatError(
                f"{source}: not an llmdrift snapshot (no '{REPLY_MARKER}' line); re-record it "
                "with --snapshot-update or restore it from version control"
            )
        values: dict[str, Any] = {}
        for number, line in enumerate(head.splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            name, sep, raw = line.partition(":")
            if not sep or name not in _HEADER_FIELDS:
                raise SnapshotFormatError(
                    f"{source}:{number}: unexpected header line {line!r}; the header holds "
                    f"{', '.join(_HEADER_FIELDS)}"
                )
            try:
                values[name] = json.loads(raw)
            except ValueError as exc:
                raise SnapshotFormatError(
                    f"{source}:{number}: the value of {name!r} is not valid JSON ({exc}); "
                    "fix it or re-record the snapshot with --snapshot-update"
                ) from None
        if not isinstance(values.get("model"), str):
            raise SnapshotFormatError(f"{source}: the header has no 'model' line")
        for name, kind, what in (("sample", int, "number"), ("sampling", dict, "object")):
            if name in values and not isinstance(values[name], kind):
                raise SnapshotFormatError(
                    f"{source}: {name!r} must be a JSON {what}, got {values[name]!r}; fix it "
                    "or re-record with --snapshot-update"
                )
        end = "\n" + END_MARKER
        if text.endswith((end + "\n", end)):
            text = text[: text.rindex(end)]
        elif f"({SNAPSHOT_FORMAT})" in head.partition("\n")[0]:
            raise SnapshotFormatError(
                f"{source}: the reply has no '{END_MARKER}' line: the file was cut off "
                "(an interrupted write?). Restore it from version control or re-record it "
                "with --snapshot-update"
            )
        else:  # format 1: the reply runs to the end of the file
            text = text[:-1] if text.endswith("\n") else text
        try:
            return cls(text=text, **values)
        except TypeError as exc:
            raise SnapshotFormatError(f"{source}: malformed header ({exc})") from None

    def same_as(self, other: SnapshotRecord) -> bool:
        """Equal in everything but the recording time (an update need not rewrite it)."""
        return all(getattr(self, f) == getattr(other, f) for f in _COMPARED_FIELDS)


@dataclass
class Comparison:
    """One ``reply == llm_snapshot`` assertion, as it runs and as it ended."""

    scorer: Scorer
    update: bool
    context: ScoreContext
    current: SnapshotRecord | None = None
    baseline: SnapshotRecord | None = None
    score: Score | None = None
    location: str = ""
    error: BaseException | None = None

    @property
    def drifted(self) -> bool:
        return self.score is not None and not self.score.passed

    @property
    def served_changed(self) -> bool:
        """The same pinned model as the baseline's, served under another name or
        fingerprint: the provider changed something under the name."""
        if self.baseline is None or self.current is None:
            return False
        if self.baseline.model != self.current.model:
            return False  # a different model was pinned on purpose
        return (self.baseline.served_model, self.baseline.fingerprint) != (
            self.current.served_model,
            self.current.fingerprint,
        )

    def to_json(self) -> dict[str, Any]:
        """The run-record entry: baseline model and text, scorer, score, threshold."""
        score = self.score
        return {
            "snapshot": self.location,
            "scorer": score.scorer if score is not None else self.scorer.name,
            "score": score.value if score is not None else None,
            "threshold": score.threshold if score is not None else self.scorer.threshold,
            "passed": score.passed if score is not None else None,
            "detail": score.detail
            if score is not None
            else (str(self.error) if self.error else ""),
            "drifted": self.drifted,
            "baseline_model": self.baseline.model if self.baseline else None,
            "baseline_served_model": self.baseline.served_model if self.baseline else None,
            "baseline_fingerprint": self.baseline.fingerprint if self.baseline else None,
            "baseline_text": self.baseline.text if self.baseline else None,
            "baseline_scorer": self.baseline.scorer if self.baseline else None,
            "current_model": self.current.model if self.current else None,
            "current_text": self.current.text if self.current else None,
            "current_served_model": self.current.served_model if self.current else None,
            "current_fingerprint": self.current.fingerprint if self.current else None,
            "served_changed": self.served_changed,
            "updated": self.update and self.error is None,  # a baseline was written
        }

    def message(self) -> list[str]:
        """What drifted, for the assertion failure: terminal-safe lines (control
        characters in replies, model names or fingerprints shown as escapes)."""
        return [printable(line) for text in self._message() for line in text.split("\n")]

    def _message(self) -> list[str]:
        if self.error is not None:
            return [f"{type(self.error).__name__}: {self.error}"]
        if self.baseline is None:
            return [
                f"no baseline recorded at {self.location}: record one with "
                "pytest --snapshot-update --llm-model=MODEL (and commit it)"
            ]
        current, baseline, score = self.current, self.baseline, self.score
        assert current is not None
        assert score is not None
        lines = [
            f"the reply drifted from its baseline: {score.scorer} scored {score.value:.2f}, "
            f"below the threshold {score.threshold:.2f} ({score.detail})",
            f"baseline: {_who(baseline)}, recorded {baseline.recorded or '?'}",
            *_indent(_excerpt(baseline.text)),
            f"current:  {_who(current)}",
            *_indent(_excerpt(current.text)),
        ]
        if baseline.scorer and baseline.scorer != score.scorer:
            lines.append(f"note: the baseline was recorded under {baseline.scorer}")
        diff = list(
            difflib.unified_diff(
                baseline.text.split("\n"),
                current.text.split("\n"),
                "baseline",
                "current",
                lineterm="",
                n=1,
            )
        )
        if diff:
            lines.append("diff:")
            lines.extend(_indent(diff[:40] + (["..."] if len(diff) > 40 else [])))
        return lines


def _who(record: SnapshotRecord) -> str:
    served = record.served_model
    text = (
        record.model
        if not served or served == record.model
        else f"{record.model} (served {served})"
    )
    return text + (f", fingerprint {record.fingerprint}" if record.fingerprint else "")


def _excerpt(text: str, limit: int = 600) -> list[str]:
    trimmed = text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"
    return trimmed.split("\n")


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


_COMPARISON: contextvars.ContextVar[Comparison | None] = contextvars.ContextVar(
    "llmdrift_comparison", default=None
)


class LLMDriftExtension(syrupy_compat.SingleFileSnapshotExtension):
    """The syrupy extension behind ``llm_snapshot``."""

    file_extension = FILE_EXTENSION
    # Bytes, encoded here: a text-mode file would turn "\r\n" in a reply into "\n"
    # on reading, and an unchanged reply would then look drifted.
    _write_mode = syrupy_compat.WriteMode.BINARY

    @classmethod
    def matches_test_location(
        cls, *, test_location: PyTestLocation, snapshot_location: str
    ) -> bool:
        # The baseline's name lacks the model's id, so syrupy's own check (which
        # wants the full parametrised name) is widened to the model-free name.
        if super().matches_test_location(
            test_location=test_location, snapshot_location=snapshot_location
        ):
            return True
        location = Path(snapshot_location)
        stem = syrupy_compat.snapshot_stem(cls, location.name)
        if stem is None or location.parent.name != test_location.basename:
            return False
        if not syrupy_compat.matches_snapshot_site(test_location, snapshot_location):
            return False
        base = cls.get_snapshot_name(test_location=test_location, index=0)
        return stem == base or stem.startswith((f"{base}.", f"{base}["))

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        name = super().get_snapshot_name(test_location=test_location, index=index)
        ids = baseline_name(test_location.item)
        if ids is None:
            return name
        original = getattr(test_location.item, "originalname", test_location.methodname)
        prefix = f"{test_location.classname}." if test_location.classname else ""
        suffix = ""
        if isinstance(index, str):
            suffix = f"[{index}]"
        elif index:
            suffix = f".{index}"
        stem = f"{prefix}{original}" + (f"[{ids}]" if ids else "") + suffix
        return syrupy_compat.sanitize_filename(cls, stem)[: syrupy_compat.max_stem_length(cls)]

    def serialize(self, data: Any, **kwargs: Any) -> bytes:
        comparison = _COMPARISON.get()
        if not isinstance(data, Reply):
            raise TypeError(
                "llm_snapshot compares replies from the llm fixture "
                f"(assert reply == llm_snapshot), not {type(data).__name__}"
            )
        scorer = comparison.scorer.name if comparison else ""
        model = data.requested_model
        text = SnapshotRecord.from_reply(data, model=model, scorer=scorer).render()
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Replies from the llm fixture are cleaned by the engine; a Reply built
            # by hand may still hold a lone surrogate.
            raise SnapshotFormatError(
                f"the reply cannot be written as a baseline: it holds a lone surrogate "
                f"{exc.object[exc.start : exc.end]!r} (not valid Unicode); replace it, "
                "e.g. text.encode('utf-8', 'replace').decode('utf-8')"
            ) from None

    @classmethod
    def write_snapshot_collection(
        cls, *, snapshot_collection: SnapshotCollection, name_order: Any = None
    ) -> None:
        # One file per baseline, written whole or not at all (an interrupted
        # update leaves the old baseline, never a shorter one).
        data = next(iter(snapshot_collection)).data
        if not isinstance(data, bytes):
            raise TypeError(f"llmdrift snapshots are bytes, got {type(data).__name__}")
        atomic_write_bytes(Path(snapshot_collection.location), data)

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        comparison = _COMPARISON.get()
        current = SnapshotRecord.parse(_text(serialized_data), source="the current reply")
        try:
            baseline = SnapshotRecord.parse(_text(snapshot_data), source=_source(comparison))
        except SnapshotFormatError as exc:
            if comparison is not None:
                comparison.error = exc
            if comparison is not None and comparison.update:
                return False  # --snapshot-update rewrites a damaged file
            raise
        if comparison is None:  # used outside llm_snapshot: compare text exactly
            return baseline.text == current.text
        comparison.current, comparison.baseline = current, baseline
        if comparison.update:
            # --snapshot-update records this model's reply as the new baseline,
            # unless nothing but the recording time would change.
            return baseline.same_as(current)
        try:
            comparison.score = comparison.scorer.score(
                baseline=baseline.text, current=current.text, context=comparison.context
            )
        except ScorerError as exc:
            comparison.error = exc
            raise
        return comparison.score.passed

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        comparison = _COMPARISON.get()
        if comparison is not None and comparison.score is not None:
            yield from comparison.message()
        else:
            yield from super().diff_lines(serialized_data, snapshot_data)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and
    a rename: readers (and a run killed mid-write) see the old file or the new one,
    never part of one. An existing file keeps its mode; a new one gets the mode a
    plain ``open()`` would give it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)  # the only way to read the umask is to set it
        os.umask(mask)
        mode = 0o666 & ~mask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _text(data: Any) -> str:
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SnapshotFormatError(
                f"the snapshot file is not UTF-8 text ({exc}); re-record it with --snapshot-update"
            ) from None
    return str(data)


def _source(comparison: Comparison | None) -> str:
    return comparison.location if comparison and comparison.location else "the snapshot file"


class LLMSnapshot:
    """The ``llm_snapshot`` fixture: ``assert reply == llm_snapshot`` scores the reply
    against this test's baseline with the default scorer (ini ``llm_scorer``);
    ``assert reply == llm_snapshot(scorer)`` picks one; ``name=`` gives a stable name
    (use it inside ``@given``, where indexes would count up per example)."""

    def __init__(
        self,
        assertion: SnapshotAssertion,
        *,
        default_scorer: Scorer,
        context: ScoreContext,
        on_compare: Callable[[Comparison], None],
        model: ModelSpec | None = None,
    ) -> None:
        self._assertion = assertion
        self.default_scorer = default_scorer
        self._context = context
        self._on_compare = on_compare
        self._model = model
        self.last: Comparison | None = None

    def __call__(self, scorer: Scorer | None = None, *, name: str | None = None) -> _Bound:
        return _Bound(self, scorer or self.default_scorer, name)

    def __eq__(self, other: object) -> bool:
        __tracebackhide__ = True
        return self._compare(other, self.default_scorer, None)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<llm_snapshot, default scorer {self.default_scorer.name}>"

    def _compare(self, reply: object, scorer: Scorer, name: str | None) -> bool:
        __tracebackhide__ = True
        if not isinstance(reply, Reply):
            raise TypeError(
                "llm_snapshot compares replies from the llm fixture "
                f"(assert reply == llm_snapshot), not {type(reply).__name__}"
            )
        assertion = self._assertion(name=name) if name else self._assertion
        comparison = Comparison(
            scorer=scorer,
            update=bool(assertion.session.update_snapshots),
            context=replace(self._context, prompt=reply.request.prompt if reply.request else None),
        )
        location = assertion.extension.get_location(
            test_location=assertion.test_location, index=assertion.index
        )
        comparison.location = _relative(location)
        token = _COMPARISON.set(comparison)
        try:
            passed = bool(assertion == reply)
        finally:
            _COMPARISON.reset(token)
        # syrupy catches an error raised while reading, serializing or writing the
        # snapshot and keeps it aside: without this, an update run would say it had
        # recorded a baseline it never wrote.
        failure = syrupy_compat.assertion_error(assertion)
        if comparison.update:
            # Written, or not: a damaged old baseline (matches() noted it) is gone.
            comparison.error = None if failure is None else _snapshot_io_error(failure, comparison)
        elif failure is not None and comparison.error is None:
            comparison.error = _snapshot_io_error(failure, comparison)
        self.last = comparison
        self._on_compare(comparison)
        if comparison.update and comparison.error is None:
            _check_new_baseline(scorer, reply, comparison.location)
            return True
        if comparison.error is not None:
            raise _fresh(comparison.error) from None
        if not passed:
            # Raised rather than returned: pytest would cut a long assertion
            # explanation to a few lines, and what drifted is the whole point.
            raise DriftError("\n".join(comparison.message()))
        return True


def _fresh(error: BaseException) -> BaseException:
    """A copy of ``error`` (same type and attributes, printable message) without the
    traceback through syrupy it was caught in."""
    fresh = type(error).__new__(type(error))
    fresh.__dict__.update(error.__dict__)
    fresh.args = (printable(str(error)),)
    return fresh


def _snapshot_io_error(error: Exception, comparison: Comparison) -> Exception:
    """The error to raise for one syrupy caught: ours as they are (a judge's
    ProviderError, ReplayMiss or BudgetExceeded stays itself, so the report knows the
    test got no verdict), any other (an OSError) named inside a SnapshotIOError."""
    if isinstance(error, LLMDriftError) and not comparison.update:
        return error
    if isinstance(error, SnapshotFormatError | SnapshotIOError | ScorerError):
        return error
    where = comparison.location or "its snapshot file"
    cause = f"{type(error).__name__}: {error}"
    if comparison.update:
        return SnapshotIOError(
            f"the baseline at {where} could not be written: {cause}; nothing was recorded"
        )
    if isinstance(error, OSError):
        return SnapshotIOError(f"the baseline at {where} could not be read: {cause}")
    return SnapshotIOError(f"the comparison with the baseline at {where} failed: {cause}")


def _check_new_baseline(scorer: Scorer, reply: Reply, location: str) -> None:
    """Warn when a baseline being recorded would fail its own scorer (e.g. extract
    finds no answer in it): every later run would fail against it."""
    try:
        score = scorer.score(baseline=reply.text, current=reply.text, context=ScoreContext())
    except ScorerError:
        return  # needs a model (judge): not checked offline
    if not score.passed:
        warnings.warn(
            LLMDriftWarning(
                f"the baseline recorded at {location} fails its own scorer ({score.scorer}: "
                f"{printable(score.detail)}); later runs will fail against it. Check the "
                "prompt, or "
                "the scorer's pattern."
            ),
            stacklevel=4,  # the test's own line: test -> __eq__ -> _compare -> here
        )


class _Bound:
    def __init__(self, snapshot: LLMSnapshot, scorer: Scorer, name: str | None) -> None:
        self._snapshot = snapshot
        self.scorer = scorer
        self.name = name

    def __eq__(self, other: object) -> bool:
        __tracebackhide__ = True
        return self._snapshot._compare(other, self.scorer, self.name)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"llm_snapshot({self.scorer.name})"


def _relative(location: str) -> str:
    try:
        return str(Path(location).relative_to(Path.cwd()))
    except ValueError:
        return location
