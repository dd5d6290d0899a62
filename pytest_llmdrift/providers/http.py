"""The HTTP side of the SDK providers: a deadline for the whole call, and a log filter.

Imported by a provider only when it makes its SDK client (it imports httpx2).

**The deadline.** httpx's timeouts are per operation: a server that trickles one
byte at a time keeps a call alive for as long as it likes. ``--llm-timeout=S`` is
therefore a deadline for the whole ``llm()`` call, SDK retries included:
:func:`deadline_client` makes the SDK's own default HTTP client class (its
connection limits and socket options kept) whose ``send`` (the public httpx method
the SDKs call once per attempt) reads the deadline of the call in progress from
:data:`DEADLINE` and

- refuses an attempt that would start past it;
- gives each attempt's connect/read/write/pool timeouts at most the time left;
- checks the deadline after every chunk of the body it reads, closing the
  connection once it has passed;
- shortens a ``retry-after`` the server asks for to the time left.

Past the deadline it raises :class:`DeadlineExceeded`, a ``BaseException`` so the
SDK's retry loop (which retries ``Exception``) lets it through at once;
:meth:`SDKProvider.call` turns it into a :class:`ProviderError`. A call can still
overrun by one read's wait (at most the time that was left when the attempt
started) or by one SDK backoff pause when the server gave no ``retry-after``.

**The log filter.** httpx logs every request URL at INFO, credentials of a base URL
(``user:pass@``, ``?key=``) included: :class:`CredentialFilter` rewrites them while
the plugin's providers are open.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2

from pytest_llmdrift.reply import scrub_url

HTTPX_LOGGERS = ("httpx2", "httpx")


@dataclass(frozen=True)
class Deadline:
    """When the ``llm()`` call in progress must be over (``time.monotonic()`` clock)."""

    seconds: float
    expires_at: float = field(default=0.0)

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise DeadlineExceeded(self)


class DeadlineExceeded(BaseException):
    """The call's deadline passed; raised through the SDK, caught by the provider."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(f"the call did not finish within {deadline.seconds:g}s")
        self.deadline = deadline


# The deadline of the provider call running in this thread (None: no deadline).
DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "llmdrift_deadline", default=None
)


class _DeadlineStream(httpx2.SyncByteStream):
    def __init__(self, stream: httpx2.SyncByteStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    @property
    def elapsed(self) -> Any:  # read by httpx2.Response.elapsed
        return getattr(self._stream, "elapsed", None)

    def __iter__(self) -> Iterator[bytes]:
        self._deadline.check()
        for chunk in self._stream:
            self._deadline.check()
            yield chunk

    def close(self) -> None:
        self._stream.close()


def _clip_timeouts(client: httpx2.Client, request: httpx2.Request, left: float) -> None:
    current = request.extensions.get("timeout") or client.timeout.as_dict()
    request.extensions = {
        **request.extensions,
        "timeout": {k: left if v is None else min(v, left) for k, v in current.items()},
    }


def _clip_retry_after(response: httpx2.Response, left: float) -> None:
    if response.status_code < 400:
        return
    left_ms = max(left, 0.001) * 1000
    for name, scale in (("retry-after-ms", 1.0), ("retry-after", 1000.0)):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            wanted = float(value) * scale
        except ValueError:
            wanted = float("inf")  # an HTTP date: its wait is unknown
        if wanted > left_ms:
            response.headers[name] = f"{left_ms / scale:g}"


def deadline_client(base: type[httpx2.Client]) -> type[httpx2.Client]:
    """``base`` (an SDK's ``DefaultHttpxClient``) holding each attempt to the
    deadline of the call in progress."""

    class DeadlineClient(base):  # type: ignore[valid-type,misc]
        def send(
            self, request: httpx2.Request, *, stream: bool = False, **kwargs: Any
        ) -> httpx2.Response:
            deadline = DEADLINE.get()
            if deadline is None:
                plain: httpx2.Response = super().send(request, stream=stream, **kwargs)
                return plain
            deadline.check()
            _clip_timeouts(self, request, deadline.remaining())
            response: httpx2.Response = super().send(request, stream=True, **kwargs)
            try:
                response.stream = _DeadlineStream(response.stream, deadline)  # type: ignore[arg-type]
                _clip_retry_after(response, deadline.remaining())
                if not stream:
                    response.read()
            except BaseException:
                response.close()
                raise
            return response

    DeadlineClient.__name__ = DeadlineClient.__qualname__ = f"Deadline{base.__name__}"
    return DeadlineClient


class CredentialFilter(logging.Filter):
    """Rewrites httpx's request log lines: URLs without ``user:pass@`` and with their
    query values hashed (:func:`scrub_url`), and the given secrets redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("llmdrift-credentials")
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = self._clean(record.msg)
        return True

    def _clean(self, value: object) -> object:
        if isinstance(value, httpx2.URL) or (isinstance(value, str) and "://" in value):
            parts = str(value).split(" ")
            value = " ".join(scrub_url(part) if "://" in part else part for part in parts)
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "<redacted>")
        return value

    def install(self) -> None:
        for name in HTTPX_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def remove(self) -> None:
        for name in HTTPX_LOGGERS:
            logging.getLogger(name).removeFilter(self)
