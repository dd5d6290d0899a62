"""Anthropic messages through the official SDK (imported on the first live call).

anthropic 2.x dropped ``temperature``/``top_p``/``top_k`` from ``messages.create``;
they travel in ``extra_body`` for servers that still accept them. Anthropic has no
``seed``: it stays in the cache key (it is part of what the test asked for) but is
not sent. ``max_tokens`` is required by the API; 1024 is used when a test gives none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_llmdrift.providers.base import SDKProvider
from pytest_llmdrift.reply import ChatRequest, Reply, Usage

if TYPE_CHECKING:
    import anthropic

DEFAULT_MAX_TOKENS = 1024
BODY_ONLY_PARAMS = ("temperature", "top_p", "top_k")
NOT_SENT_PARAMS = ("seed",)


class AnthropicProvider(SDKProvider["anthropic.Anthropic"]):
    name = "anthropic"
    default_base_url = "https://api.anthropic.com"
    key_var = "ANTHROPIC_API_KEY"
    base_url_var = "ANTHROPIC_BASE_URL"

    def make_client(self) -> anthropic.Anthropic:
        kwargs = self.client_kwargs()
        import anthropic

        kwargs["http_client"] = self.http_client(anthropic.DefaultHttpxClient)
        return anthropic.Anthropic(**kwargs)

    @staticmethod
    def build_kwargs(model: str, request: ChatRequest) -> dict[str, Any]:
        system_parts = [request.system] if request.system is not None else []
        messages = []
        for message in request.messages:
            if message.get("role") == "system":  # Anthropic takes system text apart
                system_parts.append(str(message.get("content", "")))
            else:
                messages.append(dict(message))
        params = dict(request.params)
        body = {k: params.pop(k) for k in BODY_ONLY_PARAMS if k in params}
        for name in NOT_SENT_PARAMS:
            params.pop(name, None)
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": params.pop("max_tokens", None) or DEFAULT_MAX_TOKENS,
        }
        if system_parts:
            kwargs["system"] = "\n\n".join(system_parts)
        if body:
            kwargs["extra_body"] = {**params.pop("extra_body", {}), **body}
        kwargs.update(params)
        return kwargs

    def complete(self, *, model: str, request: ChatRequest) -> Reply:
        __tracebackhide__ = True
        client = self.client()
        import anthropic

        kwargs = self.build_kwargs(model, request)
        response, latency = self.call(
            anthropic, model, lambda: client.messages.create(**kwargs), request=request
        )
        text = "".join(
            getattr(block, "text", "") for block in response.content if block.type == "text"
        )
        usage = response.usage
        return Reply(
            text=text,
            model=response.model or model,
            requested_model=model,
            provider=self.name,
            fingerprint=None,
            usage=Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
            latency_s=latency,
        )
