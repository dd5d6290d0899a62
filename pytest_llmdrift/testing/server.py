"""``ModelServer``: a loopback HTTP server that speaks the OpenAI and Anthropic wire protocols.

Standard library only: a ``ThreadingHTTPServer`` on ``127.0.0.1`` and an ephemeral port,
served from a daemon thread, one thread per connection. See the package docstring of
``pytest_llmdrift.testing`` for a usage example.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_llmdrift.testing import _wire
from pytest_llmdrift.testing._model import (
    REDACTED,
    Fault,
    RecordedRequest,
    ReplyResult,
    ReplyScript,
    ScriptedReply,
    content_text,
    estimate_tokens,
)

__all__ = ["Fault", "ModelServer", "RecordedRequest", "ReplyScript", "ScriptedReply"]

log = logging.getLogger("pytest_llmdrift.testing")

DEFAULT_FINGERPRINT = "fp_llmdrift_test"
HOST = "127.0.0.1"

Protocol = Literal["openai", "anthropic"]

# Header values never recorded (lower-case names).
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "x-goog-api-key"}
)
_OPENAI_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_ANTHROPIC_PATHS = frozenset({"/v1/messages"})
_MODELS_PATHS = frozenset({"/v1/models", "/models"})
_STOP_TIMEOUT = 5.0


# -- what a request is answered with ----------------------------------------------------------


@dataclass(frozen=True)
class _JSONAnswer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


@dataclass(frozen=True)
class _StreamAnswer:
    events: list[bytes]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _DropAnswer:
    pass


@dataclass(frozen=True)
class _TrickleAnswer:
    interval: float
    size: int


_Answer = _JSONAnswer | _StreamAnswer | _DropAnswer | _TrickleAnswer


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int
    model: str | None


@dataclass
class _State:
    """Mutable server state; every access holds ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[_QueuedFault] = field(default_factory=list)
    in_flight: int = 0
    max_concurrent: int = 0
    seen_models: dict[str, None] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


