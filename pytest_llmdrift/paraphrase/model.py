"""The model paraphraser behind ``paraphrases(template, n, using="MODEL")``.

It runs at collection time, when ``paraphrases()`` is called in a decorator, and
only when the committed ``__paraphrases__`` file lacks the group or regeneration
was asked for. Inside a pytest run it goes through the run's engine (so the call
is cached, budgeted and counted like any other); outside pytest it makes a
standalone engine with the default settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmdrift.errors import LLMDriftError
from pytest_llmdrift.reply import ChatRequest

if TYPE_CHECKING:
    from pytest_llmdrift.client import Engine


PARAPHRASE_PROMPT = """Rewrite the prompt below in {count} different ways. Each rewrite \
must ask exactly the same thing and keep, character for character, every number, every \
quoted text, every piece of code in backticks or code fences, every {{placeholder}} and \
every JSON block. Vary the wording, the politeness and the order of instructions.

Reply with only a JSON array of {count} strings.

Prompt:
<<<
{template}
>>>"""


class ParaphraserError(LLMDriftError):
    """The paraphrasing model's reply could not be used."""


def _engine() -> Engine:
    from pytest_llmdrift.client import ACTIVE_ENGINE

    engine = ACTIVE_ENGINE.get()
    if engine is not None:
        return engine
    from pytest_llmdrift.client import Engine
    from pytest_llmdrift.config import Settings
    from pytest_llmdrift.providers import ProviderOptions, builtin_provider

    def make(name: str):  # type: ignore[no-untyped-def]
        provider = builtin_provider(name, ProviderOptions(env=dict(os.environ)))
        if provider is None:
            raise ParaphraserError(f"no built-in provider {name!r} outside a pytest run")
        return provider

    return Engine(Settings(cache_dir=Path.cwd() / ".llmdrift" / "cache"), make)


def rewrite_with_model(template: str, n: int, model: str) -> list[str]:
    """Ask ``model`` for ``n - 1`` rewordings of ``template``; returns the candidates
    (the caller checks protected spans and fills up with generated variants)."""
    engine = _engine()
    spec = engine.parse_model(model)
    count = max(1, n - 1)
    request = ChatRequest.build(
        PARAPHRASE_PROMPT.format(count=count, template=template), params={"temperature": 0.7}
    )
    text = engine.complete(spec, request, accept=lambda t: _candidates(t, model)).text
    return _candidates(text, model)


def _candidates(text: str, model: str) -> list[str]:
    """The rewordings in the model's answer; raises (so the answer is not cached)
    when it is not a JSON array of strings."""
    from pytest_llmdrift.scorers import parse_json_reply

    try:
        data = parse_json_reply(text)
    except ValueError:
        data = None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        excerpt = " ".join(text.split())[:200]
        raise ParaphraserError(
            f"the paraphrasing model {model!r} did not answer with a JSON array of strings: "
            f"{excerpt!r}. Try another model with using=..., or drop using= to generate "
            "variants without a model."
        )
    return [item for item in data if item.strip()]
