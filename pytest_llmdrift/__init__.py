"""pytest-llmdrift: catch behaviour changes when a model provider changes a model under you.

The public API. Names load on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Reply": "pytest_llmdrift.reply",
    "Usage": "pytest_llmdrift.reply",
    "ChatRequest": "pytest_llmdrift.reply",
    "ModelSpec": "pytest_llmdrift.models",
    "LLM": "pytest_llmdrift.client",
    "LLMDriftError": "pytest_llmdrift.errors",
    "LLMDriftWarning": "pytest_llmdrift.errors",
    "ProviderError": "pytest_llmdrift.errors",
    "MissingCredentials": "pytest_llmdrift.errors",
    "ReplayMiss": "pytest_llmdrift.errors",
    "BudgetExceeded": "pytest_llmdrift.errors",
    "StreamingNotSupported": "pytest_llmdrift.errors",
    "CacheError": "pytest_llmdrift.cache",
    "Provider": "pytest_llmdrift.providers",
    "ProviderOptions": "pytest_llmdrift.providers",
    "Score": "pytest_llmdrift.scorers",
    "ScoreContext": "pytest_llmdrift.scorers",
    "Scorer": "pytest_llmdrift.scorers",
    "ScorerError": "pytest_llmdrift.scorers",
    "all_of": "pytest_llmdrift.scorers",
    "embedding": "pytest_llmdrift.scorers",
    "exact": "pytest_llmdrift.scorers",
    "extract": "pytest_llmdrift.scorers",
    "json_match": "pytest_llmdrift.scorers",
    "judge": "pytest_llmdrift.scorers",
    "numeric": "pytest_llmdrift.scorers",
    "refusal": "pytest_llmdrift.scorers",
    "similar": "pytest_llmdrift.scorers",
    "paraphrases": "pytest_llmdrift.paraphrase",
    "agreement": "pytest_llmdrift.paraphrase",
    "assert_agreement": "pytest_llmdrift.paraphrase",
    "DriftError": "pytest_llmdrift.snapshot",
    "LLMSnapshot": "pytest_llmdrift.snapshot",
    "SnapshotFormatError": "pytest_llmdrift.snapshot",
    "SnapshotIOError": "pytest_llmdrift.snapshot",
}

__all__ = [
    "LLM",
    "BudgetExceeded",
    "CacheError",
    "ChatRequest",
    "DriftError",
    "LLMDriftError",
    "LLMDriftWarning",
    "LLMSnapshot",
    "MissingCredentials",
    "ModelSpec",
    "Provider",
    "ProviderError",
    "ProviderOptions",
    "ReplayMiss",
    "Reply",
    "Score",
    "ScoreContext",
    "Scorer",
    "ScorerError",
    "SnapshotFormatError",
    "SnapshotIOError",
    "StreamingNotSupported",
    "Usage",
    "__version__",
    "agreement",
    "all_of",
    "assert_agreement",
    "embedding",
    "exact",
    "extract",
    "json_match",
    "judge",
    "numeric",
    "paraphrases",
    "refusal",
    "similar",
]

if TYPE_CHECKING:
    from pytest_llmdrift.cache import CacheError
    from pytest_llmdrift.client import LLM
    from pytest_llmdrift.errors import (
        BudgetExceeded,
        LLMDriftError,
        LLMDriftWarning,
        MissingCredentials,
        ProviderError,
        ReplayMiss,
        StreamingNotSupported,
    )
    from pytest_llmdrift.models import ModelSpec
    from pytest_llmdrift.paraphrase import agreement, assert_agreement, paraphrases
    from pytest_llmdrift.providers import Provider, ProviderOptions
    from pytest_llmdrift.reply import ChatRequest, Reply, Usage
    from pytest_llmdrift.scorers import (
        Score,
        ScoreContext,
        Scorer,
        ScorerError,
        all_of,
        embedding,
        exact,
        extract,
        json_match,
        judge,
        numeric,
        refusal,
        similar,
    )
    from pytest_llmdrift.snapshot import (
        DriftError,
        LLMSnapshot,
        SnapshotFormatError,
        SnapshotIOError,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmdrift' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
