"""The loopback model server, exercised through the real OpenAI and Anthropic SDKs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from pytest_llmdrift.testing import Fault, ModelServer, RecordedRequest, ScriptedReply

KEY = "test-key"
PROTOCOLS = ("openai", "anthropic")


@dataclass
class Answer:
    """What either SDK returned, in one shape."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    fingerprint: str | None


class Harness:
    """Starts servers and SDK clients; the fixture closes them all afterwards."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._clients: dict[tuple[str, int, int], Any] = {}

    def server(self, reply: Any = "fixed text", **kwargs: Any) -> ModelServer:
        server = ModelServer(reply, **kwargs)
        self._stack.callback(server.stop)
        return server.start()

    def openai(self, server: ModelServer, max_retries: int = 2) -> openai.OpenAI:
        """An OpenAI client for ``server`` (one per server and retry setting)."""
        key = ("openai", server.port, max_retries)
        if key not in self._clients:
            self._clients[key] = client = openai.OpenAI(
                api_key=KEY, base_url=server.openai_base_url, max_retries=max_retries, timeout=10
            )
            self._stack.callback(client.close)
        return self._clients[key]  # type: ignore[no-any-return]

    def anthropic(self, server: ModelServer, max_retries: int = 2) -> anthropic.Anthropic:
        """An Anthropic client for ``server`` (one per server and retry setting)."""
        key = ("anthropic", server.port, max_retries)
        if key not in self._clients:
            self._clients[key] = client = anthropic.Anthropic(
                api_key=KEY, base_url=server.anthropic_base_url, max_retries=max_retries, timeout=10
            )
            self._stack.callback(client.close)
        return self._clients[key]  # type: ignore[no-any-return]

    def ask(
        self,
        server: ModelServer,
        protocol: str,
        prompt: str,
        *,
        model: str | None = None,
        system: str | None = None,
        max_retries: int = 2,
    ) -> Answer:
        """One non-streaming call with the SDK of ``protocol``."""
        if protocol == "openai":
            messages: list[Any] = [{"role": "user", "content": prompt}]
            if system is not None:
                messages.insert(0, {"role": "system", "content": system})
            done = self.openai(server, max_retries).chat.completions.create(
                model=model or "gpt-4o", messages=messages
            )
            assert done.object == "chat.completion"
            assert done.choices[0].finish_reason == "stop"
            assert done.choices[0].message.role == "assistant"
            assert done.usage is not None
            usage = done.usage
            assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
            return Answer(
                done.choices[0].message.content or "",
                done.model,
                usage.prompt_tokens,
                usage.completion_tokens,
                done.system_fingerprint,
            )
        extra: dict[str, Any] = {} if system is None else {"system": system}
        message = self.anthropic(server, max_retries).messages.create(
            model=model or "claude-test",
            max_tokens=64,
            messages=[{"role": "user", "content": prompt}],
            **extra,
        )
        assert message.type == "message"
        assert message.role == "assistant"
        assert message.stop_reason == "end_turn"
        text = "".join(block.text for block in message.content if block.type == "text")
        return Answer(
            text, message.model, message.usage.input_tokens, message.usage.output_tokens, None
        )


@pytest.fixture
def harness() -> Iterator[Harness]:
    with ExitStack() as stack:
        yield Harness(stack)


def _status_error(protocol: str) -> type[Exception]:
    return openai.APIStatusError if protocol == "openai" else anthropic.APIStatusError


# -- replies ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fixed_reply_and_the_recorded_request(harness: Harness, protocol: str) -> None:
    server = harness.server("fixed text")
    answer = harness.ask(server, protocol, "Hello there", model="some-model", system="Be brief.")
    assert answer.text == "fixed text"
    assert answer.model == "some-model"  # served as requested by default
    assert answer.input_tokens >= 1
    assert answer.output_tokens >= 1
    [request] = server.requests
    assert request.protocol == protocol
    assert request.path == ("/v1/chat/completions" if protocol == "openai" else "/v1/messages")
    assert request.model == "some-model"
    assert request.prompt == "Hello there"
    assert request.system == "Be brief."
    assert request.messages[-1] == {"role": "user", "content": "Hello there"}
    assert request.body["model"] == "some-model"
    assert request.stream is False
    assert server.call_count == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_mapping_reply_exact_then_substring_then_star(harness: Harness, protocol: str) -> None:
    server = harness.server(
        {
            "capital of France": "Paris",
            "France": "a country",
            "What is the capital of France?": "exactly Paris",
            "*": "no idea",
        }
    )
    assert harness.ask(server, protocol, "What is the capital of France?").text == "exactly Paris"
    assert harness.ask(server, protocol, "capital of France, please").text == "Paris"
    assert harness.ask(server, protocol, "Tell me about France").text == "a country"
    assert harness.ask(server, protocol, "Something else").text == "no idea"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_mapping_without_a_match_is_a_400_quoting_the_prompt(
    harness: Harness, protocol: str
) -> None:
    server = harness.server({"hello": "hi"})
    error = openai.BadRequestError if protocol == "openai" else anthropic.BadRequestError
    with pytest.raises(error, match="no scripted reply matched the prompt 'goodbye now'"):
        harness.ask(server, protocol, "goodbye now")
    assert server.call_count == 1  # a 400 is not retried


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_mapping_values_may_be_scripted_replies_and_faults(harness: Harness, protocol: str) -> None:
    server = harness.server(
        {"rich": ScriptedReply("rich text", model="served-x"), "fail": Fault.bad_request("no!")}
    )
    answer = harness.ask(server, protocol, "rich please")
    assert (answer.text, answer.model) == ("rich text", "served-x")
    with pytest.raises(_status_error(protocol), match="no!"):
        harness.ask(server, protocol, "fail please")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_callable_reply(harness: Harness, protocol: str) -> None:
    seen: list[RecordedRequest] = []

    def script(request: RecordedRequest) -> str | ScriptedReply | Fault:
        seen.append(request)
        if request.prompt == "tokens":
            return ScriptedReply("counted", input_tokens=11, output_tokens=22)
        if request.prompt == "fault":
            return Fault.status(418, "I'm a teapot")
        return f"{request.model} heard {request.prompt}"

    server = harness.server(script)
    assert harness.ask(server, protocol, "ping", model="m1").text == "m1 heard ping"
    answer = harness.ask(server, protocol, "tokens")
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("counted", 11, 22)
    with pytest.raises(_status_error(protocol), match="I'm a teapot") as caught:
        harness.ask(server, protocol, "fault")
    assert getattr(caught.value, "status_code", None) == 418
    assert [r.prompt for r in seen] == ["ping", "tokens", "fault"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_raising_callable_is_a_500_that_is_not_retried(harness: Harness, protocol: str) -> None:
    def script(request: RecordedRequest) -> str:
        raise KeyError("oops")

    server = harness.server(script)
    error = openai.InternalServerError if protocol == "openai" else anthropic.InternalServerError
    with pytest.raises(error, match="KeyError"):
        harness.ask(server, protocol, "hi")
    assert server.call_count == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_echo_reply(harness: Harness, protocol: str) -> None:
    server = harness.server(None)
    assert harness.ask(server, protocol, "repeat me").text == "echo: repeat me"


def test_set_reply_and_reset(harness: Harness) -> None:
    server = harness.server("one")
    assert harness.ask(server, "openai", "x").text == "one"
    server.set_reply(ScriptedReply("two", fingerprint="fp_two"))
    answer = harness.ask(server, "openai", "x")
    assert (answer.text, answer.fingerprint) == ("two", "fp_two")
    server.inject(Fault.bad_request(), times=3)
    assert server.pending_faults == 3
    server.reset()
    assert server.call_count == 0
    assert server.requests == []
    assert server.pending_faults == 0
    assert harness.ask(server, "anthropic", "x").text == "two"


def test_reply_must_be_a_known_kind() -> None:
    with pytest.raises(TypeError):
        ModelServer(reply=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ModelServer(latency=-1)


# -- streaming ----------------------------------------------------------------------------


def test_openai_streaming(harness: Harness) -> None:
    server = harness.server("The quick  brown fox.", served_models={"gpt-4o": "gpt-4o-2024-08-06"})
    client = harness.openai(server)
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert {chunk.model for chunk in chunks} == {"gpt-4o-2024-08-06"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick  brown fox."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens >= 1
    assert server.requests[0].stream is True

    plain = list(
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "go"}], stream=True
        )
    )
    assert all(chunk.usage is None for chunk in plain)
    assert plain[-1].choices[0].finish_reason == "stop"


def test_anthropic_streaming(harness: Harness) -> None:
    server = harness.server("Streaming is fun", served_models={"claude": "claude-3-7-sonnet"})
    client = harness.anthropic(server)
    with client.messages.stream(
        model="claude", max_tokens=64, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        deltas = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(deltas) == "Streaming is fun"
    assert len(deltas) == 3
    assert final.model == "claude-3-7-sonnet"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens >= 1
    assert final.usage.input_tokens >= 1

    events = client.messages.create(
        model="claude", max_tokens=64, messages=[{"role": "user", "content": "go"}], stream=True
    )
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert all(r.stream for r in server.requests)


# -- served models and fingerprints -------------------------------------------------------


def test_served_model_alias_and_fingerprint(harness: Harness) -> None:
    server = harness.server(
        "ok",
        served_models={"gpt-4o": "gpt-4o-2024-08-06", "claude-x": "claude-x-20250101"},
        fingerprints={"gpt-4o-2024-08-06": "fp_aaa"},
    )
    answer = harness.ask(server, "openai", "hi", model="gpt-4o")
    assert (answer.model, answer.fingerprint) == ("gpt-4o-2024-08-06", "fp_aaa")
    answer = harness.ask(server, "openai", "hi", model="gpt-4o-mini")
    assert (answer.model, answer.fingerprint) == ("gpt-4o-mini", "fp_llmdrift_test")
    assert harness.ask(server, "anthropic", "hi", model="claude-x").model == "claude-x-20250101"
    assert server.requests[0].model == "gpt-4o"  # the request keeps the requested name

    listed = {model.id for model in harness.openai(server).models.list()}
    assert {"gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-mini", "claude-x-20250101"} <= listed
    listed = {model.id for model in harness.anthropic(server).models.list()}
    assert "claude-x" in listed
    assert server.call_count == 3  # listing models is not a model call


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_rate_limit_then_success_is_absorbed_by_the_sdk_retry(
    harness: Harness, protocol: str
) -> None:
    arrivals: list[float] = []  # the server's own record of when each request came

    def reply(request: RecordedRequest) -> str | Fault:
        arrivals.append(time.monotonic())
        return Fault.rate_limit(retry_after=0.6) if len(arrivals) == 1 else "after the retry"

    server = harness.server(reply)
    assert harness.ask(server, protocol, "hi").text == "after the retry"
    assert server.call_count == 2
    # retry-after-ms was honoured: the SDKs' own first backoff waits 0.375-0.5 s, never
    # 0.6 s. A lower bound on the server's clock: a loaded machine cannot break it.
    assert arrivals[1] - arrivals[0] >= 0.6


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_rate_limit_raises_once_retries_run_out(harness: Harness, protocol: str) -> None:
    server = harness.server()
    server.inject(Fault.rate_limit(), times=5)
    error = openai.RateLimitError if protocol == "openai" else anthropic.RateLimitError
    with pytest.raises(error, match="Rate limit"):
        harness.ask(server, protocol, "hi", max_retries=1)
    assert server.call_count == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_persistent_500(harness: Harness, protocol: str) -> None:
    server = harness.server()
    server.inject(Fault.server_error(message="the upstream model is overloaded"), times=100)
    error = openai.InternalServerError if protocol == "openai" else anthropic.InternalServerError
    with pytest.raises(error, match="the upstream model is overloaded") as caught:
        harness.ask(server, protocol, "hi", max_retries=2)
    assert caught.value.status_code == 500  # type: ignore[attr-defined]
    assert server.call_count == 3
    assert server.pending_faults == 97


def test_error_bodies_have_each_providers_shape(harness: Harness) -> None:
    server = harness.server()
    server.inject(Fault.status(503, "down", {"x-should-retry": "false"}), times=2)
    with pytest.raises(openai.InternalServerError) as from_openai:
        harness.ask(server, "openai", "hi")
    assert from_openai.value.body == {
        "message": "down",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(anthropic.APIStatusError) as from_anthropic:
        harness.ask(server, "anthropic", "hi")
    body = from_anthropic.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"] == {"type": "api_error", "message": "down"}
    assert server.call_count == 2  # x-should-retry: false was obeyed


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_request_is_not_retried(harness: Harness, protocol: str) -> None:
    server = harness.server()
    server.inject(Fault.bad_request("Unsupported parameter: 'temperature'"), times=5)
    error = openai.BadRequestError if protocol == "openai" else anthropic.BadRequestError
    with pytest.raises(error, match="Unsupported parameter"):
        harness.ask(server, protocol, "hi", max_retries=3)
    assert server.call_count == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_drop_is_a_connection_error(harness: Harness, protocol: str) -> None:
    server = harness.server("back again")
    server.inject(Fault.drop())
    error = openai.APIConnectionError if protocol == "openai" else anthropic.APIConnectionError
    with pytest.raises(error):
        harness.ask(server, protocol, "hi", max_retries=0)
    assert server.call_count == 1
    assert harness.ask(server, protocol, "hi", max_retries=0).text == "back again"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malformed_body_makes_the_sdk_raise(harness: Harness, protocol: str) -> None:
    server = harness.server()
    server.inject(Fault.malformed())
    with pytest.raises((ValueError, openai.OpenAIError, anthropic.AnthropicError)):
        harness.ask(server, protocol, "hi", max_retries=0)
    assert server.call_count == 1


def test_malformed_stream_makes_the_sdk_raise(harness: Harness) -> None:
    server = harness.server()
    server.inject(Fault.malformed(), times=2)
    stream = harness.openai(server, 0).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(ValueError):
        list(stream)
    events = harness.anthropic(server, 0).messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(ValueError):
        list(events)


def test_faults_can_target_one_model(harness: Harness) -> None:
    server = harness.server("fine")
    server.inject(Fault.bad_request("only for gpt-4o"), times=100, model="gpt-4o")
    assert harness.ask(server, "openai", "hi", model="gpt-4o-mini").text == "fine"
    with pytest.raises(openai.BadRequestError, match="only for gpt-4o"):
        harness.ask(server, "openai", "hi", model="gpt-4o")
    assert server.pending_faults == 99


def test_fault_constructors_check_their_arguments() -> None:
    with pytest.raises(ValueError):
        Fault.status(200, "not an error")
    with pytest.raises(ValueError):
        Fault.server_error(status=404)
    with pytest.raises(ValueError):
        Fault.rate_limit(retry_after=-1)
    assert dict(Fault.rate_limit(0.25).headers) == {"retry-after-ms": "250", "retry-after": "0.25"}
    assert Fault.server_error(retry_after=None).headers == ()


# -- requests, headers, routes ------------------------------------------------------------


def test_recorded_headers_never_hold_the_key(harness: Harness) -> None:
    server = harness.server()
    harness.ask(server, "openai", "hi")
    harness.ask(server, "anthropic", "hi")
    client = anthropic.Anthropic(
        auth_token=None, api_key=None, base_url=server.url, default_headers={"x-api-key": KEY}
    )
    try:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    finally:
        client.close()
    requests = server.requests
    assert len(requests) == 3
    assert KEY not in repr(requests)
    for request in requests:
        assert KEY not in json.dumps(request.headers)
    assert requests[0].headers["authorization"] == "<redacted>"
    assert requests[1].headers["anthropic-version"]
    assert requests[2].headers["x-api-key"] == "<redacted>"
    assert all(name == name.lower() for name in requests[1].headers)


def test_anthropic_system_blocks_and_content_blocks(harness: Harness) -> None:
    server = harness.server(None)
    message = harness.anthropic(server).messages.create(
        model="m",
        max_tokens=5,
        system=[{"type": "text", "text": "rule one"}, {"type": "text", "text": "rule two"}],
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
        ],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: second"
    [request] = server.requests
    assert request.system == "rule one\nrule two"
    assert request.prompt == "second"
    assert len(request.messages) == 3


def _http(url: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_invalid_bodies_and_unknown_routes(harness: Harness) -> None:
    server = harness.server()
    status, body = _http(server.openai_base_url + "/chat/completions", b"{not json")
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    status, body = _http(server.url + "/v1/messages", json.dumps({"model": "m"}).encode())
    assert status == 400
    assert body["type"] == "error"
    assert "messages" in body["error"]["message"]
    status, body = _http(
        server.url + "/chat/completions",
        json.dumps(
            {"model": "m", "messages": [{"role": "user", "content": "short path"}]}
        ).encode(),
    )
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "fixed text"
    assert server.call_count == 3
    status, body = _http(server.url + "/v1/embeddings", b"{}")
    assert status == 404
    assert "no route" in body["error"]["message"]
    assert server.call_count == 3


# -- concurrency, latency, lifecycle ------------------------------------------------------


def test_latency_overlaps_across_concurrent_requests(harness: Harness) -> None:
    # Every request waits, inside the server, until all four are in: the replies
    # come only if the server handles them at once (no clock involved; the timeout
    # only stops a broken server from hanging the test).
    together = threading.Barrier(4, timeout=30)

    def reply(request: RecordedRequest) -> str:
        together.wait()
        return "slow"

    server = harness.server(reply, latency=0.2)
    client = harness.openai(server)

    def call(i: int) -> str:
        done = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"call {i}"}]
        )
        return done.choices[0].message.content or ""

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(call, range(4)))
    assert replies == ["slow"] * 4
    assert server.max_concurrent == 4  # all four waited out their latency at once
    assert server.call_count == 4  # none was retried
    assert sorted(r.prompt for r in server.requests) == [f"call {i}" for i in range(4)]


def test_sequential_requests_do_not_overlap(harness: Harness) -> None:
    server = harness.server("x", latency=0.05)
    for _ in range(3):
        harness.ask(server, "anthropic", "hi")
    assert server.max_concurrent == 1


def test_binds_loopback_on_an_ephemeral_port(harness: Harness) -> None:
    server = harness.server()
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0
    assert server.openai_base_url == server.url + "/v1"
    assert server.anthropic_base_url == server.url
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
        assert conn.getpeername() == ("127.0.0.1", server.port)
    other = harness.server()
    assert other.port != server.port


def _port_is_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_stop_is_idempotent_and_closes_the_port(harness: Harness) -> None:
    server = ModelServer("bye")
    server.stop()  # never started: fine
    server.start()
    assert server.start() is server  # already running: fine
    port = server.port
    client = harness.openai(server)  # left open: its keep-alive connection must not block stop
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    server.stop()
    server.stop()
    assert not server.running
    assert _port_is_closed(port)
    with pytest.raises(RuntimeError):
        _ = server.url
    assert server.call_count == 1  # the record survives stop()


def test_context_manager_stops(harness: Harness) -> None:
    with ModelServer("ctx") as server:
        port = server.port
        assert harness.ask(server, "openai", "hi").text == "ctx"
    assert _port_is_closed(port)


def test_stop_does_not_wait_out_the_latency(harness: Harness) -> None:
    server = harness.server("never", latency=30)
    client = harness.openai(server, max_retries=0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        except openai.APIError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    _wait_for(lambda: server.call_count == 1)
    server.stop()
    thread.join(60)  # only a guard against hanging: stop() ends the call at once
    assert not thread.is_alive()
    assert len(errors) == 1
    # the connection was dropped by stop(), not given up by the client's 10 s timeout
    assert isinstance(errors[0], openai.APIConnectionError)
    assert not isinstance(errors[0], openai.APITimeoutError)


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until ``condition`` holds (a server-side event, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_importing_the_package_does_not_import_the_sdks() -> None:
    code = (
        "import sys, pytest_llmdrift.testing\n"
        "heavy = sorted({'openai', 'anthropic', 'httpx2', 'httpx'} & set(sys.modules))\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"
