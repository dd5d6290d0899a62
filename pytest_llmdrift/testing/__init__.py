"""A loopback model server for testing code that calls OpenAI or Anthropic.

``ModelServer`` listens on ``127.0.0.1`` (an ephemeral port) and speaks enough of the
OpenAI chat completions API and the Anthropic messages API, streaming included, that
the official SDKs work against it unchanged: point their ``base_url`` (or
``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL``) at it. It records every request, answers
from a script, and can inject faults (rate limits, 5xx, dropped connections, broken
JSON) to exercise retries and error handling. Standard library only; importing this
package does not import either SDK.

Example::

    import openai
    from pytest_llmdrift.testing import Fault, ModelServer, ScriptedReply

    def test_my_app(monkeypatch):
        script = {
            "capital of France": "Paris",
            "capital of Peru": ScriptedReply("Lima", model="gpt-4o-2024-11-20"),
            "*": "I don't know",
        }
        with ModelServer(reply=script, served_models={"gpt-4o": "gpt-4o-2024-08-06"}) as server:
            monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
            server.inject(Fault.rate_limit())        # first call: 429, the SDK retries
            client = openai.OpenAI(api_key="test-key")
            reply = client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "What is the capital of France?"}],
            )
            assert reply.choices[0].message.content == "Paris"
            assert reply.model == "gpt-4o-2024-08-06"
            assert server.call_count == 2             # the 429 and the retry
            assert server.requests[-1].prompt == "What is the capital of France?"

Routes: ``POST /v1/chat/completions`` (and ``/chat/completions``), ``POST /v1/messages``
and ``GET /v1/models``. Errors use each provider's own JSON error shape, so the SDKs
raise their usual exceptions (``RateLimitError``, ``InternalServerError``,
``BadRequestError``...).
"""

from pytest_llmdrift.testing._model import (
    Fault,
    RecordedRequest,
    ReplyResult,
    ReplyScript,
    ScriptedReply,
)
from pytest_llmdrift.testing.server import ModelServer

__all__ = [
    "Fault",
    "ModelServer",
    "RecordedRequest",
    "ReplyResult",
    "ReplyScript",
    "ScriptedReply",
]
