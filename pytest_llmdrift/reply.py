"""Replies and requests: plain data with a JSON round-trip. Pure."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Token counts the provider reported for one call."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_json(self) -> JSONDict:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Usage:
        return cls(int(data.get("input_tokens", 0)), int(data.get("output_tokens", 0)))


# Provider-neutral reasons a reply ended (``Reply.finish``), from each provider's own.
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "refusal", "other")
_NEUTRAL_FINISH = {
    # OpenAI chat completions
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    # Anthropic messages
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "other",
    # OpenAI Responses (status / incomplete_details.reason)
    "completed": "stop",
    "max_output_tokens": "length",
}


class NotJSONError(ValueError):
    """``reply.json()`` on a reply that is not JSON (the message says why)."""


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool (function) the model asked for.

    ``arguments`` is the parsed JSON the model sent (usually an object). When what the
    model sent is not valid JSON, ``arguments`` is None and ``raw_arguments`` keeps the
    text exactly as sent: nothing is dropped. ``raw_arguments`` is None otherwise.
    """

    id: str
    name: str
    arguments: Any = None
    raw_arguments: str | None = None

    @classmethod
    def from_raw(cls, id: str, name: str, raw: str | None) -> ToolCall:
        """A call from the JSON text a provider sent as its arguments."""
        if raw is None or raw.strip() == "":
            return cls(id=id, name=name, arguments={})
        try:
            return cls(id=id, name=name, arguments=json.loads(raw))
        except ValueError:
            return cls(id=id, name=name, arguments=None, raw_arguments=raw)

    @property
    def valid(self) -> bool:
        """Whether the arguments were valid JSON."""
        return self.raw_arguments is None

    def arguments_text(self) -> str:
        """The arguments as JSON text (the raw text when they were not valid JSON)."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, ensure_ascii=False, sort_keys=True)

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.raw_arguments is not None:
            data["raw_arguments"] = self.raw_arguments
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCall:
        raw = data.get("raw_arguments")
        return cls(
            id=str(data.get("id", "")),
            name=str(data["name"]),
            arguments=data.get("arguments"),
            raw_arguments=None if raw is None else str(raw),
        )


@dataclass(frozen=True)
class Reply:
    """One model reply: everything the model said.

    ``text`` is the assistant text (``""`` when it said none), ``tool_calls`` the tools
    it asked to call, ``finish_reason`` why it stopped as the provider said it (its
    neutral form is :attr:`finish`), ``refusal`` OpenAI's refusal message when the
    model refused a structured-output request. ``model`` is the name the provider says
    it served (which may differ from the ``requested_model`` when the pinned name is a
    floating alias), ``fingerprint`` the provider's backend fingerprint (OpenAI
    ``system_fingerprint``) or None. ``latency_s`` is the whole call's time and
    ``ttft_s`` the time to the first streamed token (None unless streamed).
    ``cached`` tells whether this reply came from the response cache.
    ``str(reply)`` is the reply text.
    """

    text: str
    model: str
    requested_model: str
    provider: str = ""
    fingerprint: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    cached: bool = False
    sample: int = 0
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    refusal: str | None = None
    ttft_s: float | None = None
    # What was asked (set by the llm fixture; not part of equality or the JSON form).
    request: ChatRequest | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def finish(self) -> str | None:
        """``finish_reason`` in provider-neutral form: one of :data:`FINISH_REASONS`
        (None when the provider said nothing)."""
        if self.finish_reason is None:
            return None
        return _NEUTRAL_FINISH.get(self.finish_reason, "other")

    @property
    def empty(self) -> bool:
        """No text, no tool call and no refusal: the model said nothing."""
        return not self.text and not self.tool_calls and not self.refusal

    def json(self) -> Any:
        """The reply text parsed as JSON; :class:`NotJSONError` says why it is not."""
        if self.refusal and not self.text:
            raise NotJSONError(f"the model refused instead of answering: {self.refusal!r}")
        if not self.text.strip():
            what = "tool calls only" if self.tool_calls else "no text at all"
            raise NotJSONError(f"the reply is not JSON: it has {what}")
        try:
            return json.loads(self.text)
        except ValueError as exc:
            excerpt = self.text if len(self.text) <= 80 else self.text[:79] + "…"
            raise NotJSONError(f"the reply is not JSON ({exc}): {excerpt!r}") from None

    def to_json(self) -> JSONDict:
        data: JSONDict = {
            "text": self.text,
            "model": self.model,
            "requested_model": self.requested_model,
            "provider": self.provider,
            "fingerprint": self.fingerprint,
            "usage": self.usage.to_json(),
            "latency_s": self.latency_s,
            "cached": self.cached,
            "sample": self.sample,
        }
        # Written only when present, so a plain-text reply keeps its old JSON form.
        if self.tool_calls:
            data["tool_calls"] = [call.to_json() for call in self.tool_calls]
        if self.finish_reason is not None:
            data["finish_reason"] = self.finish_reason
        if self.refusal is not None:
            data["refusal"] = self.refusal
        if self.ttft_s is not None:
            data["ttft_s"] = self.ttft_s
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        text = data["text"]
        if not isinstance(text, str):
            raise TypeError(f"reply text must be a string, got {type(text).__name__}")
        fingerprint = data.get("fingerprint")
        calls = data.get("tool_calls") or []
        if not isinstance(calls, list):
            raise TypeError(f"reply tool_calls must be a list, got {type(calls).__name__}")
        finish, refusal, ttft = data.get("finish_reason"), data.get("refusal"), data.get("ttft_s")
        return cls(
            text=text,
            model=str(data["model"]),
            requested_model=str(data.get("requested_model", data["model"])),
            provider=str(data.get("provider", "")),
            fingerprint=None if fingerprint is None else str(fingerprint),
            usage=Usage.from_json(data.get("usage") or {}),
            latency_s=float(data.get("latency_s", 0.0)),
            cached=bool(data.get("cached", False)),
            sample=int(data.get("sample", 0)),
            tool_calls=tuple(ToolCall.from_json(call) for call in calls),
            finish_reason=None if finish is None else str(finish),
            refusal=None if refusal is None else str(refusal),
            ttft_s=None if ttft is None else float(ttft),
        )

    def as_cached(self) -> Reply:
        return replace(self, cached=True)


Message = Mapping[str, Any]
PromptOrMessages = str | Sequence[Message]


@dataclass(frozen=True)
class ChatRequest:
    """A provider-neutral chat request, exactly as the test asked for it.

    ``params`` holds the sampling settings and any extra keyword the test passed;
    None values are dropped so that ``temperature=None`` and no temperature are the
    same request.
    """

    messages: tuple[JSONDict, ...]
    system: str | None = None
    params: JSONDict = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        prompt_or_messages: PromptOrMessages,
        *,
        system: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ChatRequest:
        if isinstance(prompt_or_messages, str):
            messages: tuple[JSONDict, ...] = ({"role": "user", "content": prompt_or_messages},)
        elif isinstance(prompt_or_messages, list | tuple):
            messages = tuple(_check_message(i, m) for i, m in enumerate(prompt_or_messages))
            if not messages:
                raise ValueError(
                    "llm() got an empty message list: pass a prompt string or messages"
                )
        else:
            raise TypeError(
                "llm() takes a prompt string or a list of {'role': ..., 'content': ...} "
                f"messages, not {type(prompt_or_messages).__name__}"
            )
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            encoded = json.dumps([messages, system, clean], ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"llm() arguments must be JSON values (they are sent to the provider and "
                f"make up the cache key): {exc}"
            ) from None
        try:
            encoded.encode("utf-8")
        except UnicodeEncodeError:
            asked = (
                ("the prompt", prompt_or_messages)
                if isinstance(prompt_or_messages, str)
                else ("messages", messages)
            )
            where, index = _find_surrogate(
                [
                    asked,
                    ("the system prompt", system),
                    *((f"the parameter {name}", value) for name, value in clean.items()),
                ]
            )
            raise ValueError(
                f"llm(): {where} holds a lone surrogate at character {index} (not valid "
                "Unicode: it can be neither sent to a provider nor cached). Fix the code "
                "that built the text: decode bytes with errors='replace' rather than "
                "'surrogateescape', or clean it with "
                "text.encode('utf-8', 'replace').decode('utf-8')"
            ) from None
        return cls(messages=messages, system=system, params=clean)

    @property
    def prompt(self) -> str:
        """The text of the last user message (what error messages show)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return _content_text(self.messages[-1].get("content"))

    def content_hash(self) -> str:
        """A short hash of what is asked (messages and system prompt), without the
        sampling settings: two runs asked the same thing when these match."""
        return _fingerprint({"messages": list(self.messages), "system": self.system})

    def to_json(self) -> JSONDict:
        """The request as written to the cache, snapshots and reports: credentials in
        parameters are replaced by hashes (see :func:`scrub`)."""
        return {
            "messages": list(self.messages),
            "system": self.system,
            "params": scrub(self.params),
        }


