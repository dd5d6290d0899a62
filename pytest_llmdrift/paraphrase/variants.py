"""A stable list of paraphrases for ``@pytest.mark.parametrize``.

``paraphrases(template, n)`` returns the same ``n`` variants in every run, process and
xdist worker: they are generated once, without Hypothesis and without ``hash()``, and
kept in a committed file beside the test module,
``__paraphrases__/<module>.json``, reviewed like a snapshot. The file is rewritten
only when regeneration is asked for (``pytest --llm-paraphrases-update`` or
``--snapshot-update``, which set ``LLMDRIFT_PARAPHRASES=update``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmdrift.cache import atomic_write_text, directory_lock
from pytest_llmdrift.paraphrase.spans import spans_preserved
from pytest_llmdrift.paraphrase.transforms import TRANSFORMS, check_transforms, rewrite

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet

__all__ = [
    "DIR_NAME",
    "FORMAT",
    "GENERATOR_VERSION",
    "RUN_DIR_ENV",
    "UPDATE_ENV",
    "ParaphraseFileError",
    "RegenerationRun",
    "generate",
    "group_key",
    "paraphrase_file",
    "paraphrases",
]

# Bump when generate() would produce different variants for the same input.
GENERATOR_VERSION = 1
FORMAT = "llmdrift-paraphrases/1"
DIR_NAME = "__paraphrases__"
UPDATE_ENV = "LLMDRIFT_PARAPHRASES"
UPDATE_VALUE = "update"
RUN_DIR_ENV = "LLMDRIFT_PARAPHRASES_RUN_DIR"
_FIX = (
    "Delete the file to have it written again, or regenerate it with "
    "`pytest --llm-paraphrases-update` (or `--snapshot-update`)."
)


class ParaphraseFileError(ValueError):
    """A committed paraphrase file cannot be read; the message says how to fix it."""


# -- generation ---------------------------------------------------------------------------
class _Stream:
    """Numbers from sha256(seed, counter): the same on every platform, Python version
    and process, whatever ``PYTHONHASHSEED`` says."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def below(self, bound: int) -> int:
        self._counter += 1
        block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        return int.from_bytes(block[:8], "big") % bound


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"paraphrases: n must be a whole number >= 1, got {n!r}")
    return n


def _variant_stream(template: str, names: Sequence[str], tries: int) -> Iterator[str]:
    """Distinct variants of ``template`` (never the template itself), in a fixed order.

    The seed covers the template, the transforms and :data:`GENERATOR_VERSION`, but
    not ``n``: asking for more variants keeps the first ones."""
    if not names:
        return
    payload = json.dumps([GENERATOR_VERSION, template, sorted(names)], ensure_ascii=False)
    stream = _Stream(hashlib.sha256(payload.encode("utf-8")).digest())
    order = list(names)
    for i in range(len(order) - 1, 0, -1):  # Fisher-Yates, driven by the stream
        j = stream.below(i + 1)
        order[i], order[j] = order[j], order[i]
    seen = {template}
    for attempt in range(tries):
        # One step most often, sometimes two or three; the first step cycles
        # through the transforms so that a short list is still varied.
        roll = stream.below(20)
        count = 1 if roll < 11 else 2 if roll < 17 else 3
        picks = [order[attempt % len(order)]]
        picks += [order[stream.below(len(order))] for _ in range(count - 1)]
        steps = [(name, stream.below(TRANSFORMS[name].options)) for name in picks]
        variant = rewrite(template, steps)
        if variant not in seen and variant.strip():
            seen.add(variant)
            yield variant


def _tries(n: int) -> int:
    return 100 + 40 * n


def generate(template: str, n: int = 8, transforms: Sequence[str] | None = None) -> list[str]:
    """``n`` distinct variants of ``template``; the first is the template itself.

    Deterministic: the same for a given template, transforms and package version in
    every process (independent of Hypothesis and of ``PYTHONHASHSEED``), and
    ``generate(t, 5)`` is the start of ``generate(t, 8)``. Raises ValueError when
    ``n`` distinct variants cannot be made (a one-word template has few)."""
    if not isinstance(template, str):
        raise TypeError(f"paraphrases: the template must be a str, got {type(template).__name__}")
    n = _check_n(n)
    names = check_transforms(transforms)
    variants = [template]
    for variant in _variant_stream(template, names, _tries(n)):
        if len(variants) == n:
            break
        variants.append(variant)
    if len(variants) < n:
        raise ValueError(
            f"paraphrases: could make only {len(variants)} distinct variants of {template!r} "
            f"(with transforms {', '.join(names) or 'none'}), not n={n}. Ask for fewer "
            f"(n={len(variants)}), allow more transforms, or write a longer template."
        )
    return variants


