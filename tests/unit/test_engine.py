"""The engine behind ``llm``: single flight, replies with lone surrogates, streaming,
prompts that are not valid Unicode."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_llmdrift.budget import CallBudget
from pytest_llmdrift.client import LLM, Engine
from pytest_llmdrift.config import Settings
from pytest_llmdrift.errors import ProviderError, StreamingNotSupported
from pytest_llmdrift.models import parse_model_spec
from pytest_llmdrift.providers import Provider, ProviderOptions, builtin_provider
from pytest_llmdrift.reply import ChatRequest, Reply
from pytest_llmdrift.testing import ModelServer


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds (a deadlock guard, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def waiting(engine: Engine) -> int:
    """Requests waiting on a call in flight (the engine's single-flight table)."""
    return sum(flight.waiters for flight in list(engine._flights.values()))


def openai_engine(server: ModelServer, cache_dir: Path, **settings: object) -> Engine:
    env = dict(os.environ, OPENAI_BASE_URL=server.openai_base_url, OPENAI_API_KEY="test-key")

    def make(name: str) -> Provider:
        provider = builtin_provider(name, ProviderOptions(env=env))
        assert provider is not None
        return provider

    return Engine(Settings(cache_dir=cache_dir, **settings), make)  # type: ignore[arg-type]


class FakeProvider:
    """A plugin provider: answers from a function, counting calls."""

    name = "fake"
    endpoint = "fake://"

    def __init__(self, answer: Callable[[int], Reply]) -> None:
        self.answer = answer
        self.calls = 0
        self._lock = threading.Lock()

    def complete(self, *, model: str, request: ChatRequest) -> Reply:
        with self._lock:
            self.calls += 1
            number = self.calls
        return self.answer(number)

    def close(self) -> None:
        pass


def fake_engine(provider: FakeProvider, cache_dir: Path, **settings: object) -> Engine:
    return Engine(
        Settings(cache_dir=cache_dir, **settings),  # type: ignore[arg-type]
        lambda name: provider,
        parse_model=lambda text: parse_model_spec(text, known_providers={"fake"}),
    )


def fake_llm(engine: Engine) -> LLM:
    return LLM(engine, engine.parse_model("fake:m"))


@pytest.mark.parametrize("mode", ["off", "use"])
def test_identical_requests_in_flight_make_one_call(mode: str, tmp_path: Path) -> None:
    engine: Engine | None = None

    def answer(request: object) -> str:
        # Hold the first call until the seven others are waiting for it.
        wait_for(lambda: engine is not None and waiting(engine) == 7, "7 waiting requests")
        return "the one answer"

    with ModelServer(reply=answer) as server:
        engine = openai_engine(server, tmp_path / "cache", cache_mode=mode, max_calls=1)
        try:
            llm = LLM(engine, parse_model_spec("openai:gpt-4o"))
            replies = llm.map(["same"] * 8)
        finally:
            engine.close()
        assert server.call_count == 1
    assert [r.text for r in replies] == ["the one answer"] * 8
    assert sorted(r.cached for r in replies) == [False] + [True] * 7
    assert all(r.request == ChatRequest.build("same") for r in replies)
    stats = engine.stats.models["openai:gpt-4o"]
    assert (stats.live, stats.cached) == (1, 7)  # a shared reply counts as cached
    assert engine.budget.limit == 1  # one budget unit was enough for all eight
    assert engine._flights == {}


def test_an_error_in_flight_reaches_every_waiter_and_is_not_kept(tmp_path: Path) -> None:
    engine: Engine | None = None

    def answer(number: int) -> Reply:
        if number == 1:
            wait_for(lambda: engine is not None and waiting(engine) == 3, "3 waiting requests")
            raise ProviderError("boom", provider="fake", model="m", status=500)
        return Reply(text="fine", model="m", requested_model="m")

    provider = FakeProvider(answer)
    engine = fake_engine(provider, tmp_path / "cache", max_calls=2)
    llm = fake_llm(engine)
    with pytest.raises(ProviderError, match="boom"):
        llm.map(["same"] * 4)
    assert provider.calls == 1
    assert engine.stats.models["fake:m"].errors == 1
    # Not cached, not remembered: the next identical request asks again.
    assert llm("same").text == "fine"
    assert provider.calls == 2
    assert not engine.budget.take()  # two calls, two units
    engine.close()


def test_cached_reads_take_no_single_flight_lock(tmp_path: Path) -> None:
    provider = FakeProvider(lambda n: Reply(text=f"answer {n}", model="m", requested_model="m"))
    engine = fake_engine(provider, tmp_path / "cache")
    llm = fake_llm(engine)
    assert llm("q").text == "answer 1"

    class Refuse:
        def __enter__(self) -> None:
            raise AssertionError("a cached read took the single-flight lock")

        def __exit__(self, *exc: object) -> None:
            pass

    engine._flights_lock = Refuse()  # type: ignore[assignment]
    assert [r.text for r in llm.map(["q"] * 3)] == ["answer 1"] * 3
    assert provider.calls == 1
    engine.close()


def test_lone_surrogates_from_a_provider_become_replacement_characters(tmp_path: Path) -> None:
    provider = FakeProvider(
        lambda n: Reply(
            text=f"half an emoji \ud83d and a low \udc00 ({n})",
            model="m\ud800",
            requested_model="m",
            fingerprint="fp\udfff",
        )
    )
    engine = fake_engine(provider, tmp_path / "cache")
    llm = fake_llm(engine)
    first, second = llm("a"), llm("b")
    assert first.text == "half an emoji \ufffd and a low \ufffd (1)"
    assert (first.model, first.fingerprint) == ("m\ufffd", "fp\ufffd")
    assert second.text.endswith("(2)")
    # Stored and read back: the cache holds the cleaned reply.
    again = llm("a")
    assert again.cached
    assert again.text == first.text
    notices = [n for n in engine.stats.notices if "lone surrogates" in n]
    assert notices == [
        "fake:m: the provider sent text with lone surrogates (not valid Unicode, e.g. half an "
        "emoji); they were replaced by U+FFFD so the reply can be cached, recorded and reported"
    ]
    engine.close()


def test_a_clean_reply_is_passed_through_unchanged(tmp_path: Path) -> None:
    reply = Reply(text="emoji \U0001f600 ok", model="m", requested_model="m")
    provider = FakeProvider(lambda n: reply)
    engine = fake_engine(provider, tmp_path / "cache", cache_mode="off")
    assert fake_llm(engine)("a").text == "emoji \U0001f600 ok"
    assert engine.stats.notices == []
    engine.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda llm: llm("p", stream=True),
        lambda llm: llm.map(["p", "q"], stream=True),
        lambda llm: llm.sample("p", 2, stream=True),
    ],
    ids=["call", "map", "sample"],
)
def test_streaming_is_refused_with_a_clear_error(
    call: Callable[[LLM], object], tmp_path: Path
) -> None:
    provider = FakeProvider(lambda n: Reply(text="x", model="m", requested_model="m"))
    engine = fake_engine(provider, tmp_path / "cache")
    with pytest.raises(StreamingNotSupported, match=r"does not stream yet.*Drop stream=True"):
        call(fake_llm(engine))
    assert issubclass(StreamingNotSupported, TypeError)
    assert provider.calls == 0
    engine.close()


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("ab\ud800",), "the prompt holds a lone surrogate at character 2"),
        (
            ([{"role": "user", "content": [{"type": "text", "text": "x\udc00"}]}],),
            r"messages\[0\]\['content'\]\[0\]\['text'\] holds a lone surrogate at character 1",
        ),
        (("ok", {"system": "s\ud800"}), "the system prompt holds a lone surrogate"),
        (("ok", {"params": {"stop": ["a", "\udfff"]}}), r"the parameter stop\[1\] holds"),
    ],
)
def test_a_prompt_with_a_lone_surrogate_is_refused_naming_where(
    args: tuple[object, ...], where: str
) -> None:
    prompt, *rest = args
    kwargs = rest[0] if rest else {}
    with pytest.raises(ValueError, match=where) as info:
        ChatRequest.build(prompt, **kwargs)  # type: ignore[arg-type]
    assert "text.encode('utf-8', 'replace').decode('utf-8')" in str(info.value)
    # A valid astral character is fine.
    ChatRequest.build("emoji \U0001f600")


def test_budget_limit_of_the_largest_count_still_works(tmp_path: Path) -> None:
    budget = CallBudget.create_shared(2**63 - 1, tmp_path / "budget.db")
    assert budget.take()
