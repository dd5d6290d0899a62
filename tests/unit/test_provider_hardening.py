"""The SDK providers against the loopback server: a deadline for the whole call,
credentials redacted from provider errors, hints that match what happened, and
httpx's request log without the base URL's credentials."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pytest_llmdrift.providers import ProviderError, ProviderOptions
from pytest_llmdrift.providers.anthropic_messages import AnthropicProvider
from pytest_llmdrift.providers.base import SDKProvider
from pytest_llmdrift.providers.http import CredentialFilter
from pytest_llmdrift.providers.openai_chat import OpenAIProvider
from pytest_llmdrift.reply import ChatRequest
from pytest_llmdrift.testing import Fault, ModelServer

KEY = "test-key-hardening-0123456789"
HEADER_SECRET = "relay-secret-HEADER-4711"
NESTED_SECRET = "mcp-secret-NESTED-0815"


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with ModelServer() as srv:
        yield srv


def make(
    server: ModelServer,
    protocol: str,
    *,
    timeout: float | None = None,
    retries: int = 2,
    userinfo: str = "",
) -> SDKProvider[object]:
    url = server.openai_base_url if protocol == "openai" else server.anthropic_base_url
    url = url.replace("//", f"//{userinfo}@") if userinfo else url
    var = protocol.upper()
    options = ProviderOptions(
        timeout=timeout,
        max_retries=retries,
        env={f"{var}_BASE_URL": url, f"{var}_API_KEY": KEY},
    )
    cls = OpenAIProvider if protocol == "openai" else AnthropicProvider
    return cls(options)  # type: ignore[return-value]


def ask(provider: SDKProvider[object], request: ChatRequest | None = None) -> None:
    provider.complete(  # type: ignore[attr-defined]
        model="gpt-4o", request=request or ChatRequest.build("hi")
    )


@pytest.fixture(autouse=True)
def _clean(server: ModelServer) -> Iterator[None]:
    server.reset()
    yield
    server.reset()


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_trickling_server_is_cut_off_at_the_deadline(server: ModelServer, protocol: str) -> None:
    # One byte every 50 ms never trips httpx's per-read timeout (without the
    # deadline the 60 bytes would be read whole, then fail to parse); the deadline
    # of the whole call cuts it off, and the SDK does not retry past it.
    server.inject(Fault.trickle(0.05, size=60), times=5)
    provider = make(server, protocol, timeout=0.3)
    try:
        with pytest.raises(ProviderError, match=r"within the --llm-timeout=0.3s deadline") as info:
            ask(provider)
    finally:
        provider.close()
    assert "covers the whole call, SDK retries included" in str(info.value)
    assert server.call_count == 1  # no retry after the deadline
    assert server.pending_faults == 4


def test_a_retry_after_longer_than_the_deadline_is_not_waited_out(server: ModelServer) -> None:
    # Without the deadline the SDK would sleep 30 s before retrying.
    server.inject(Fault.status(503, "busy", {"retry-after": "30"}), times=3)
    provider = make(server, "openai", timeout=0.3)
    try:
        with pytest.raises(ProviderError, match="deadline"):
            ask(provider)
    finally:
        provider.close()
    assert server.call_count == 1


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_provider_echoing_credentials_is_redacted(server: ModelServer, protocol: str) -> None:
    server.inject(
        Fault.status(
            401,
            f"refused key {KEY}, header Bearer {HEADER_SECRET}, token {NESTED_SECRET}, "
            "password pw-userinfo-1234",
        )
    )
    request = ChatRequest.build(
        "hi",
        params={
            "extra_headers": {"X-Relay-Auth": f"Bearer {HEADER_SECRET}"},
            "extra_body": {"mcp_servers": [{"authorization_token": NESTED_SECRET}]},
        },
    )
    provider = make(server, protocol, userinfo="bob:pw-userinfo-1234")
    try:
        with pytest.raises(ProviderError) as info:
            ask(provider, request)
    finally:
        provider.close()
    message = str(info.value)
    for secret in (KEY, HEADER_SECRET, NESTED_SECRET, "pw-userinfo-1234"):
        assert secret not in message
    assert message.count("<redacted>") >= 4
    assert "HTTP 401" in message


def test_hints_say_whether_the_sdk_retried(server: ModelServer) -> None:
    provider = make(server, "openai")
    try:
        server.inject(Fault.malformed())
        with pytest.raises(ProviderError) as unreadable:
            ask(provider)
        server.inject(Fault.status(422, "unprocessable"))
        with pytest.raises(ProviderError) as rejected:
            ask(provider)
        server.inject(Fault.server_error(), times=3)
        with pytest.raises(ProviderError) as failed:
            ask(provider)
    finally:
        provider.close()
    assert "SDK retries" not in str(unreadable.value)
    assert "the SDK does not retry a response that arrived" in str(unreadable.value)
    assert "the SDK does not retry HTTP 422" in str(rejected.value)
    assert "after 2 SDK retries" in str(failed.value)
    assert server.call_count == 1 + 1 + 3


def test_a_provider_message_cannot_drive_the_terminal(server: ModelServer) -> None:
    server.inject(Fault.bad_request("bad\x1b]0;pwned\x07 \x1b[2J\rok\x00"))
    provider = make(server, "openai")
    try:
        with pytest.raises(ProviderError) as info:
            ask(provider)
    finally:
        provider.close()
    message = str(info.value)
    assert not any(ch in message for ch in "\x1b\x07\r\x00")
    assert "\\x1b]0;pwned\\x07" in message


def test_httpx_logs_no_base_url_credentials(
    server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make(server, "openai", userinfo="bob:pw-logged-5678")
    caplog.set_level(logging.INFO)
    try:
        ask(provider)
    finally:
        provider.close()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("httpx")]
    assert any("HTTP Request: POST http://127.0.0.1" in line for line in lines)
    assert "pw-logged-5678" not in caplog.text
    # the filter leaves with the provider
    assert not any(isinstance(f, CredentialFilter) for f in logging.getLogger("httpx2").filters)


def test_the_log_filter_hashes_query_values() -> None:
    record = logging.LogRecord(
        "httpx2", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("POST", "x"), None
    )
    record.args = ("POST", "https://u:p-secret@h/v1/chat?api-key=q-secret-9")
    CredentialFilter(["tok-secret-1"]).filter(record)
    text = record.getMessage()
    assert "p-secret" not in text
    assert "q-secret-9" not in text
    assert "https://h/v1/chat?api-key=sha256:" in text
