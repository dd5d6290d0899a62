"""Paraphrases: rewordings of a prompt that keep its meaning.

- :func:`paraphrases` — a stable list of ``pytest.param`` s for ``parametrize``, kept in
  a committed ``__paraphrases__/<module>.json`` file;
- :func:`generate` — the same list, deterministic, without a file;
- :func:`agreement` / :func:`assert_agreement` — do the replies to a group agree?
- :func:`protected_spans`, :func:`rewrite`, :data:`TRANSFORMS` — the building blocks.

The Hypothesis strategies live in :mod:`pytest_llmdrift.strategies` (this package does
not import Hypothesis).
"""

from __future__ import annotations

from pytest_llmdrift.paraphrase.invariance import (
    Agreement,
    ParaphraseDisagreement,
    agreement,
    assert_agreement,
)
from pytest_llmdrift.paraphrase.spans import protected_spans, spans_preserved
from pytest_llmdrift.paraphrase.transforms import ALL_TRANSFORMS, TRANSFORMS, Transform, rewrite
from pytest_llmdrift.paraphrase.variants import (
    UPDATE_ENV,
    ParaphraseFileError,
    generate,
    paraphrases,
)

__all__ = [
    "ALL_TRANSFORMS",
    "TRANSFORMS",
    "UPDATE_ENV",
    "Agreement",
    "ParaphraseDisagreement",
    "ParaphraseFileError",
    "Transform",
    "agreement",
    "assert_agreement",
    "generate",
    "paraphrases",
    "protected_spans",
    "rewrite",
    "spans_preserved",
]
