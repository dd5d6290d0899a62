"""The engine behind the ``llm`` fixture: cache modes, budget, concurrency, providers.

:class:`Engine` is one per process (it lives in ``config.stash``); :class:`LLM` is
the object a test receives, pinned to one model.
"""

from __future__ import annotations

import contextvars
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from pytest_llmdrift.budget import CallBudget
from pytest_llmdrift.cache import ResponseCache, cache_key, key_material
from pytest_llmdrift.config import Settings
from pytest_llmdrift.errors import (
    BudgetExceeded,
    ProviderError,
    ReplayMiss,
    StreamingNotSupported,
)
from pytest_llmdrift.models import ModelSpec, parse_model_spec
from pytest_llmdrift.providers import Provider
from pytest_llmdrift.reply import ChatRequest, PromptOrMessages, Reply
from pytest_llmdrift.stats import RunStats

ProviderMaker = Callable[[str], Provider]

# The engine of the pytest run in progress, for code that runs at import time
# (paraphrases(..., using=MODEL) in a decorator). Set and reset by the plugin.
ACTIVE_ENGINE: contextvars.ContextVar[Engine | None] = contextvars.ContextVar(
    "llmdrift_active_engine", default=None
)
# The sample index of the provider call in progress, for providers that can use it
# (the demo models vary their answers by sample when the temperature is above 0).
CURRENT_SAMPLE: contextvars.ContextVar[int] = contextvars.ContextVar(
    "llmdrift_current_sample", default=0
)


