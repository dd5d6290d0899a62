"""OpenAI chat completions, and any OpenAI-compatible server, through the official SDK.

The SDK is imported on the first live call. It does its own retries (429, 5xx,
connection errors, honouring ``retry-after``) and timeouts; this module only sets
``max_retries``/``timeout`` from ``--llm-max-retries``/``--llm-timeout``.
Chat completions (not the Responses API) because only they report a
``system_fingerprint`` and accept ``seed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pytest_llmdrift.providers.base import SDKProvider
from pytest_llmdrift.reply import ChatRequest, Reply, Usage

if TYPE_CHECKING:
    import openai

# A placeholder key for OpenAI-compatible servers that do not check one (Ollama,
# llama.cpp, LM Studio); never sent to api.openai.com.
NO_KEY = "not-needed"


class OpenAIProvider(SDKProvider["openai.OpenAI"]):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    key_var = "OPENAI_API_KEY"
    base_url_var = "OPENAI_BASE_URL"

    @property
    def is_official(self) -> bool:
        return urlparse(self.endpoint).hostname == "api.openai.com"

    def api_key(self) -> str:
        if not self.is_official and not self.options.env.get(self.key_var):
            return NO_KEY
        return super().api_key()

    def make_client(self) -> openai.OpenAI:
        kwargs = self.client_kwargs()
        import openai

        kwargs["http_client"] = self.http_client(openai.DefaultHttpxClient)
        return openai.OpenAI(**kwargs)

    def build_kwargs(self, model: str, request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.extend(dict(m) for m in request.messages)
        params = dict(request.params)
        kwargs: dict[str, Any] = {"model": model, "messages": messages}
        max_tokens = params.pop("max_tokens", None)
        if max_tokens is not None:
            # OpenAI's own API wants max_completion_tokens (reasoning models reject
            # max_tokens); compatible servers mostly know only max_tokens.
            kwargs["max_completion_tokens" if self.is_official else "max_tokens"] = max_tokens
        kwargs.update(params)
        return kwargs

    def complete(self, *, model: str, request: ChatRequest) -> Reply:
        __tracebackhide__ = True
        client = self.client()
        import openai

        kwargs = self.build_kwargs(model, request)
        response, latency = self.call(
            openai, model, lambda: client.chat.completions.create(**kwargs), request=request
        )
        if not response.choices:
            raise self.error(model, 200, "the response has no choices")
        usage = response.usage
        return Reply(
            text=response.choices[0].message.content or "",
            model=response.model or model,
            requested_model=model,
            provider=self.name,
            fingerprint=response.system_fingerprint,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            latency_s=latency,
        )
