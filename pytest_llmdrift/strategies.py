"""Hypothesis strategies that reword a prompt while keeping its meaning.

Use them with ``@given`` to search for the wording that flips an answer; Hypothesis
shrinks a failure towards the least-changed variant (the template itself, then one
light rewrite)::

    from hypothesis import HealthCheck, given, settings
    from pytest_llmdrift import extract
    from pytest_llmdrift.strategies import paraphrase

    TEMPLATE = "Is 17077 a prime number? Think step by step and then answer [Yes] or [No]."

    # deadline=None: cached and live calls differ wildly in time; the llm fixture is
    # function-scoped, which is fine here (it holds no per-example state).
    @settings(deadline=None, max_examples=20, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(prompt=paraphrase(TEMPLATE))
    def test_prime_answer_holds(llm, prompt):
        assert extract(r"\\[(Yes|No)\\]").answer(llm(prompt).text) == "yes"

Protected spans (numbers, quoted text, code, ``{placeholders}``, JSON/bracket blocks,
URLs) are never touched. For a fixed list that is identical in every run and worker,
use :func:`pytest_llmdrift.paraphrase.paraphrases` instead: examples drawn here change
when Hypothesis is upgraded.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pytest_llmdrift.paraphrase.spans import mask
from pytest_llmdrift.paraphrase.transforms import TRANSFORMS, check_transforms, rewrite

__all__ = [
    "casings",
    "frames",
    "orders",
    "paraphrase",
    "politeness",
    "preambles",
    "punctuation",
    "synonyms",
    "typos",
    "whitespace",
]


def _check_template(template: object) -> str:
    if not isinstance(template, str):
        raise TypeError(f"the template must be a str, got {type(template).__name__}")
    mask(template)  # fails early on a template with too many protected spans
    return template


def paraphrase(
    template: str, transforms: Sequence[str] | None = None, max_steps: int = 3
) -> SearchStrategy[str]:
    """Rewordings of ``template``: up to ``max_steps`` transform steps (names from
    ``ALL_TRANSFORMS``, default all) applied in turn. Shrinks towards fewer steps (no
    step is the template itself), earlier transforms and option 0, the lightest change.

    ::

        @settings(deadline=None, max_examples=20)
        @given(prompt=paraphrase("Summarize this review: {review}", ["frame", "typo"]))
        def test_summary(prompt): ...
    """
    template = _check_template(template)
    names = check_transforms(transforms)
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"paraphrase(max_steps=...) must be an int >= 0, got {max_steps!r}")
    if not names or max_steps == 0:
        return st.just(template)
    step = st.one_of(
        [st.tuples(st.just(name), st.integers(0, TRANSFORMS[name].options - 1)) for name in names]
    )
    return _rewritten(template, st.lists(step, max_size=max_steps))


@st.composite
def _rewritten(draw: st.DrawFn, template: str, steps: SearchStrategy[list[tuple[str, int]]]) -> str:
    # A composite (not .map) so a failing example shows the prompt's text itself,
    # which is the point of the search, rather than the call that made it.
    return rewrite(template, draw(steps))


def _single(name: str, template: str) -> SearchStrategy[str]:
    template = _check_template(template)
    options = TRANSFORMS[name].options
    # 0 is the template; k is option k - 1: shrinking ends at the template.
    return _rewritten(
        template, st.integers(0, options).map(lambda k: [] if k == 0 else [(name, k - 1)])
    )


def frames(template: str) -> SearchStrategy[str]:
    """``template`` in a wording frame: "Question: …", "Can you answer this: …",
    "Please answer: …", an imperative rewrite of a question, "Can you …?" for an
    instruction. ``@settings(deadline=None, max_examples=20) @given(prompt=frames(T))``"""
    return _single("frame", template)


def orders(template: str) -> SearchStrategy[str]:
    """``template`` with its closing instruction sentence ("Answer [Yes] or [No].")
    moved to the front, or its opening one moved to the end.
    ``@settings(deadline=None, max_examples=20) @given(prompt=orders(T))``"""
    return _single("order", template)


def politeness(template: str) -> SearchStrategy[str]:
    """``template`` made more polite ("Please …", "… Thank you.", "Hi! …") or blunter
    (please/thanks removed). ``@settings(deadline=None, max_examples=20)
    @given(prompt=politeness(T))``"""
    return _single("politeness", template)


def preambles(template: str) -> SearchStrategy[str]:
    """``template`` after a role preamble ("You are a helpful assistant. …").
    ``@settings(deadline=None, max_examples=20) @given(prompt=preambles(T))``"""
    return _single("preamble", template)


def casings(template: str) -> SearchStrategy[str]:
    """``template`` with its letter case changed (first letter, lower, UPPER, Title);
    protected spans keep theirs. ``@settings(deadline=None, max_examples=20)
    @given(prompt=casings(T))``"""
    return _single("casing", template)


def whitespace(template: str) -> SearchStrategy[str]:
    """``template`` with its spaces and line breaks changed (outside code).
    ``@settings(deadline=None, max_examples=20) @given(prompt=whitespace(T))``"""
    return _single("whitespace", template)


def punctuation(template: str) -> SearchStrategy[str]:
    """``template`` with its punctuation changed (final mark dropped or stressed,
    commas removed). ``@settings(deadline=None, max_examples=20)
    @given(prompt=punctuation(T))``"""
    return _single("punctuation", template)


def typos(template: str) -> SearchStrategy[str]:
    """``template`` with one keyboard typo (neighbour key, swapped or dropped letter) in
    a word of four or more letters. ``@settings(deadline=None, max_examples=20)
    @given(prompt=typos(T))``"""
    return _single("typo", template)


def synonyms(template: str) -> SearchStrategy[str]:
    """``template`` with one word or phrase swapped for a synonym from a small table
    (answer → reply, think step by step → reason step by step, …).
    ``@settings(deadline=None, max_examples=20) @given(prompt=synonyms(T))``"""
    return _single("synonym", template)
