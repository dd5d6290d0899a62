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


@dataclass(frozen=True)
class Reply:
    """One model reply.

    ``model`` is the name the provider says it served (which may differ from the
    ``requested_model`` when the pinned name is a floating alias), ``fingerprint``
    the provider's backend fingerprint (OpenAI ``system_fingerprint``) or None.
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
    # What was asked (set by the llm fixture; not part of equality or the JSON form).
    request: ChatRequest | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> JSONDict:
        return {
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        text = data["text"]
        if not isinstance(text, str):
            raise TypeError(f"reply text must be a string, got {type(text).__name__}")
        fingerprint = data.get("fingerprint")
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
