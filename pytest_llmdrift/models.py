"""Model specs: ``[provider:]name`` parsing and provider inference. Pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Built-in providers and the unprefixed names they claim. Order matters only for
# readability: the patterns do not overlap.
BUILTIN_PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "demo")
INFERENCE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("openai", re.compile(r"^(gpt-|o1|o3|o4|chatgpt-|text-|ft:)")),
    ("anthropic", re.compile(r"^claude-")),
    ("demo", re.compile(r"^demo-")),
)
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


class ModelSpecError(ValueError):
    """A model spec that cannot be used; the message says how to fix it."""


@dataclass(frozen=True, order=True)
class ModelSpec:
    """A pinned model: which provider serves it and the name to request.

    ``text`` is the spec as the user wrote it; it is what test ids show.
    """

    provider: str
    name: str
    text: str

    def __str__(self) -> str:
        return self.text


def infer_builtin_provider(name: str) -> str | None:
    """The built-in provider that claims an unprefixed model ``name``, if any."""
    for provider, pattern in INFERENCE_RULES:
        if pattern.match(name):
            return provider
    return None


def parse_model_spec(
    text: str,
    *,
    infer: Callable[[str], str | None] = infer_builtin_provider,
    known_providers: Iterable[str] = BUILTIN_PROVIDERS,
) -> ModelSpec:
    """Parse ``[provider:]name``.

    ``infer`` maps an unprefixed name to a provider (or None); ``known_providers``
    lists the provider names a prefix may use. Raises :class:`ModelSpecError`.
    """
    raw = text.strip()
    known = sorted(set(known_providers))
    if not raw:
        raise ModelSpecError("empty model name: pass a model such as --llm-model=gpt-4o-2024-08-06")
    provider, sep, name = raw.partition(":")
    if sep and _PROVIDER_NAME.match(provider) and provider not in known:
        inferred = infer(raw)  # a whole name with colons, e.g. an OpenAI fine-tune
        if inferred is not None:
            return ModelSpec(provider=inferred, name=raw, text=raw)
        raise ModelSpecError(
            f"unknown provider {provider!r} in model {raw!r}; "
            f"known providers: {', '.join(known)}. If {raw!r} is the whole model name, "
            f"prefix it with its provider, e.g. openai:{raw} for an OpenAI-compatible "
            "server. A plugin can add providers (see the pytest_llmdrift_make_provider hook)."
        )
    if sep and _PROVIDER_NAME.match(provider):
        if not name:
            raise ModelSpecError(
                f"model {raw!r} names a provider but no model: write {provider}:MODEL_NAME"
            )
        return ModelSpec(provider=provider, name=name, text=raw)
    inferred = infer(raw)
    if inferred is None:
        raise ModelSpecError(
            f"cannot tell which provider serves model {raw!r}. "
            "Prefix it with the provider, e.g. openai:" + raw + " for any "
            "OpenAI-compatible server (vLLM, Ollama, LM Studio) or anthropic:" + raw + "; "
            f"known providers: {', '.join(known)}"
        )
    return ModelSpec(provider=inferred, name=raw, text=raw)


def split_model_list(values: Iterable[str]) -> list[str]:
    """Flatten repeated/comma-separated model values, dropping blanks and duplicates."""
    out: list[str] = []
    for value in values:
        for part in value.replace(",", " ").split():
            if part not in out:
                out.append(part)
    return out


def baseline_name(item: Any) -> str | None:
    """The item's parametrisation id without its model, or None when the item is not
    pinned to a model. ``test_prime[7-demo-2023-03]`` -> ``7``; ``test_x[gpt-4o]`` -> ``""``."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    spec = callspec.params.get("llm", callspec.params.get("llm_model"))
    if not isinstance(spec, ModelSpec):
        return None
    full: str = callspec.id
    ids = list(getattr(callspec, "_idlist", ()))
    if "-".join(ids) == full and spec.text in ids:
        ids.reverse()
        ids.remove(spec.text)  # the model's id, added last by the plugin
        ids.reverse()
        return "-".join(ids)
    if full == spec.text:
        return ""
    if full.endswith("-" + spec.text):
        return full[: -len(spec.text) - 1]
    return full


def unpinned_nodeid(item: Any) -> str:
    """The item's node id without its model: ``t.py::test_p[7-demo-2023-03]`` ->
    ``t.py::test_p[7]``. How reports pair one test's runs on different models."""
    nodeid: str = item.nodeid
    ids = baseline_name(item)
    name: str = getattr(item, "name", "")
    if ids is None or not name or not nodeid.endswith(name) or "[" not in name:
        return nodeid
    # The item's own name ends the node id; cut there (a parameter id may hold "::").
    stem = nodeid[: len(nodeid) - len(name)] + name[: name.index("[")]
    return stem + (f"[{ids}]" if ids else "")
