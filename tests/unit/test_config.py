import argparse
from pathlib import Path

import pytest

from pytest_llmdrift.config import (
    CACHE_MODES,
    DEFAULT_CACHE_DIR,
    MODEL_ENV,
    OPTIONS,
    SettingsError,
    parse_cache_mode,
    parse_non_negative_int,
    parse_positive_int,
    parse_seconds,
    resolve_settings,
)
from pytest_llmdrift.models import parse_model_spec


def resolve(flags=None, ini=None, env=None, tmp=Path("/r")):  # type: ignore[no-untyped-def]
    return resolve_settings(
        flags=flags or {},
        ini=ini or {},
        env=env or {},
        invocation_dir=tmp / "cwd",
        ini_dir=tmp / "ini",
        rootdir=tmp,
        parse_model=parse_model_spec,
    )


def test_defaults() -> None:
    settings = resolve()
    assert settings.models == ()
    assert settings.cache_mode == "use"
    assert settings.cache_dir == Path("/r") / DEFAULT_CACHE_DIR
    assert settings.concurrency == 8
    assert settings.max_calls is None


def test_flag_beats_ini_beats_env() -> None:
    env = {MODEL_ENV: "gpt-4o"}
    assert [m.text for m in resolve(env=env).models] == ["gpt-4o"]
    assert [m.text for m in resolve(ini={"llm_model": ["claude-3"]}, env=env).models] == [
        "claude-3"
    ]
    flags = {"llm_model": ["demo-2023-03", "demo-2023-06"]}
    settings = resolve(flags=flags, ini={"llm_model": ["claude-3"]}, env=env)
    assert [m.text for m in settings.models] == ["demo-2023-03", "demo-2023-06"]
    assert resolve(flags={"llm_cache": "replay"}, ini={"llm_cache": "off"}).cache_mode == "replay"
    assert resolve(ini={"llm_cache": "off"}).cache_mode == "off"


def test_env_models_are_comma_separated() -> None:
    settings = resolve(env={MODEL_ENV: "gpt-4o, claude-3-haiku"})
    assert [m.provider for m in settings.models] == ["openai", "anthropic"]


def test_relative_cache_dirs_resolve_where_they_were_written(tmp_path: Path) -> None:
    assert resolve(flags={"llm_cache_dir": "c"}, tmp=tmp_path).cache_dir == tmp_path / "cwd" / "c"
    assert resolve(ini={"llm_cache_dir": "c"}, tmp=tmp_path).cache_dir == tmp_path / "ini" / "c"


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ({"llm_cache": "sometimes"}, "ini key llm_cache: invalid choice 'sometimes'"),
        ({"llm_concurrency": "0"}, "ini key llm_concurrency: expected a whole number >= 1"),
        ({"llm_max_calls": "-1"}, "ini key llm_max_calls: expected a whole number >= 0"),
        (
            {"llm_max_calls": str(2**63)},
            "ini key llm_max_calls: expected a whole number >= 0 and <= 9223372036854775807, "
            "got '9223372036854775808'",
        ),
        ({"llm_timeout": "soon"}, "ini key llm_timeout: expected a number of seconds"),
        ({"llm_model": ["mystery"]}, "ini key llm_model: cannot tell which provider"),
    ],
)
def test_bad_ini_values_name_the_key(ini: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(ini=ini)


def test_bad_env_model_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"\$LLMDRIFT_MODEL: unknown provider 'x'"):
        resolve(env={MODEL_ENV: "x:y"})


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (parse_positive_int, {"1": 1, "16": 16}, ["0", "-3", "1.5", "x", "", str(2**63)]),
        (parse_non_negative_int, {"0": 0, str(2**63 - 1): 2**63 - 1}, ["-1", "two", str(2**64)]),
        (parse_seconds, {"0.5": 0.5, "30": 30.0}, ["0", "-1", "nan", "inf", "x"]),
        (parse_cache_mode, {m: m for m in CACHE_MODES} | {"REPLAY": "replay"}, ["", "on"]),
    ],
)
def test_parsers(parse, good, bad) -> None:  # type: ignore[no-untyped-def]
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_every_option_has_flag_and_ini_names() -> None:
    for option in OPTIONS:
        assert option.ini.startswith("llm_")
        assert option.flag == "--" + option.ini.replace("_", "-")
        assert option.help
