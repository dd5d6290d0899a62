"""Shared plumbing for providers built on an official SDK client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pytest_llmdrift.errors import MissingCredentials
from pytest_llmdrift.providers import ProviderError, ProviderOptions, redact, status_error
from pytest_llmdrift.reply import scrub_url

ClientT = TypeVar("ClientT")
ResponseT = TypeVar("ResponseT")


class SDKProvider(Generic[ClientT]):
    """One lazily made, thread-shared SDK client per provider and run.

    Subclasses set the class attributes and implement :meth:`make_client` (which
    imports the SDK) and ``complete``.
    """

    name: str
    default_base_url: str
    key_var: str
    base_url_var: str

    def __init__(self, options: ProviderOptions) -> None:
        self.options = options
        base = options.env.get(self.base_url_var) or options.base_url or self.default_base_url
        self._base_url = base.rstrip("/")
        self._client: ClientT | None = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self._base_url

    def api_key(self) -> str:
        key = self.options.env.get(self.key_var, "")
        if not key:
            raise MissingCredentials(
                f"${self.key_var} is not set, so the {self.name} provider cannot call "
                f"{scrub_url(self._base_url)}. Export {self.key_var}=..., set "
                f"${self.base_url_var} to "
                "another server, or run from a recorded cache with --llm-cache=replay.",
                provider=self.name,
                model="",
            )
        return key

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "api_key": self.api_key(),
            "base_url": self._base_url,
            "max_retries": self.options.max_retries,
        }
        if self.options.timeout is not None:
            kwargs["timeout"] = self.options.timeout
        return kwargs

    def make_client(self) -> ClientT:
        raise NotImplementedError

    def client(self) -> ClientT:
        with self._lock:
            if self._client is None:
                self._client = self.make_client()
            return self._client

    def call(self, sdk: Any, model: str, send: Callable[[], ResponseT]) -> tuple[ResponseT, float]:
        """Run ``send()`` (one SDK request) and return its response and latency,
        turning the SDK's exceptions (``sdk`` is the imported SDK module; both official
        SDKs share these names) into :class:`ProviderError` with a hint."""
        __tracebackhide__ = True
        started = time.perf_counter()
        try:
            response = send()
        except sdk.APIStatusError as exc:
            raise self.error(model, exc.status_code, exc.message) from None
        except sdk.APIConnectionError as exc:
            raise self.error(model, None, str(exc)) from None
        except TypeError as exc:  # an argument the SDK does not know
            raise TypeError(
                f"{self.name} does not accept an argument passed to llm(): {exc}; pass "
                "provider-specific fields with extra_body={...}"
            ) from None
        except (sdk.APIError, ValueError) as exc:
            raise self.error(model, 200, f"unreadable response: {exc}") from None
        return response, time.perf_counter() - started

    def error(self, model: str, status: int | None, message: str) -> ProviderError:
        return status_error(
            provider=self.name,
            model=model,
            status=status,
            message=redact(message, [self.options.env.get(self.key_var, "")]),
            key_var=self.key_var,
            base_url_var=self.base_url_var,
            endpoint=self._base_url,
            retries=self.options.max_retries,
        )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()  # type: ignore[attr-defined]