# -- the committed file -------------------------------------------------------------------
def group_key(
    template: str, n: int, transforms: Sequence[str] | None = None, using: str | None = None
) -> str:
    """The id of a paraphrase group: 12 hex digits of sha256 over its inputs.
    ``transforms=None`` (all) is kept as such, so that a transform added by a later
    version does not orphan the committed groups."""
    names = None if transforms is None else sorted(check_transforms(transforms))
    canonical = json.dumps(
        {"template": template, "n": n, "transforms": names, "using": using},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def paraphrase_file(module_file: str | os.PathLike[str]) -> Path:
    """Where the paraphrases of a test module are kept:
    ``<module dir>/__paraphrases__/<module stem>.json``."""
    module = Path(module_file)
    return module.parent / DIR_NAME / f"{module.stem}.json"


def _bad(path: Path, why: str) -> ParaphraseFileError:
    return ParaphraseFileError(f"{path} is not a valid paraphrase file: {why}. {_FIX}")


def _check_group(path: Path, key: str, group: object) -> dict[str, Any]:
    where = f"group {key!r}"
    if not isinstance(group, dict):
        raise _bad(path, f"{where} is not an object")
    template, n, variants = group.get("template"), group.get("n"), group.get("variants")
    if not isinstance(template, str) or isinstance(n, bool) or not isinstance(n, int):
        raise _bad(path, f"{where} needs a string 'template' and an integer 'n'")
    if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
        raise _bad(path, f"{where} needs 'variants', a list of strings")
    if len(variants) != n:
        raise _bad(path, f"{where} has {len(variants)} variants, but n is {n}")
    if not variants or variants[0] != template:
        raise _bad(path, f"{where}: the first variant (p0) must be the template itself")
    if len(set(variants)) != len(variants):
        raise _bad(path, f"{where} has duplicate variants (pytest ids must be distinct)")
    return group


def load_groups(path: Path) -> dict[str, dict[str, Any]]:
    """The groups stored in ``path`` ({} when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"it cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(path, f"it is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f'it lacks "format": "{FORMAT}"')
    groups = data.get("groups")
    if not isinstance(groups, dict):
        raise _bad(path, 'it lacks a "groups" object')
    return {key: _check_group(path, key, group) for key, group in groups.items()}


def dump_groups(groups: Mapping[str, Mapping[str, Any]]) -> str:
    """The file's text: sorted keys, indent 2, a trailing newline (diffs well)."""
    data = {"format": FORMAT, "groups": dict(groups)}
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class RegenerationRun:
    """The scratch directory of one regeneration run, named by ``RUN_DIR_ENV``.

    The first process (xdist worker) that regenerates a group leaves a mark in it, so
    that the others use its result instead of asking a model again. The run's main
    process (the xdist controller) makes it before the workers start, and they inherit
    the variable; ``close()`` removes it, marks and all, so nothing is left behind.
    """

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="llmdrift-paraphrases-"))
        self._previous = os.environ.get(RUN_DIR_ENV)
        os.environ[RUN_DIR_ENV] = str(self.path)

    def close(self) -> None:
        if self._previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = self._previous
        shutil.rmtree(self.path, ignore_errors=True)


def _regenerated_marker(path: Path, key: str) -> Path | None:
    """Where this run marks ``key`` of ``path`` as regenerated (None outside a run)."""
    run = os.environ.get(RUN_DIR_ENV)
    if not run or not Path(run).is_dir():
        return None
    digest = hashlib.sha256(f"{path.resolve()}\0{key}".encode()).hexdigest()[:20]
    return Path(run) / digest