# Names of credentials: "api_key", "access_token", "Authorization"... but not token
# counts such as max_tokens or max_output_tokens.
_SECRET_NAME = re.compile(r"key|token(?!s)|auth|secret|password|credential|cookie", re.I)
_SECRET_CONTAINERS = ("extra_headers", "extra_query")


def _fingerprint(value: Any) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()
    return "sha256:" + digest[:16]


def scrub(params: Mapping[str, Any]) -> JSONDict:
    """``params`` safe to write down: header and query values, and any value whose
    name looks like a credential, replaced by a short hash (still distinct, so cache
    keys keep apart what differs, but no plaintext reaches a file). The rule applies
    at any depth: inside nested mappings and inside lists (``extra_body={"mcp_servers":
    [{"authorization_token": ...}]}``). What holds no credential is returned as the
    same JSON, so the cache keys of such requests do not change."""
    clean: JSONDict = {}
    for name, value in params.items():
        if name in _SECRET_CONTAINERS and isinstance(value, Mapping):
            clean[name] = {k: _fingerprint(v) for k, v in value.items()}
        elif _SECRET_NAME.search(str(name)):
            clean[name] = _fingerprint(value)
        else:
            clean[name] = _scrub_value(value)
    return clean


def _scrub_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value


def secret_values(params: Mapping[str, Any]) -> list[str]:
    """Every credential in ``params``, by the rule of :func:`scrub` (header and query
    values, and values whose name looks like a credential, at any depth), as the
    text that could be echoed back: what error messages must not show."""
    found: list[str] = []

    def leaves(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                leaves(item)
        elif isinstance(value, list | tuple):
            for item in value:
                leaves(item)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            found.append(str(value))

    def walk(mapping: Mapping[str, Any]) -> None:
        for name, value in mapping.items():
            if (name in _SECRET_CONTAINERS and isinstance(value, Mapping)) or _SECRET_NAME.search(
                str(name)
            ):
                leaves(value)
            else:
                inner(value)

    def inner(value: Any) -> None:
        if isinstance(value, Mapping):
            walk(value)
        elif isinstance(value, list | tuple):
            for item in value:
                inner(item)

    walk(params)
    # A header such as "Bearer sk-..." may be echoed without its scheme.
    found += [text.split()[-1] for text in found if len(text.split()) > 1]
    return found


def scrub_url(url: str) -> str:
    """A base URL without credentials: user:password@ dropped, query values hashed."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(
        f"{k}={_fingerprint(v)}" for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_ENV_SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|AUTH", re.I)
_ENV_SECRET_MIN = 8  # shorter values ("1", "true") are settings, not credentials


def env_secrets(env: Mapping[str, str], urls: Sequence[str] = ()) -> list[str]:
    """The credentials in an environment: values of variables named like keys or
    tokens (``OPENAI_API_KEY``, ``HF_TOKEN``...), and the credentials of URLs in
    variables ending in ``_URL`` (``OPENAI_BASE_URL``) and of ``urls``."""
    found = [
        value
        for name, value in env.items()
        if _ENV_SECRET_NAME.search(name) and len(value) >= _ENV_SECRET_MIN
    ]
    for url in [*urls, *(v for k, v in env.items() if k.upper().endswith("_URL"))]:
        found += url_secrets(url)
    return found


def url_secrets(url: str) -> list[str]:
    """The credentials in a base URL (what :func:`scrub_url` leaves out): the
    ``user:password@`` part and the query values."""
    parts = urlsplit(url)
    found = [parts.netloc.rsplit("@", 1)[0]] if "@" in parts.netloc else []
    if parts.password:
        found.append(parts.password)
    found += [v for _k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return found


_SURROGATE = re.compile("[\ud800-\udfff]")


def _find_surrogate(named: Sequence[tuple[str, Any]]) -> tuple[str, int]:
    """Where the first lone surrogate is: a readable path and a character index."""
    stack: list[tuple[str, Any]] = list(reversed(named))
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if match := _SURROGATE.search(value):
                return where, match.start()
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                stack.append((f"{where}[{key!r}]", item))
                stack.append((f"the key {key!r} in {where}", str(key)))
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return "an argument", 0


def _check_message(index: int, message: object) -> JSONDict:
    if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
        raise TypeError(
            f"message {index} must be a mapping with 'role' and 'content' keys, got {message!r}"
        )
    return dict(message)


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [str(block.get("text", "")) for block in content if isinstance(block, Mapping)]
        return "".join(parts)
    return str(content)
