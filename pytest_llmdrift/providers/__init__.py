"""Providers: the seam between the plugin and a model API.

Only the modules in this package import a vendor SDK, and only inside
:meth:`Provider.complete`, so a run answered wholly from the cache never pays for
importing one. Third-party providers implement :class:`Provider` and register
through the ``pytest_llmdrift_make_provider`` hook or the ``pytest_llmdrift.providers``
entry-point group (see :mod:`pytest_llmdrift.hookspecs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from pytest_llmdrift.errors import MissingCredentials, ProviderError
from pytest_llmdrift.reply import ChatRequest, Reply, scrub_url
from pytest_llmdrift.textsafe import printable

ENTRY_POINT_GROUP = "pytest_llmdrift.providers"

__all__ = [
    "ENTRY_POINT_GROUP",
    "MissingCredentials",
    "Provider",
    "ProviderError",
    "ProviderOptions",
    "builtin_provider",
    "entry_point_names",
    "redact",
]


@dataclass(frozen=True)
class ProviderOptions:
    """What a provider is built with: SDK timeout and retries, a base URL from the ini
    file (the SDK's own environment variable wins), and the environment to read keys from."""

    timeout: float | None = None
    max_retries: int = 2
    base_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


@runtime_checkable
class Provider(Protocol):
    """A model API. ``endpoint`` goes into cache keys (a base URL, never a secret);
    reading it must not import an SDK or open a connection."""

    name: str

    @property
    def endpoint(self) -> str: ...

    def complete(self, *, model: str, request: ChatRequest) -> Reply:
        """Send ``request`` to ``model``; return the reply or raise :class:`ProviderError`.

        Thread-safe: the plugin calls it from several threads at once."""
        ...

    def close(self) -> None: ...


ProviderFactory = Callable[[ProviderOptions], Provider]


def builtin_provider(name: str, options: ProviderOptions) -> Provider | None:
    if name == "openai":
        from pytest_llmdrift.providers.openai_chat import OpenAIProvider

        return OpenAIProvider(options)
    if name == "anthropic":
        from pytest_llmdrift.providers.anthropic_messages import AnthropicProvider

        return AnthropicProvider(options)
    if name == "demo":
        from pytest_llmdrift.providers.demo import DemoProvider

        return DemoProvider(options)
    return None


def entry_point_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def entry_point_provider(name: str, options: ProviderOptions) -> Provider | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            factory: ProviderFactory = ep.load()
            return factory(options)
    return None


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, so no key reaches a message or a file.

    Longer secrets go first (one may contain another); values shorter than 4
    characters are left alone (they would garble the message and hide nothing)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


# HTTP statuses the official SDKs retry (besides what a server marks with
# x-should-retry): timeouts, conflicts, rate limits and server errors.
def sdk_retries(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def status_error(
    *,
    provider: str,
    model: str,
    status: int | None,
    message: str,
    key_var: str,
    base_url_var: str,
    endpoint: str,
    retries: int,
) -> ProviderError:
    """A :class:`ProviderError` whose message adds what to do about ``status``."""
    endpoint = scrub_url(endpoint)
    if status is None:
        what = f"{provider} could not be reached at {endpoint} for model {model!r}"
        hint = (
            f"check ${base_url_var} and the network; the SDK retried {retries} time(s) "
            "(--llm-max-retries, --llm-timeout)"
        )
    elif status < 400:
        what = f"{provider} answered HTTP {status} for model {model!r}, unreadably"
        hint = (
            "the SDK does not retry a response that arrived; it was not cached, so a re-run "
            "asks again (check the server behind the base URL if this persists)"
        )
    else:
        what = f"{provider} answered HTTP {status} for model {model!r}"
        retried = (
            f"after {retries} SDK retries"
            if retries
            else "with SDK retries off (--llm-max-retries=0)"
        )
        hints = {
            400: "the provider rejected the request: check the arguments passed to llm()",
            401: f"the API key was refused: check ${key_var}",
            403: f"the API key may not access this model: check ${key_var} and the model name",
            404: f"no such model or endpoint: check the model and ${base_url_var} ({endpoint})",
            429: (f"rate limited {retried}: lower --llm-concurrency or raise --llm-max-retries"),
        }
        default = (
            f"the provider failed {retried}"
            if sdk_retries(status)
            else f"the SDK does not retry HTTP {status}"
        )
        hint = hints.get(status, default + "; it was not cached, so a re-run tries again")
    return ProviderError(
        printable(f"{what}: {message}\n  -> {hint}"), provider=provider, model=model, status=status
    )
