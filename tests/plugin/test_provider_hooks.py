"""Third-party providers: through the hook (conftest) and the entry-point group."""

from __future__ import annotations

import textwrap

import pytest

PROVIDER = """
from pytest_llmdrift import Reply


class EchoProvider:
    name = "acme"

    def __init__(self, options):
        self.options = options
        self.closed = False

    @property
    def endpoint(self):
        return "acme://gateway"

    def complete(self, *, model, request):
        return Reply(text=f"acme {model}: {request.prompt}", model=model + "-v2",
                     requested_model=model)

    def close(self):
        pass
"""


def test_a_conftest_adds_a_provider_through_the_hooks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(acme_provider=PROVIDER)
    pytester.makeconftest(
        """
        from acme_provider import EchoProvider

        def pytest_llmdrift_provider_names():
            return ["acme"]

        def pytest_llmdrift_make_provider(name, options):
            return EchoProvider(options) if name == "acme" else None

        def pytest_llmdrift_infer_provider(model):
            return "acme" if model.startswith("acme-") else None
        """
    )
    pytester.makepyfile(
        """
        def test_ask(llm):
            reply = llm("hi")
            assert reply.text == f"acme {llm.model}: hi"
            assert reply.model == llm.model + "-v2"
            assert reply.provider == "acme"
        """
    )
    result = pytester.runpytest("-v", "--llm-model=acme:big", "--llm-model=acme-small")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*served as acme-small-v2*alias*"])
    again = pytester.runpytest("--llm-model=acme:big", "--llm-cache=replay")
    again.assert_outcomes(passed=1)


def test_an_entry_point_adds_a_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        acme_provider=PROVIDER + "\n\ndef make(options):\n    return EchoProvider(options)\n"
    )
    dist = pytester.mkdir("acme_llm-1.0.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-llm\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [pytest_llmdrift.providers]
            acme = acme_provider:make
            """
        )
    )
    pytester.syspathinsert()
    pytester.makepyfile("def test_ask(llm):\n    assert llm('hi').text == 'acme big: hi'\n")
    pytester.runpytest("--llm-model=acme:big").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-model=nope:big")
    result.stderr.fnmatch_lines(["*known providers: acme, anthropic, demo, openai*"])
