"""Exceptions raised into tests. Each message says what happened and how to fix it."""

from __future__ import annotations


class LLMDriftError(Exception):
    """Base class of the errors this plugin raises into a test."""


class LLMDriftWarning(UserWarning):
    """Something worth a look that does not fail the test (e.g. a new baseline in
    which the scorer finds no answer)."""


class ProviderError(LLMDriftError):
    """A provider call failed (after the SDK's own retries). Never cached."""

    def __init__(
        self, message: str, *, provider: str, model: str, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status = status


class MissingCredentials(ProviderError):
    """No API key for a provider that needs one."""


class ReplayMiss(LLMDriftError):
    """``--llm-cache=replay`` and the reply is not in the cache; no call was made."""


class BudgetExceeded(LLMDriftError):
    """``--llm-max-calls`` is spent; the call was not made."""


class StreamingNotSupported(LLMDriftError, TypeError):
    """``llm(..., stream=True)``: the ``llm`` fixture returns whole replies only (for now)."""
