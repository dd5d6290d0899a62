"""Shared plumbing for providers built on an official SDK client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pytest_llmdrift.errors import MissingCredentials
from pytest_llmdrift.providers import ProviderError, ProviderOptions, redact, status_error
from pytest_llmdrift.reply import ChatRequest, scrub_url, secret_values, url_secrets

if TYPE_CHECKING:
    import httpx2

    from pytest_llmdrift.providers.http import CredentialFilter

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
        self._log_filter: CredentialFilter | None = None

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

    def http_client(self, sdk_default: type[httpx2.Client]) -> httpx2.Client:
        """The SDK's default HTTP client class, holding each call to its
        ``--llm-timeout`` deadline (see :mod:`pytest_llmdrift.providers.http`);
        httpx's request log lines lose this provider's credentials meanwhile."""
        from pytest_llmdrift.providers.http import CredentialFilter, deadline_client

        if self._log_filter is None:
            self._log_filter = CredentialFilter(self.secrets())
            self._log_filter.install()
        return deadline_client(sdk_default)()

    def secrets(self, request: ChatRequest | None = None) -> list[str]:
        """The credentials this call was given, which no message may show: the API
        key, those of the base URL, and those in the request's parameters."""
        found = [self.options.env.get(self.key_var, ""), *url_secrets(self._base_url)]
        if request is not None:
            found += secret_values(request.params)
        return found

    def client(self) -> ClientT:
        with self._lock:
            if self._client is None:
                self._client = self.make_client()
            return self._client

    def call(
        self,
        sdk: Any,
        model: str,
        send: Callable[[], ResponseT],
        *,
        request: ChatRequest | None = None,
    ) -> tuple[ResponseT, float]:
        """Run ``send()`` (one SDK request) and return its response and latency,
        turning the SDK's exceptions (``sdk`` is the imported SDK module; both official
        SDKs share these names) into :class:`ProviderError` with a hint, from which
        every credential of ``request`` is redacted. ``--llm-timeout`` is a deadline
        for the whole of ``send()``, SDK retries included."""
        __tracebackhide__ = True
        from pytest_llmdrift.providers.http import DEADLINE, Deadline, DeadlineExceeded

        started = time.perf_counter()
        timeout = self.options.timeout
        token = DEADLINE.set(Deadline.start(timeout) if timeout is not None else None)
        try:
            response = send()
        except DeadlineExceeded as exc:
            raise self.deadline_error(model, exc.deadline.seconds) from None
        except sdk.APIStatusError as exc:
            raise self.error(model, exc.status_code, exc.message, request) from None
        except sdk.APIConnectionError as exc:
            raise self.error(model, None, str(exc), request) from None
        except TypeError as exc:  # an argument the SDK does not know
            raise TypeError(
                redact(
                    f"{self.name} does not accept an argument passed to llm(): {exc}; pass "
                    "provider-specific fields with extra_body={...}",
                    self.secrets(request),
                )
            ) from None
        except (sdk.APIError, ValueError) as exc:
            raise self.error(model, 200, f"unreadable response: {exc}", request) from None
        finally:
            DEADLINE.reset(token)
        return response, time.perf_counter() - started

    def deadline_error(self, model: str, seconds: float) -> ProviderError:
        return ProviderError(
            f"{self.name} did not answer model {model!r} within the --llm-timeout={seconds:g}s "
            f"deadline at {scrub_url(self._base_url)}; the call was cut off (the deadline "
            "covers the whole call, SDK retries included)\n  -> raise --llm-timeout, or check "
            "the server: it was not cached, so a re-run tries again",
            provider=self.name,
            model=model,
        )

    def error(
        self, model: str, status: int | None, message: str, request: ChatRequest | None = None
    ) -> ProviderError:
        return status_error(
            provider=self.name,
            model=model,
            status=status,
            message=redact(message, self.secrets(request)),
            key_var=self.key_var,
            base_url_var=self.base_url_var,
            endpoint=self._base_url,
            retries=self.options.max_retries,
        )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            log_filter, self._log_filter = self._log_filter, None
        if log_filter is not None:
            log_filter.remove()
        if client is not None:
            client.close()  # type: ignore[attr-defined]