def _produce(
    template: str, n: int, transforms: Sequence[str] | None, using: str | None
) -> tuple[list[str], str]:
    if using is None:
        return generate(template, n, transforms), "generated"
    from pytest_llmdrift.paraphrase.model import rewrite_with_model

    names = check_transforms(transforms)
    variants = [template]
    for candidate in rewrite_with_model(template, n, using):
        if len(variants) == n:
            break
        if (
            isinstance(candidate, str)
            and candidate.strip()
            and candidate not in variants
            and spans_preserved(template, candidate)
        ):
            variants.append(candidate)
    source = f"model:{using}"
    if len(variants) < n:
        source += "+generated"
        for variant in _variant_stream(template, names, _tries(n)):
            if len(variants) == n:
                break
            if variant not in variants:
                variants.append(variant)
        if len(variants) < n:
            raise ValueError(
                f"paraphrases: the model {using!r} and the generator together made only "
                f"{len(variants)} distinct variants of {template!r}, not n={n}. Ask for fewer."
            )
    return variants, source


def paraphrases(
    template: str,
    n: int = 8,
    *,
    transforms: Sequence[str] | None = None,
    using: str | None = None,
    file: str | os.PathLike[str] | None = None,
) -> list[ParameterSet]:
    """``n`` rewordings of ``template`` as ``pytest.param`` s with ids ``p0``…``p{n-1}``,
    ``p0`` being the template unchanged, for ``@pytest.mark.parametrize``::

        @pytest.mark.parametrize("prompt", paraphrases("Is 17077 prime? Answer [Yes] or [No]."))
        def test_prime(llm, prompt): ...

    ``transforms`` picks the rewrites (names from ``ALL_TRANSFORMS``; default all);
    ``using="MODEL"`` asks that model for the rewordings instead, keeping only those
    that preserve every protected span (and filling up with generated ones).

    The list is kept in ``file`` (default: ``__paraphrases__/<module>.json`` beside the
    calling module; none when called outside a file, e.g. in a REPL): once a group is
    there it is used as stored, so every run, process and worker sees the same list
    and a model is asked only once. Regenerate with ``LLMDRIFT_PARAPHRASES=update``
    (set by ``--llm-paraphrases-update`` and ``--snapshot-update``).
    """
    import pytest

    if not isinstance(template, str):
        raise TypeError(f"paraphrases: the template must be a str, got {type(template).__name__}")
    n = _check_n(n)
    check_transforms(transforms)
    if using is not None and (not isinstance(using, str) or not using.strip()):
        raise ValueError(f"paraphrases: using= must be a model name, got {using!r}")
    key = group_key(template, n, transforms, using)
    if file is not None:
        path: Path | None = Path(file)
    else:
        caller = sys._getframe(1).f_globals.get("__file__")
        path = paraphrase_file(caller) if isinstance(caller, str) and caller else None
    variants = _lookup(path, key, template, n, transforms, using)
    return [
        pytest.param(text, id=f"p{i}", marks=pytest.mark.llm_paraphrase(group=key, variant=i))
        for i, text in enumerate(variants)
    ]


def _lookup(
    path: Path | None,
    key: str,
    template: str,
    n: int,
    transforms: Sequence[str] | None,
    using: str | None,
) -> list[str]:
    if path is None:
        return _produce(template, n, transforms, using)[0]
    update = os.environ.get(UPDATE_ENV) == UPDATE_VALUE
    if not update:
        stored = load_groups(path).get(key)
        if stored is not None:
            return list(stored["variants"])
    with directory_lock(path.parent):
        # Read again under the lock: another worker may have made the group meanwhile.
        try:
            groups = load_groups(path)
        except ParaphraseFileError:
            if not update:
                raise
            groups = {}  # regeneration was asked for: start the file afresh
        stored = groups.get(key)
        marker = _regenerated_marker(path, key) if update else None
        if stored is not None and (not update or (marker is not None and marker.exists())):
            return list(stored["variants"])
        variants, source = _produce(template, n, transforms, using)
        groups[key] = {
            "template": template,
            "n": n,
            "transforms": None if transforms is None else list(check_transforms(transforms)),
            "source": source,
            "variants": variants,
        }
        text = dump_groups(groups)
        try:
            unchanged = path.read_text(encoding="utf-8") == text
        except OSError:
            unchanged = False
        if not unchanged:
            atomic_write_text(path, text)
        if marker is not None:
            marker.touch()
        return variants
