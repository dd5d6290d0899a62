"""Paraphrase groups end to end: a model that answers differently to one wording is
caught by the parametrised variants and by a Hypothesis search."""

from __future__ import annotations

import ast
import json
import re

import pytest

from pytest_llmdrift.paraphrase import TRANSFORMS, generate, rewrite
from pytest_llmdrift.testing import ModelServer, RecordedRequest

# Paraphrases are made with Hypothesis: run them as a user would, with its pytest plugin.
pytestmark = pytest.mark.hypothesis_plugin

TEMPLATE = "Is 17077 a prime number? Think step by step and then answer [Yes] or [No]."

PARAMETRISED = f"""
import re
import pytest
from pytest_llmdrift.paraphrase import paraphrases

@pytest.mark.parametrize("prompt", paraphrases({TEMPLATE!r}, n=8))
def test_wording(llm, prompt):
    answer = re.search(r"\\[(Yes|No)\\]", llm(prompt).text).group(1)
    assert answer == "Yes", f"{{answer}} to {{prompt!r}}"
"""


def test_the_variant_a_model_answers_differently_is_reported(
    pytester: pytest.Pytester, server: ModelServer, xdist_args: list[str]
) -> None:
    variants = generate(TEMPLATE, n=8)
    odd = variants[3]

    def answer(request: RecordedRequest) -> str:
        return "[No]" if request.prompt == odd else "Step by step... so [Yes]"

    server.set_reply(answer)
    pytester.makepyfile(test_words=PARAMETRISED)
    result = pytester.runpytest("--llm-model=gpt-4o", "-rf", *xdist_args)
    result.assert_outcomes(passed=7, failed=1)
    if not xdist_args:  # the xdist controller prints its own collection line
        result.stdout.fnmatch_lines(
            ["llmdrift: 8 item(s) on 1 model(s), 8 of them in 1 paraphrase group(s)"]
        )
    result.stdout.fnmatch_lines(
        [
            "prompt sensitivity (variants whose outcome differs from p0's):",
            "  test_wording [[]gpt-4o[]]: 1 of 7 variants disagree (p3); pass rate 0.00-1.00",
            "FAILED test_words.py::test_wording[[]p3-gpt-4o[]] - AssertionError: No to *",
        ]
    )
    stored = json.loads((pytester.path / "__paraphrases__" / "test_words.json").read_text())
    (group,) = stored["groups"].values()
    assert group["variants"] == variants  # the committed list is the generated one
    assert {r.prompt for r in server.requests} == set(variants)


SEARCH = f"""
import re
from hypothesis import HealthCheck, Phase, given, settings
from pytest_llmdrift.strategies import paraphrase

@settings(deadline=None, max_examples=150, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=paraphrase({TEMPLATE!r}, ["frame", "politeness", "casing", "typo"]))
def test_search(llm, prompt):
    answer = re.search(r"\\[(Yes|No)\\]", llm(prompt).text).group(1)
    assert answer == "Yes", prompt
"""


def test_a_hypothesis_search_finds_and_shrinks_the_wording(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    # The model says No whenever the prompt says "please" (in any casing).
    server.set_reply(lambda request: "[No]" if "please" in request.prompt.lower() else "so [Yes]")
    pytester.makepyfile(test_search=SEARCH)
    result = pytester.runpytest("--llm-model=gpt-4o", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    # the wording that flipped the answer is reported...
    result.stdout.fnmatch_lines(["E       AssertionError: *lease*17077 a prime number?*"])
    result.stdout.fnmatch_lines(["*Failing test case: test_search(*"])
    # ...as text, shrunk to a single rewriting step away from the template
    (shown,) = [
        ast.literal_eval(match.group(1))
        for line in result.outlines
        if (match := re.search(r"^E\s+prompt=(['\"].*['\"]),$", line))
    ]
    one_step = {
        rewrite(TEMPLATE, [(name, option)])
        for name, transform in TRANSFORMS.items()
        for option in range(transform.options)
    }
    assert shown in one_step, shown


USING = f"""
import pytest
from pytest_llmdrift import paraphrases

@pytest.mark.parametrize("prompt", paraphrases({TEMPLATE!r}, n=4, using="openai:rewriter"))
def test_wording(llm, prompt):
    assert llm(prompt).text
"""


def test_a_model_paraphraser_is_asked_once_and_its_spans_are_checked(
    pytester: pytest.Pytester, server: ModelServer
) -> None:
    rewordings = [
        "Can you tell me whether 17077 is a prime number? Think step by step and then "
        "answer [Yes] or [No].",
        # the number changed: dropped
        "Is 17078 a prime number? Think step by step and then answer [Yes] or [No].",
        "Please think step by step, then answer [Yes] or [No]: is 17077 prime?",
    ]

    def reply(request: RecordedRequest) -> str:
        if request.model == "rewriter":
            assert "in 3 different ways" in request.prompt
            return json.dumps(rewordings)
        return "[Yes]"

    server.set_reply(reply)
    pytester.makepyfile(test_using=USING)
    result = pytester.runpytest("--llm-model=gpt-4o", "-v")
    result.assert_outcomes(passed=4)
    stored = json.loads((pytester.path / "__paraphrases__" / "test_using.json").read_text())
    (group,) = stored["groups"].values()
    variants = group["variants"]
    assert variants[0] == TEMPLATE
    assert rewordings[0] in variants
    assert rewordings[2] in variants
    assert rewordings[1] not in variants  # it lost the protected number 17077
    assert len(variants) == 4
    assert group["source"] == "model:openai:rewriter+generated"
    assert sum(1 for r in server.requests if r.model == "rewriter") == 1

    # CI: a fresh machine (no cache) with the committed file never asks the model again
    server.reset()
    result = pytester.runpytest("--llm-model=gpt-4o", "--llm-cache-dir=fresh")
    result.assert_outcomes(passed=4)
    assert not any(r.model == "rewriter" for r in server.requests)


def test_a_model_paraphraser_can_be_a_plugin_provider(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"""
        import json
        from pytest_llmdrift import Reply

        class Rewriter:
            name = "acme"
            endpoint = "acme://"

            def complete(self, *, model, request):
                text = json.dumps(["Please tell me: " + {TEMPLATE!r}, "Hmm"])
                return Reply(text=text, model=model, requested_model=model)

            def close(self):
                pass

        def pytest_llmdrift_provider_names():
            return ["acme"]

        def pytest_llmdrift_make_provider(name, options):
            return Rewriter() if name == "acme" else None
        """
    )
    pytester.makepyfile(
        test_plug=f"""
        import pytest
        from pytest_llmdrift import paraphrases

        @pytest.mark.parametrize("prompt", paraphrases({TEMPLATE!r}, n=3, using="acme:rw"))
        def test_wording(prompt):
            assert "17077" in prompt
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    stored = json.loads((pytester.path / "__paraphrases__" / "test_plug.json").read_text())
    (group,) = stored["groups"].values()
    assert group["variants"][1] == "Please tell me: " + TEMPLATE  # "Hmm" lost the spans
