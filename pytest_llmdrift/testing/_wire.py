"""Response bodies of the two wire protocols: OpenAI chat completions and Anthropic messages.

Only plain JSON values are built here; the HTTP side lives in ``server.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Completion",
    "anthropic_error",
    "anthropic_message",
    "anthropic_models",
    "anthropic_stream",
    "openai_completion",
    "openai_error",
    "openai_models",
    "openai_stream",
    "split_for_stream",
]

# (error type, error code) an OpenAI-style API reports for a status.
_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}

# The error ``type`` Anthropic reports for a status.
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Completion:
    """Everything a successful response reports, whatever the protocol."""

    id: str
    created: int
    model: str
    fingerprint: str
    text: str
    input_tokens: int
    output_tokens: int


def split_for_stream(text: str) -> list[str]:
    """Split text into word-sized deltas that join back to exactly ``text``."""
    return re.findall(r"\s*\S+\s*|\s+", text)


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event is not None else ""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"{head}data: {payload}\n\n".encode()


# -- OpenAI ---------------------------------------------------------------------------------


def openai_completion(done: Completion) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    return {
        "id": done.id,
        "object": "chat.completion",
        "created": done.created,
        "model": done.model,
        "system_fingerprint": done.fingerprint,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done.text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _openai_usage(done),
    }


def _openai_usage(done: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": done.input_tokens,
        "completion_tokens": done.output_tokens,
        "total_tokens": done.input_tokens + done.output_tokens,
    }


def openai_stream(done: Completion, *, include_usage: bool) -> list[bytes]:
    """SSE events of a streamed chat completion, ending with ``data: [DONE]``."""

    def chunk(delta: dict[str, str], finish_reason: str | None) -> bytes:
        body: dict[str, Any] = {
            "id": done.id,
            "object": "chat.completion.chunk",
            "created": done.created,
            "model": done.model,
            "system_fingerprint": done.fingerprint,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            body["usage"] = None
        return _sse(body)

    events = [chunk({"role": "assistant", "content": ""}, None)]
    events.extend(chunk({"content": piece}, None) for piece in split_for_stream(done.text))
    events.append(chunk({}, "stop"))
    if include_usage:
        usage_chunk = {
            "id": done.id,
            "object": "chat.completion.chunk",
            "created": done.created,
            "model": done.model,
            "system_fingerprint": done.fingerprint,
            "choices": [],
            "usage": _openai_usage(done),
        }
        events.append(_sse(usage_chunk))
    events.append(_sse("[DONE]"))
    return events


def openai_error(status: int, message: str) -> dict[str, Any]:
    """An OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    fallback = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    kind, code = _OPENAI_ERRORS.get(status, fallback)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def openai_models(names: Iterable[str]) -> dict[str, Any]:
    """The ``GET /v1/models`` list."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "pytest-llmdrift"}
            for name in names
        ],
    }


# -- Anthropic ------------------------------------------------------------------------------


def anthropic_message(done: Completion) -> dict[str, Any]:
    """A ``message`` object."""
    return {
        "id": done.id,
        "type": "message",
        "role": "assistant",
        "model": done.model,
        "content": [{"type": "text", "text": done.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": done.input_tokens, "output_tokens": done.output_tokens},
    }


def anthropic_stream(done: Completion) -> list[bytes]:
    """SSE events of a streamed message, ``message_start`` to ``message_stop``."""
    start = anthropic_message(done)
    start.update(content=[], stop_reason=None)
    start["usage"] = {"input_tokens": done.input_tokens, "output_tokens": 1}
    events = [
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        _sse({"type": "ping"}, "ping"),
    ]
    events.extend(
        _sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
            "content_block_delta",
        )
        for piece in split_for_stream(done.text)
    )
    events += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": done.output_tokens},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return events


def anthropic_error(status: int, message: str, request_id: str) -> dict[str, Any]:
    """An Anthropic error body: ``{"type": "error", "error": {"type", "message"}}``."""
    kind = _ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def anthropic_models(names: list[str]) -> dict[str, Any]:
    """The ``GET /v1/models`` list in Anthropic's shape."""
    return {
        "data": [
            {
                "type": "model",
                "id": name,
                "display_name": name,
                "created_at": "2024-01-01T00:00:00Z",
            }
            for name in names
        ],
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }


def malformed_body() -> bytes:
    """A response body that starts like JSON and is cut off."""
    return b'{"id": "broken", "choices": [{"message": {"content": "unterminated'


def malformed_stream() -> list[bytes]:
    """An event stream whose data is not JSON."""
    return [
        b'event: message_start\ndata: {"type": "message_start", "message": {\n\n',
        b"data: [DONE]\n\n",
    ]
