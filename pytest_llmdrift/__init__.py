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
    "ProviderError": "pytest_llmdrift.errors",
    "MissingCredentials": "pytest_llmdrift.errors",
    "ReplayMiss": "pytest_llmdrift.errors",
    "BudgetExceeded": "pytest_llmdrift.errors",
    "Provider": "pytest_llmdrift.providers",
    "ProviderOptions": "pytest_llmdrift.providers",
}

__all__ = [
    "LLM",
    "BudgetExceeded",
    "ChatRequest",
    "LLMDriftError",
    "MissingCredentials",
    "ModelSpec",
    "Provider",
    "ProviderError",
    "ProviderOptions",
    "ReplayMiss",
    "Reply",
    "Usage",
    "__version__",
]

if TYPE_CHECKING:
    from pytest_llmdrift.client import LLM
    from pytest_llmdrift.errors import (
        BudgetExceeded,
        LLMDriftError,
        MissingCredentials,
        ProviderError,
        ReplayMiss,
    )
    from pytest_llmdrift.models import ModelSpec
    from pytest_llmdrift.providers import Provider, ProviderOptions
    from pytest_llmdrift.reply import ChatRequest, Reply, Usage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmdrift' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