class ModelServer:
    """A fake model API on ``127.0.0.1`` that the real OpenAI and Anthropic SDKs can call.

    Args:
        reply: how replies are chosen. A ``str`` (or a ``ScriptedReply`` or ``Fault``)
            answers every request. A mapping is looked up with the last user message
            (``request.prompt``): an exact key first, then the first key contained in the
            prompt, then the key ``"*"``; no match is answered with a 400 error quoting the
            prompt. Its values may be ``str``, ``ScriptedReply`` or ``Fault``. A callable
            receives the ``RecordedRequest`` and returns a ``str``, ``ScriptedReply`` or
            ``Fault``; it runs on the server's request threads, possibly concurrently, and
            if it raises, the client gets a 500 (marked not to be retried) naming the
            exception. ``None`` echoes: the reply is ``"echo: " + request.prompt``.
        latency: seconds to wait before answering each request (requests overlap).
        served_models: requested model name -> name reported back, like a floating
            alias (``{"gpt-4o": "gpt-4o-2024-08-06"}``); unlisted names are served as asked.
        fingerprints: served model name -> OpenAI ``system_fingerprint``
            (default ``"fp_llmdrift_test"``).

    Use it as a context manager, or call ``start()`` and ``stop()``::

        with ModelServer(reply="hi") as server:
            client = openai.OpenAI(api_key="test", base_url=server.openai_base_url)
    """

    def __init__(
        self,
        reply: ReplyScript = None,
        latency: float = 0.0,
        served_models: Mapping[str, str] | None = None,
        fingerprints: Mapping[str, str] | None = None,
    ) -> None:
        _check_reply(reply)
        self._reply: ReplyScript = reply
        self._latency = _check_latency(latency)
        self._served_models = dict(served_models or {})
        self._fingerprints = dict(fingerprints or {})
        self._state = _State()
        self._httpd: _LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lifecycle = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ModelServer:
        """Bind ``127.0.0.1`` on a free port and serve from a daemon thread; returns ``self``.

        Calling it on a running server does nothing. A stopped server can be started
        again (on a new port).
        """
        with self._lifecycle:
            if self._httpd is not None:
                return self
            self._stopping.clear()
            httpd = _LoopbackHTTPServer(self)
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"llmdrift-model-server-{httpd.server_port}",
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
            log.debug("model server listening on %s", self.url)
            return self

    def stop(self) -> None:
        """Stop serving, drop open connections, join the threads and close the socket.

        Safe to call more than once, and on a server that never started.
        """
        with self._lifecycle:
            httpd, thread = self._httpd, self._thread
            if httpd is None or thread is None:
                return
            self._stopping.set()
            httpd.shutdown()
            thread.join(_STOP_TIMEOUT)
            httpd.close_connections()
            httpd.server_close()
            self._httpd = self._thread = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        httpd = self._httpd
        where = f"http://{HOST}:{httpd.server_port}" if httpd is not None else "stopped"
        return f"<ModelServer {where} calls={self.call_count}>"

    # -- addresses --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The port the server listens on (raises ``RuntimeError`` if not started)."""
        httpd = self._httpd
        if httpd is None:
            raise RuntimeError("the ModelServer is not running: call start() or use `with`")
        return int(httpd.server_port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url``/``OPENAI_BASE_URL`` for the OpenAI SDK: ``url + "/v1"``."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The ``base_url``/``ANTHROPIC_BASE_URL`` for the Anthropic SDK: ``url``."""
        return self.url

    # -- inspection and control -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every model request received, in arrival order (faulted ones too)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def call_count(self) -> int:
        """How many model requests were received."""
        with self._state.lock:
            return len(self._state.requests)

    @property
    def max_concurrent(self) -> int:
        """The most requests that were in flight at the same time."""
        with self._state.lock:
            return self._state.max_concurrent

    @property
    def pending_faults(self) -> int:
        """How many injected faults have not been used yet (counting ``times``)."""
        with self._state.lock:
            return sum(queued.remaining for queued in self._state.faults)

    @property
    def latency(self) -> float:
        """Seconds waited before each answer; may be changed while running."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency = _check_latency(seconds)

    def reset(self) -> None:
        """Forget recorded requests, queued faults and the concurrency high-water mark."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.faults.clear()
            self._state.max_concurrent = self._state.in_flight

    def inject(self, fault: Fault, times: int = 1, model: str | None = None) -> None:
        """Answer the next ``times`` requests with ``fault`` instead of a reply.

        With ``model``, only requests for that model (requested or served name) count.
        Faults are used in the order they were injected; they apply before the reply script.
        """
        if not isinstance(fault, Fault):
            raise TypeError(f"inject() takes a Fault, got {type(fault).__name__}")
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        with self._state.lock:
            self._state.faults.append(_QueuedFault(fault, times, model))

    def set_reply(self, reply: ReplyScript) -> None:
        """Replace the reply script (same forms as the ``reply`` argument)."""
        _check_reply(reply)
        with self._state.lock:
            self._reply = reply

    # -- answering (called on request threads) ----------------------------------------------

    @contextmanager
    def _track(self) -> Iterator[None]:
        state = self._state
        with state.lock:
            state.in_flight += 1
            state.max_concurrent = max(state.max_concurrent, state.in_flight)
        try:
            yield
        finally:
            with state.lock:
                state.in_flight -= 1

    def _wait_latency(self) -> bool:
        """Sleep the latency; False if the server is stopping meanwhile."""
        if self._latency > 0:
            self._stopping.wait(self._latency)
        return not self._stopping.is_set()

    def _models_answer(self, protocol: Protocol) -> _JSONAnswer:
        with self._state.lock:
            names = dict.fromkeys(
                [*self._served_models, *self._served_models.values(), *self._state.seen_models]
            )
        if protocol == "anthropic":
            return _json(200, _wire.anthropic_models(list(names)))
        return _json(200, _wire.openai_models(names))

    def _answer(
        self, protocol: Protocol, path: str, raw: bytes, headers: Mapping[str, str]
    ) -> _Answer:
        """Record one model request and decide its answer."""
        try:
            parsed = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        request = _record(protocol, path, body, headers)
        state = self._state
        with state.lock:
            state.requests.append(request)
            seq = next(state.ids)
            if request.model:
                state.seen_models.setdefault(request.model, None)
            served = self._served_models.get(request.model, request.model)
            fault = self._take_fault(request.model, served)
            reply = self._reply
        ident = f"chatcmpl-llmdrift{seq:06d}" if protocol == "openai" else f"msg_llmdrift{seq:06d}"
        if fault is not None:
            return _fault_answer(protocol, fault, request, ident)
        problem = _invalid(protocol, body) if parsed is not None else "the body is not JSON"
        if problem is not None:
            return _error(protocol, 400, problem, ident)
        result = self._run_script(reply, request)
        if isinstance(result, Fault):
            return _fault_answer(protocol, result, request, ident)
        if isinstance(result, str):
            result = ScriptedReply(result)
        input_text = "\n".join(
            [request.system or "", *(content_text(m.get("content")) for m in request.messages)]
        )
        served = result.model or served
        done = _wire.Completion(
            id=ident,
            created=int(time.time()),
            model=served,
            fingerprint=result.fingerprint or self._fingerprints.get(served, DEFAULT_FINGERPRINT),
            text=result.text,
            input_tokens=_tokens(result.input_tokens, input_text),
            output_tokens=_tokens(result.output_tokens, result.text),
        )
        id_header = ("x-request-id" if protocol == "openai" else "request-id", ident)
        if protocol == "openai":
            if request.stream:
                options = body.get("stream_options")
                usage = isinstance(options, dict) and options.get("include_usage") is True
                events = _wire.openai_stream(done, include_usage=usage)
                return _StreamAnswer(events, (id_header,))
            return _json(200, _wire.openai_completion(done), (id_header,))
        if request.stream:
            return _StreamAnswer(_wire.anthropic_stream(done), (id_header,))
        return _json(200, _wire.anthropic_message(done), (id_header,))

    def _take_fault(self, requested: str, served: str) -> Fault | None:
        """Pop the next queued fault that applies (the caller holds the lock)."""
        for queued in self._state.faults:
            if queued.model is None or queued.model in (requested, served):
                queued.remaining -= 1
                if queued.remaining <= 0:
                    self._state.faults.remove(queued)
                return queued.fault
        return None

    @staticmethod
    def _run_script(reply: ReplyScript, request: RecordedRequest) -> ReplyResult:
        if reply is None:
            return f"echo: {request.prompt}"
        if isinstance(reply, str | ScriptedReply | Fault):
            return reply
        if isinstance(reply, Mapping):
            return _lookup(reply, request.prompt)
        try:
            result: object = reply(request)
        except Exception as exc:
            log.exception("the ModelServer reply callable raised")
            return Fault.status(
                500,
                f"the reply callable raised {type(exc).__name__}: {exc}",
                {"x-should-retry": "false"},
            )
        if isinstance(result, str | ScriptedReply | Fault):
            return result
        return Fault.status(
            500,
            "the reply callable must return str, ScriptedReply or Fault, "
            f"not {type(result).__name__}",
            {"x-should-retry": "false"},
        )


# -- helpers --------------------------------------------------------------------------------


def _check_reply(reply: object) -> None:
    if reply is None or isinstance(reply, str | ScriptedReply | Fault | Mapping) or callable(reply):
        return
    raise TypeError(
        "reply must be a str, ScriptedReply, Fault, Mapping, callable or None, not "
        + type(reply).__name__
    )


def _check_latency(seconds: float) -> float:
    seconds = float(seconds)
    if not seconds >= 0:  # also rejects NaN
        raise ValueError(f"latency must be >= 0 seconds, got {seconds}")
    return seconds


def _tokens(given: int | None, text: str) -> int:
    return given if given is not None else estimate_tokens(text)


def _lookup(table: Mapping[str, str | ScriptedReply | Fault], prompt: str) -> ReplyResult:
    if prompt in table:
        return table[prompt]
    for key, value in table.items():
        if key != "*" and key in prompt:
            return value
    if "*" in table:
        return table["*"]
    shown = prompt if len(prompt) <= 200 else prompt[:200] + "..."
    keys = [repr(key) for key in itertools.islice(table, 10)]
    if len(table) > 10:
        keys.append("...")
    return Fault.status(
        400, f"no scripted reply matched the prompt {shown!r} (keys: {', '.join(keys)})"
    )


def _record(
    protocol: Protocol, path: str, body: dict[str, Any], headers: Mapping[str, str]
) -> RecordedRequest:
    raw_messages = body.get("messages")
    messages = tuple(
        m for m in (raw_messages if isinstance(raw_messages, list) else []) if isinstance(m, dict)
    )
    system: str | None = None
    if protocol == "openai":
        if messages and messages[0].get("role") in ("system", "developer"):
            system = content_text(messages[0].get("content"))
    elif "system" in body and body["system"] is not None:
        system = content_text(body["system"])
    model = body.get("model")
    return RecordedRequest(
        protocol=protocol,
        path=path,
        model=model if isinstance(model, str) else "",
        messages=messages,
        system=system,
        body=body,
        headers={
            name: REDACTED if name in _SECRET_HEADERS else value for name, value in headers.items()
        },
        stream=body.get("stream") is True,
    )


def _invalid(protocol: Protocol, body: dict[str, Any]) -> str | None:
    """Why the API would reject this body, or None."""
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        return "model: a model name is required"
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return "messages: every message needs a role"
    if protocol == "anthropic":
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return "max_tokens: Field required"
    return None


def _json(status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()) -> _JSONAnswer:
    return _JSONAnswer(status, json.dumps(payload).encode(), headers)


def _error(
    protocol: Protocol,
    status: int,
    message: str,
    ident: str,
    headers: tuple[tuple[str, str], ...] = (),
) -> _JSONAnswer:
    if protocol == "openai":
        payload = _wire.openai_error(status, message)
        return _json(status, payload, (("x-request-id", ident), *headers))
    request_id = f"req_{ident}"
    return _json(
        status,
        _wire.anthropic_error(status, message, request_id),
        (("request-id", request_id), *headers),
    )


def _fault_answer(
    protocol: Protocol, fault: Fault, request: RecordedRequest, ident: str
) -> _Answer:
    if fault.kind == "drop":
        return _DropAnswer()
    if fault.kind == "trickle":
        return _TrickleAnswer(fault.interval, fault.size)
    if fault.kind == "malformed":
        if request.stream:
            return _StreamAnswer(_wire.malformed_stream())
        return _JSONAnswer(200, _wire.malformed_body())
    return _error(protocol, fault.status_code, fault.message, ident, fault.headers)


# -- HTTP -----------------------------------------------------------------------------------


class _LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that can drop its open connections on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False

    def __init__(self, owner: ModelServer) -> None:
        self.owner = owner
        self._open: dict[socket.socket, threading.Thread | None] = {}
        self._open_lock = threading.Lock()
        super().__init__((HOST, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN, which can be slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="llmdrift-model-server-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection so its thread ends, then join the threads."""
        with self._open_lock:
            open_now = list(self._open.items())
        for sock, _ in open_now:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in open_now:
            if thread is not None and thread is not threading.current_thread():
                thread.join(_STOP_TIMEOUT)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections the client (or stop()) closed are routine; anything else is a bug.
        log.debug("model server connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "pytest-llmdrift-testing/1"
    server: _LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def _headers(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        return merged

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _protocol_of(self, path: str) -> Protocol:
        if path in _ANTHROPIC_PATHS or "anthropic-version" in self._headers():
            return "anthropic"
        return "openai"

    def do_POST(self) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(_error(self._protocol_of(path), 400, "unreadable request body", "bad"))
            return
        if path not in _OPENAI_PATHS and path not in _ANTHROPIC_PATHS:
            self._not_found(path)
            return
        protocol: Protocol = "anthropic" if path in _ANTHROPIC_PATHS else "openai"
        with owner._track():
            answer = owner._answer(protocol, path, raw, self._headers())
            if not owner._wait_latency():
                answer = _DropAnswer()
            self._send(answer)

    def do_GET(self) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path not in _MODELS_PATHS:
            self._not_found(path)
            return
        with owner._track():
            self._send(owner._models_answer(self._protocol_of(path)))

    def _not_found(self, path: str) -> None:
        message = f"no route for {self.command} {path} on the pytest-llmdrift model server"
        self._send(_error(self._protocol_of(path), 404, message, "not-found"))

    def _send(self, answer: _Answer) -> None:
        if isinstance(answer, _DropAnswer):
            self.close_connection = True
            return
        if isinstance(answer, _TrickleAnswer):
            self._trickle(answer)
            return
        if isinstance(answer, _JSONAnswer):
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        for event in answer.events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")

    def _trickle(self, answer: _TrickleAnswer) -> None:
        """Headers at once, then one byte of body per interval (Fault.trickle)."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(answer.size))
        self.end_headers()
        stopping = self.server.owner._stopping
        with suppress(OSError):  # the client hung up: what the fault is for
            for _ in range(answer.size):
                self.wfile.write(b" ")
                self.wfile.flush()
                if stopping.wait(answer.interval):
                    return
