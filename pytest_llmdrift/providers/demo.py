"""The ``demo`` provider: the built-in demo models, served on loopback.

The first live call starts a :class:`~pytest_llmdrift.testing.ModelServer` in this
process (127.0.0.1, an ephemeral port) and talks to it through the real OpenAI SDK,
so a demo run exercises the same path as a real provider. No key, no network.
The endpoint in cache keys is the constant ``demo``, not the changing port.

The demo models are simulations (see :mod:`pytest_llmdrift.testing.demo`). Above
temperature 0 their answers vary by sample, so each request to the loopback server
carries the sample index of the call in progress in an ``x-llmdrift-sample``
header; no other provider sends it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pytest_llmdrift.providers import ProviderOptions
from pytest_llmdrift.providers.openai_chat import OpenAIProvider
from pytest_llmdrift.reply import ChatRequest, Reply

if TYPE_CHECKING:
    from pytest_llmdrift.testing import ModelServer, RecordedRequest, ScriptedReply

# The endpoint in cache keys. It names the version of the simulation, so replies
# cached from an older version of the demo models are not replayed as today's.
DEMO_ENDPOINT = "demo/2"
# The demo models, known without importing the loopback server (start-up checks).
DEMO_MODELS: tuple[str, ...] = ("demo-2023-03", "demo-2023-06")
# The loopback server checks no key; this one is unlike any text a message holds,
# so scrubbing it (as every key is scrubbed) cannot garble an error.
DEMO_KEY = "llmdrift-demo-no-key-needed"
# The request header that tells the loopback server the sample index.
SAMPLE_HEADER = "x-llmdrift-sample"


class _DemoOpenAI(OpenAIProvider):
    name = "demo"

    def build_kwargs(self, model: str, request: ChatRequest) -> dict[str, Any]:
        from pytest_llmdrift.client import CURRENT_SAMPLE

        kwargs = super().build_kwargs(model, request)
        headers = dict(kwargs.get("extra_headers") or {})
        headers[SAMPLE_HEADER] = str(CURRENT_SAMPLE.get())
        kwargs["extra_headers"] = headers
        return kwargs


def _sample_of(request: RecordedRequest) -> int:
    try:
        return max(0, int(request.headers.get(SAMPLE_HEADER, "0")))
    except ValueError:
        return 0


def _temperature_of(request: RecordedRequest) -> float | None:
    value = request.body.get("temperature")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _respond(request: RecordedRequest) -> ScriptedReply | str:
    from pytest_llmdrift.testing import Fault, ScriptedReply
    from pytest_llmdrift.testing.demo import DEMO_FINGERPRINTS, demo_reply

    if request.model not in DEMO_MODELS:
        return Fault.status(  # type: ignore[return-value]
            404,
            f"no demo model {request.model!r}; the demo models are {', '.join(DEMO_MODELS)}",
        )
    return ScriptedReply(
        text=demo_reply(
            request.model,
            request.prompt,
            temperature=_temperature_of(request),
            sample=_sample_of(request),
        ),
        fingerprint=DEMO_FINGERPRINTS[request.model],
    )


class DemoProvider:
    name = "demo"

    def __init__(self, options: ProviderOptions) -> None:
        self.options = options
        self._server: ModelServer | None = None
        self._client: OpenAIProvider | None = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return DEMO_ENDPOINT

    @staticmethod
    def validate_model(name: str) -> None:
        """Unknown demo models are a usage error at start-up, not failing tests."""
        if name not in DEMO_MODELS:
            raise ValueError(
                f"there is no demo model {name!r}; the demo models are {', '.join(DEMO_MODELS)}"
            )

    def _openai(self) -> OpenAIProvider:
        with self._lock:
            if self._client is None:
                from pytest_llmdrift.testing import ModelServer

                self._server = ModelServer(reply=_respond).start()
                options = ProviderOptions(
                    timeout=self.options.timeout,
                    max_retries=self.options.max_retries,
                    env={
                        "OPENAI_BASE_URL": self._server.openai_base_url,
                        "OPENAI_API_KEY": DEMO_KEY,
                    },
                )
                self._client = _DemoOpenAI(options)
            return self._client

    def complete(self, *, model: str, request: ChatRequest) -> Reply:
        __tracebackhide__ = True
        return self._openai().complete(model=model, request=request)

    def close(self) -> None:
        with self._lock:
            client, server = self._client, self._server
            self._client = self._server = None
        if client is not None:
            client.close()
        if server is not None:
            server.stop()