# Lone surrogates: valid in JSON ("\\ud800") and in a Python str, but not Unicode, so
# no UTF-8 file, database or report can hold them.
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Flight:
    """One provider call in progress, awaited by identical requests (single flight)."""

    __slots__ = ("done", "error", "reply", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.waiters = 0  # requests sharing this call (changed under the engine's lock)
        self.reply: Reply | None = None
        self.error: BaseException | None = None


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Engine:
    """Answers requests for pinned models from the cache or a provider."""

    def __init__(
        self,
        settings: Settings,
        make_provider: ProviderMaker,
        *,
        budget: CallBudget | None = None,
        stats: RunStats | None = None,
        parse_model: Callable[[str], ModelSpec] = parse_model_spec,
        run_id: str | None = None,
    ) -> None:
        self.settings = settings
        # Names this run in the cache's use marks (`llmdrift cache prune --unused`);
        # every xdist worker of one run passes the same id.
        self.run_id = run_id or uuid.uuid4().hex
        # Reads a model spec the way this run does (plugins' providers included).
        self.parse_model = parse_model
        self._make_provider = make_provider
        self.budget = budget or CallBudget(settings.max_calls)
        self.stats = stats or RunStats()
        self._providers: dict[str, Provider] = {}
        self._providers_lock = threading.Lock()
        self._cache: ResponseCache | None = None
        self._cache_lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(settings.concurrency)
        # Single flight: cache key -> the call in progress for it. Touched on cache
        # misses only, so cached reads take no lock here.
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()

    # -- parts made on first use -------------------------------------------------
    def provider(self, name: str) -> Provider:
        with self._providers_lock:
            if name not in self._providers:
                self._providers[name] = self._make_provider(name)
            return self._providers[name]

    @property
    def cache(self) -> ResponseCache | None:
        if self.settings.cache_mode == "off":
            return None
        with self._cache_lock:
            if self._cache is None:
                self._cache = ResponseCache(self.settings.cache_dir, run_id=self.run_id)
            return self._cache

    def close(self) -> None:
        with self._providers_lock:
            providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            provider.close()
        if self._cache is not None:
            self._cache.close()  # closing may add a notice (use marks not written)
            self.stats.add_cache_notices(self._cache.notices, self._cache.alarms)
            self._cache = None

    # -- answering -----------------------------------------------------------------
    def complete(
        self,
        spec: ModelSpec,
        request: ChatRequest,
        *,
        sample: int = 0,
        accept: Callable[[str], object] | None = None,
    ) -> Reply:
        """The reply to ``request`` from ``spec``: cached, or live (then cached).

        ``accept`` checks a reply's text before it is used or stored (e.g. a judge's
        verdict must parse): a live reply it rejects is not cached, and a cached one it
        rejects is asked again, so an unusable answer is never replayed forever.
        """
        __tracebackhide__ = True
        provider = self.provider(spec.provider)
        material = key_material(
            provider=spec.provider,
            endpoint=provider.endpoint,
            model=spec.name,
            request=request,
            sample=sample,
        )
        key = cache_key(material)
        mode = self.settings.cache_mode
        cache = self.cache
        model_id = f"{spec.provider}:{spec.name}"
        if cache is not None and mode in ("use", "replay"):
            hit = cache.get(key)
            self.stats.add_cache_notices(cache.notices, cache.alarms)
            if hit is not None and _accepted(accept, hit.text, replay=mode == "replay"):
                self.stats.record_reply(model_id, hit)
                return replace(hit, request=request)
        if mode == "replay":
            self.stats.record_replay_miss(model_id)
            raise ReplayMiss(
                f"--llm-cache=replay: no cached reply for model {spec.text!r} "
                f"(sample {sample}, endpoint {material['endpoint']}) to the prompt "
                f"{_excerpt(request.prompt)!r} in {self.settings.cache_dir}; no call was "
                "made. Record it with "
                "--llm-cache=use (needs the provider's key), or import an export with "
                f"`llmdrift cache import FILE --cache-dir {self.settings.cache_dir}`."
            )
        # Single flight: an identical request already in flight in this process is
        # not asked again; its reply (or error) is shared.
        with self._flights_lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                flight.waiters += 1
        if not leading:
            return self._follow(flight, model_id, request, accept)
        try:
            if cache is not None and mode == "use":
                # A call for this key may have ended (and been cached) since the miss.
                hit = cache.get(key)
                if hit is not None and _accepted(accept, hit.text, replay=False):
                    self.stats.record_reply(model_id, hit)
                    flight.reply = hit
                    return replace(hit, request=request)
            reply = self._call(spec, provider, request, sample, accept, cache, key, material)
            flight.reply = reply
            return reply
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                del self._flights[key]
            flight.done.set()

    def _follow(
        self,
        flight: _Flight,
        model_id: str,
        request: ChatRequest,
        accept: Callable[[str], object] | None,
    ) -> Reply:
        """The reply of an identical call in flight: shared, counted as cached (this
        request made no provider call and spent no budget); its error is raised here too."""
        __tracebackhide__ = True
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        assert flight.reply is not None
        reply = replace(flight.reply, cached=True, request=request)
        self.stats.record_reply(model_id, reply)
        if accept is not None:
            accept(reply.text)
        return reply

    def _call(
        self,
        spec: ModelSpec,
        provider: Provider,
        request: ChatRequest,
        sample: int,
        accept: Callable[[str], object] | None,
        cache: ResponseCache | None,
        key: str,
        material: dict[str, Any],
    ) -> Reply:
        """One live provider call: budget, concurrency limit, clean-up, cache."""
        __tracebackhide__ = True
        model_id = f"{spec.provider}:{spec.name}"
        if not self.budget.take():
            self.stats.record_budget_refusal()
            raise BudgetExceeded(
                f"the live-call budget of {self.budget.limit} (--llm-max-calls) is spent; "
                f"this call to {spec.text!r} was not made. Raise --llm-max-calls, or answer "
                "from the cache with --llm-cache=replay."
            )
        with self._in_flight:
            token = CURRENT_SAMPLE.set(sample)
            try:
                reply = provider.complete(model=spec.name, request=request)
            except ProviderError as exc:
                self.stats.record_error(model_id)
                if not exc.model:
                    exc.model = spec.name
                raise
            finally:
                CURRENT_SAMPLE.reset(token)
        reply = replace(
            reply, requested_model=spec.name, provider=spec.provider, sample=sample, request=request
        )
        reply, replaced = _replace_surrogates(reply)
        if replaced:
            self.stats.add_notices(
                [
                    f"{model_id}: the provider sent text with lone surrogates (not valid "
                    "Unicode, e.g. half an emoji); they were replaced by U+FFFD so the reply "
                    "can be cached, recorded and reported"
                ]
            )
        self.stats.record_reply(model_id, reply)
        if accept is not None:
            accept(reply.text)  # raises: the reply is not cached
        if cache is not None:
            self._note_served_change(cache, spec, provider.endpoint, reply)
            cache.put(key, material, reply)
        return reply

    def _note_served_change(
        self, cache: ResponseCache, spec: ModelSpec, endpoint: str, reply: Reply
    ) -> None:
        before = cache.served_identity(spec.provider, endpoint, spec.name)
        now = {"model": reply.model, "fingerprint": reply.fingerprint}
        if before is not None and before != now:
            self.stats.add_change(
                f"{spec.provider}:{spec.name}: the provider now serves {_identity(now)}; "
                f"the cache recorded {_identity(before)} on an earlier run"
            )
        if before != now:
            cache.set_served_identity(
                spec.provider, endpoint, spec.name, reply.model, reply.fingerprint
            )


def _replace_surrogates(reply: Reply) -> tuple[Reply, int]:
    """``reply`` with every lone surrogate in its text, served model and fingerprint
    replaced by U+FFFD, and how many there were. Every reply from a provider (plugin
    providers included) passes here before it is used or stored."""
    text, count = _SURROGATE.subn("\ufffd", reply.text)
    model, in_model = _SURROGATE.subn("\ufffd", reply.model)
    count += in_model
    fingerprint = reply.fingerprint
    if fingerprint is not None:
        fingerprint, in_fingerprint = _SURROGATE.subn("\ufffd", fingerprint)
        count += in_fingerprint
    if not count:
        return reply, 0
    return replace(reply, text=text, model=model, fingerprint=fingerprint), count


def _accepted(accept: Callable[[str], object] | None, text: str, *, replay: bool) -> bool:
    """Whether a cached reply passes ``accept``; in replay mode (no new call
    possible) its error is raised instead."""
    if accept is None:
        return True
    try:
        accept(text)
    except Exception:
        if replay:
            raise
        return False
    return True


def _identity(data: dict[str, Any]) -> str:
    fingerprint = data.get("fingerprint")
    return f"{data.get('model')}" + (f" (fingerprint {fingerprint})" if fingerprint else "")


def _refuse_streaming(params: dict[str, Any]) -> None:
    if params.get("stream"):
        raise StreamingNotSupported(
            "llm(..., stream=True): the llm fixture does not stream yet; it returns whole "
            "replies (reply.text is the full text a stream would have delivered). Drop "
            "stream=True; to test your own streaming code, point it at "
            "pytest_llmdrift.testing.ModelServer, which streams."
        )


class LLM:
    """A client pinned to the model of this test item (the ``llm`` fixture).

    ``llm(prompt)`` sends the prompt exactly as given and returns a :class:`Reply`;
    ``llm.sample(prompt, n)`` returns n independent replies (each sample index cached
    on its own); ``llm.map(prompts)`` runs calls concurrently, up to
    ``--llm-concurrency`` in flight, and returns the replies in order.
    """

    def __init__(
        self, engine: Engine, spec: ModelSpec, on_reply: Callable[[Reply], None] | None = None
    ) -> None:
        self._engine = engine
        self.spec = spec
        self.replies: list[Reply] = []
        # Set by @pytest.mark.llm_repeat: repetition k asks for sample k (and
        # llm.sample(prompt, n) for samples k*n .. k*n+n-1), each cached on its own.
        self.repetition = 0
        self._on_reply = on_reply
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The pinned model name (without a provider prefix)."""
        return self.spec.name

    @property
    def provider(self) -> str:
        return self.spec.provider

    def __repr__(self) -> str:
        return f"<llm {self.spec.text}>"

    def _ask(self, request: ChatRequest, sample: int) -> Reply:
        __tracebackhide__ = True
        return self._engine.complete(self.spec, request, sample=sample)

    def _keep(self, replies: list[Reply]) -> list[Reply]:
        with self._lock:
            self.replies.extend(replies)
        if self._on_reply is not None:
            for reply in replies:
                self._on_reply(reply)
        return replies

    def __call__(
        self,
        prompt_or_messages: PromptOrMessages,
        *,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Reply:
        __tracebackhide__ = True
        _refuse_streaming(params)
        request = ChatRequest.build(
            prompt_or_messages,
            system=system,
            params={"temperature": temperature, "max_tokens": max_tokens, "seed": seed, **params},
        )
        return self._keep([self._ask(request, self.repetition)])[0]

    def sample(self, prompt_or_messages: PromptOrMessages, n: int, **kwargs: Any) -> list[Reply]:
        """n independent replies to one prompt: samples 0..n-1, run concurrently."""
        __tracebackhide__ = True
        if n < 1:
            raise ValueError(f"llm.sample() needs n >= 1, got {n}")
        request = self._request(prompt_or_messages, kwargs)
        first = self.repetition * n
        return self._run([(request, first + index) for index in range(n)])

    def map(self, prompts: Iterable[PromptOrMessages], **kwargs: Any) -> list[Reply]:
        """One reply per prompt, in order, with calls running concurrently."""
        __tracebackhide__ = True
        return self._run([(self._request(p, kwargs), self.repetition) for p in prompts])

    @staticmethod
    def _request(prompt_or_messages: PromptOrMessages, kwargs: dict[str, Any]) -> ChatRequest:
        params = dict(kwargs)
        _refuse_streaming(params)
        system = params.pop("system", None)
        return ChatRequest.build(prompt_or_messages, system=system, params=params)

    def _run(self, jobs: Sequence[tuple[ChatRequest, int]]) -> list[Reply]:
        __tracebackhide__ = True
        if len(jobs) <= 1:
            return self._keep([self._ask(request, sample) for request, sample in jobs])
        workers = min(len(jobs), self._engine.settings.concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llmdrift") as pool:
            futures = [pool.submit(self._ask, request, sample) for request, sample in jobs]
            # Wait for every call (so each success is cached) before raising the first error.
            errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
        return self._keep([f.result() for f in futures])
