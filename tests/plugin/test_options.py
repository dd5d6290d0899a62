"""Option parsing: every bad value is a usage error (exit 4) that says what to do."""

from __future__ import annotations

import pytest

from pytest_llmdrift.config import OPTIONS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--llm-cache=sometimes"],
            "*argument --llm-cache: invalid choice 'sometimes' (choose "
            "from use, replay, refresh, off)*",
        ),
        (
            ["--llm-concurrency=0"],
            "*argument --llm-concurrency: expected a whole number >= 1, got '0'*",
        ),
        (["--llm-max-calls=lots"], "*argument --llm-max-calls: expected a whole number >= 0*"),
        (["--llm-timeout=-1"], "*argument --llm-timeout: expected a number of seconds > 0*"),
        (["--llm-max-retries=x"], "*argument --llm-max-retries: expected a whole number >= 0*"),
    ],
)
def test_bad_flag_values(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_value_names_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_concurrency = many\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key llm_concurrency: expected a whole number >= 1*"])


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "mistral-large",
            "*--llm-model: cannot tell which provider serves model 'mistral-large'*"
            "openai:mistral-large*",
        ),
        (
            "acme:big",
            "*--llm-model: unknown provider 'acme' in model 'acme:big'; known providers: "
            "anthropic, demo, openai*",
        ),
    ],
)
def test_unknown_model_is_a_usage_error_before_any_test_runs(
    pytester: pytest.Pytester, model: str, message: str
) -> None:
    pytester.makepyfile("def test_x(llm):\n    raise AssertionError('must not run')\n")
    result = pytester.runpytest(f"--llm-model={model}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    result.stdout.no_fnmatch_line("*must not run*")


def test_help_lists_every_flag_in_one_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["LLM drift testing (pytest-llmdrift):"])
    for option in OPTIONS:
        if option.ini_only:
            continue
        result.stdout.fnmatch_lines([f"*{option.flag}*"])
    for option in OPTIONS:
        result.stdout.fnmatch_lines([f"*{option.ini} (*"])


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["llm -- *", "*A client pinned to this item's model*"])
    result.stdout.fnmatch_lines(["llm_model -- *", "*The model pinned for this test item*"])


def test_an_unknown_demo_model_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(llm):\n    raise AssertionError('must not run')\n")
    result = pytester.runpytest("--llm-model=demo-2024")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*pytest-llmdrift: model demo-2024: there is no demo model 'demo-2024'; the demo "
            "models are demo-2023-03, demo-2023-06*"
        ]
    )


def test_a_listed_provider_nobody_makes_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_llmdrift_provider_names():\n    return ['ghost']\n")
    pytester.makepyfile("def test_x(llm):\n    pass\n")
    result = pytester.runpytest("--llm-model=ghost:m")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no plugin makes the provider 'ghost'*"])


def test_a_cache_dir_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", notes="keep me")
    pytester.makepyfile("def test_x(llm):\n    raise AssertionError('must not run')\n")
    result = pytester.runpytest("--llm-model=demo-2023-03", "--llm-cache-dir=notes.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the cache directory *notes.txt is a file*--llm-cache-dir=DIR*"])
    assert (pytester.path / "notes.txt").read_text() == "keep me"
