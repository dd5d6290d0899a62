"""Value types of the loopback model server: scripted replies, recorded requests, faults."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "Fault",
    "RecordedRequest",
    "ReplyResult",
    "ReplyScript",
    "ScriptedReply",
    "content_text",
    "estimate_tokens",
]

REDACTED = "<redacted>"


@dataclass(frozen=True)
class ScriptedReply:
    """A reply with more control than plain text.

    Every field but ``text`` defaults to what the server would answer anyway: the
    served model of the request, the server's fingerprint for it, and token counts
    estimated from the text.

    Example::

        ModelServer(reply={"capital of France": ScriptedReply("Paris", model="gpt-4o-2024-11-20")})
    """

    text: str
    """The assistant message text."""
    model: str | None = None
    """The model name reported in the response, instead of the server's served name."""
    fingerprint: str | None = None
    """The OpenAI ``system_fingerprint`` to report (ignored by the Anthropic protocol)."""
    input_tokens: int | None = None
    """Reported prompt/input tokens, instead of the estimate."""
    output_tokens: int | None = None
    """Reported completion/output tokens, instead of the estimate."""


@dataclass(frozen=True)
class RecordedRequest:
    """One model call the server received, as the client sent it.

    Credentials are never kept: the values of ``authorization``, ``x-api-key`` and
    similar headers are replaced by ``"<redacted>"``.
    """

    protocol: Literal["openai", "anthropic"]
    """Which wire protocol the request used."""
    path: str
    """The request path, without query string (e.g. ``/v1/chat/completions``)."""
    model: str
    """The model the client asked for (``""`` if the body had none)."""
    messages: tuple[dict[str, Any], ...]
    """The ``messages`` of the body, as sent."""
    system: str | None
    """System prompt text: OpenAI's leading system/developer message, Anthropic's ``system``."""
    body: dict[str, Any] = field(repr=False)
    """The whole parsed JSON body (``{}`` if it was not a JSON object)."""
    headers: dict[str, str] = field(repr=False)
    """Request headers with lower-cased names and credentials redacted."""
    stream: bool = False
    """Whether the client asked for a streamed (SSE) response."""

    @property
    def prompt(self) -> str:
        """Text of the last user message (``""`` if there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return ""


FaultKind: TypeAlias = Literal["status", "drop", "malformed", "trickle"]


@dataclass(frozen=True)
class Fault:
    """A failure the server answers with instead of a reply.

    Build one with the constructors (``Fault.rate_limit()``, ``Fault.server_error()``,
    ``Fault.bad_request()``, ``Fault.status(...)``, ``Fault.drop()``,
    ``Fault.malformed()``), then queue it with ``ModelServer.inject`` or return it from
    a reply callable. Status faults are sent in the error shape of the protocol that
    was called, so the official SDKs raise their own exception classes.

    Example::

        server.inject(Fault.rate_limit(), times=1)   # the SDK retries and succeeds
        server.inject(Fault.server_error(), times=100)  # every retry fails
    """

    kind: FaultKind
    """``"status"`` (an HTTP error), ``"drop"`` or ``"malformed"``."""
    status_code: int = 0
    """HTTP status of a status fault (200 for ``malformed``, 0 for ``drop``)."""
    message: str = ""
    """Error message placed in the provider-shaped error body."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra response headers, as (name, value) pairs."""
    interval: float = 0.0
    """Seconds between the bytes of a ``trickle`` fault's body."""
    size: int = 0
    """Bytes in a ``trickle`` fault's body (spaces: not a valid reply)."""

    @classmethod
    def rate_limit(cls, retry_after: float = 0.01) -> Fault:
        """429 with ``retry-after-ms``/``retry-after`` headers; the SDKs retry after that delay."""
        return cls(
            "status",
            429,
            "Rate limit reached for requests (injected by pytest_llmdrift.testing)",
            _retry_headers(retry_after),
        )

    @classmethod
    def server_error(
        cls,
        status: int = 500,
        message: str = "internal server error",
        retry_after: float | None = 0.01,
    ) -> Fault:
        """A 5xx error (the SDKs retry these); ``retry_after=None`` sends no retry headers.

        Without retry headers the SDKs fall back to their exponential backoff (0.5 s and up).
        """
        if not 500 <= status <= 599:
            raise ValueError(f"server_error needs a 5xx status, got {status}")
        headers = _retry_headers(retry_after) if retry_after is not None else ()
        return cls("status", status, message, headers)

    @classmethod
    def bad_request(cls, message: str = "invalid request") -> Fault:
        """400: the SDKs raise ``BadRequestError`` at once, without retrying."""
        return cls("status", 400, message)

    @classmethod
    def status(cls, code: int, message: str, headers: Mapping[str, str] | None = None) -> Fault:
        """Any 4xx/5xx status with a provider-shaped error body and optional extra headers.

        For example ``Fault.status(503, "down", {"x-should-retry": "false"})``.
        """
        if not 400 <= code <= 599:
            raise ValueError(f"a status fault needs a 4xx or 5xx code, got {code}")
        return cls("status", code, message, tuple((headers or {}).items()))

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the connection without answering.

        The SDKs see a connection error (and retry it, unless ``max_retries=0``).
        """
        return cls("drop")

    @classmethod
    def malformed(cls) -> Fault:
        """Answer 200 with ``Content-Type: application/json`` and a body that is not JSON.

        A streaming request instead gets an event stream whose data is not JSON.
        """
        return cls("malformed", 200, "malformed response")

    @classmethod
    def trickle(cls, interval: float = 0.05, size: int = 1 << 20) -> Fault:
        """Answer 200 at once, then send a body of ``size`` spaces one byte every
        ``interval`` seconds, until the client hangs up or the server stops: a stalled
        response that never trips a per-read timeout (what a call deadline must cut off)."""
        if not math.isfinite(interval) or interval <= 0:
            raise ValueError(f"interval must be a finite number of seconds > 0, got {interval}")
        if size < 1:
            raise ValueError(f"size must be >= 1 byte, got {size}")
        return cls("trickle", 200, "trickled response", interval=interval, size=size)


def _retry_headers(retry_after: float) -> tuple[tuple[str, str], ...]:
    if not math.isfinite(retry_after) or retry_after < 0:
        raise ValueError(f"retry_after must be a finite number of seconds >= 0, got {retry_after}")
    return (("retry-after-ms", f"{retry_after * 1000:g}"), ("retry-after", f"{retry_after:g}"))


ReplyResult: TypeAlias = str | ScriptedReply | Fault
"""What a reply script produces for one request."""

ReplyScript: TypeAlias = (
    str
    | ScriptedReply
    | Fault
    | Mapping[str, str | ScriptedReply | Fault]
    | Callable[[RecordedRequest], ReplyResult]
    | None
)
"""How the server picks replies: a fixed reply, a prompt lookup table, a callable, or echo."""


def content_text(content: object) -> str:
    """Text of a message ``content``: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def estimate_tokens(text: str) -> int:
    """A deterministic token estimate: one per four characters, at least 1."""
    return max(1, math.ceil(len(text) / 4))
