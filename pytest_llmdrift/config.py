"""Run settings: the option table and one frozen object resolved from flag > ini > env.

Pure: nothing here speaks to pytest. ``plugin.py`` registers :data:`OPTIONS` and
calls :func:`resolve_settings`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pytest_llmdrift.models import ModelSpec, ModelSpecError, split_model_list

CACHE_MODES: tuple[str, ...] = ("use", "replay", "refresh", "off")
DEFAULT_CACHE_MODE = "use"
DEFAULT_CACHE_DIR = Path(".llmdrift") / "cache"
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_RETRIES = 2
MODEL_ENV = "LLMDRIFT_MODEL"
DEFAULT_SCORER_SPEC = "similar(min=0.8)"  # the scorers module loads only when one is used


class SettingsError(ValueError):
    """A setting with a bad value; the message names where it came from."""


# The largest count an option takes: a SQLite INTEGER (the shared --llm-max-calls
# budget is one), and far past any real budget, concurrency or retry count.
MAX_INT = 2**63 - 1


def _parse_int(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum or str(value).strip() != str(number):
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value!r}")
    if number > MAX_INT:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= {minimum} and <= {MAX_INT}, got {value!r}"
        )
    return number


def parse_positive_int(value: str) -> int:
    return _parse_int(value, 1)


def parse_non_negative_int(value: str) -> int:
    return _parse_int(value, 0)


def parse_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {value!r}")
    return seconds


def parse_cache_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in CACHE_MODES:
        raise argparse.ArgumentTypeError(
            f"invalid choice {value!r} (choose from {', '.join(CACHE_MODES)})"
        )
    return mode


def parse_date(value: str) -> date:
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD (e.g. 2023-09-01), got {value!r}"
        ) from None


def _text(value: str) -> str:
    return value


@dataclass(frozen=True)
class OptionSpec:
    """One option: a ``--llm-*`` flag and its ini key (``llm_*``), or an ini key alone."""

    name: str  # "model" -> flag --llm-model, ini llm_model
    help: str
    metavar: str = "VALUE"
    parse: Callable[[str], Any] = _text
    repeatable: bool = False
    ini_only: bool = False
    boolean: bool = False  # a switch: --llm-NAME takes no value; the ini key is true/false

    @property
    def flag(self) -> str:
        return "--llm-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "llm_" + self.name.replace("-", "_")

    @property
    def dest(self) -> str:
        return self.ini


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "model",
        "pin the model MODEL ([provider:]name); repeat to run each llm test once per model. "
        f"Falls back to ${MODEL_ENV} (comma-separated).",
        metavar="MODEL",
        repeatable=True,
    ),
    OptionSpec(
        "cache",
        "response cache mode: use (default: read, call on a miss, store), replay (never call "
        "a provider; a miss fails the test), refresh (always call, overwrite), off.",
        metavar="MODE",
        parse=parse_cache_mode,
    ),
    OptionSpec(
        "cache_dir",
        "response cache directory (default: <rootdir>/.llmdrift/cache).",
        metavar="DIR",
    ),
    OptionSpec(
        "concurrency",
        f"most provider calls in flight at once from one process (default {DEFAULT_CONCURRENCY}).",
        metavar="N",
        parse=parse_positive_int,
    ),
    OptionSpec(
        "max_calls",
        "budget of live provider calls for this run (all xdist workers together); "
        "a call past it errors its test.",
        metavar="N",
        parse=parse_non_negative_int,
    ),
    OptionSpec(
        "timeout",
        "seconds before a provider call times out (default: the SDK's own).",
        metavar="SECONDS",
        parse=parse_seconds,
    ),
    OptionSpec(
        "max_retries",
        "retries the provider SDK makes on 429, 5xx and connection errors "
        f"(default {DEFAULT_MAX_RETRIES}).",
        metavar="N",
        parse=parse_non_negative_int,
    ),
    OptionSpec(
        "judge",
        "model that grades replies for the judge scorer ([provider:]name); its verdicts are "
        "cached like any call.",
        metavar="MODEL",
    ),
    OptionSpec(
        "scorer",
        "default scorer of llm_snapshot comparisons, written as in Python with literal "
        'arguments, e.g. similar(min=0.9) or extract(r"\\[(Yes|No)\\]") '
        f"(default {DEFAULT_SCORER_SPEC}).",
        ini_only=True,
    ),
    OptionSpec(
        "report",
        "write the JSON run report (schema llmdrift-report/1) to PATH.",
        metavar="PATH",
    ),
    OptionSpec(
        "html",
        "write the HTML drift report (one self-contained file) to PATH.",
        metavar="PATH",
    ),
    OptionSpec(
        "cutoff",
        "a model's training cutoff (YYYY-MM-DD): the report splits pass rates between tests "
        "created before it and on or after it (@pytest.mark.llm(created=...)).",
        metavar="DATE",
        parse=parse_date,
    ),
    OptionSpec(
        "paraphrases_update",
        "regenerate the paraphrase variants kept in __paraphrases__/ files (also done by "
        "--snapshot-update).",
        boolean=True,
    ),
    OptionSpec(
        "openai_base_url",
        "base URL for the openai provider when $OPENAI_BASE_URL is unset "
        "(any OpenAI-compatible server).",
        ini_only=True,
    ),
    OptionSpec(
        "anthropic_base_url",
        "base URL for the anthropic provider when $ANTHROPIC_BASE_URL is unset.",
        ini_only=True,
    ),
)
OPTIONS_BY_NAME: Mapping[str, OptionSpec] = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    """Everything the plugin reads from the command line, ini file and environment."""

    models: tuple[ModelSpec, ...] = ()
    cache_mode: str = DEFAULT_CACHE_MODE
    cache_dir: Path = DEFAULT_CACHE_DIR
    concurrency: int = DEFAULT_CONCURRENCY
    max_calls: int | None = None
    timeout: float | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    base_urls: Mapping[str, str] = field(default_factory=dict)
    judge: ModelSpec | None = None
    scorer: str = DEFAULT_SCORER_SPEC
    paraphrases_update: bool = False
    report_path: Path | None = None
    html_path: Path | None = None
    cutoff: date | None = None


def resolve_settings(
    *,
    flags: Mapping[str, Any],
    ini: Mapping[str, Any],
    env: Mapping[str, str],
    invocation_dir: Path,
    ini_dir: Path,
    rootdir: Path,
    parse_model: Callable[[str], ModelSpec],
) -> Settings:
    """Resolve the settings.

    Precedence, for every option: a command-line flag wins over the ini key, which
    wins over the environment (only ``llm_model`` has an env fallback, $LLMDRIFT_MODEL).
    Flags arrive parsed (argparse ran ``OptionSpec.parse``); ini values are parsed
    here. Relative directories resolve against where they were written: a flag
    against the invocation directory, an ini key against the ini file's directory.
    Raises :class:`SettingsError` naming the flag, ini key or variable.
    """

    def pick(name: str) -> tuple[Any, str] | None:
        option = OPTIONS_BY_NAME[name]
        if option.boolean:
            if flags.get(option.dest):
                return True, option.flag
            raw = ini.get(option.ini)
            if isinstance(raw, bool) or raw in (None, ""):
                return (True, f"ini key {option.ini}") if raw else None
            text = str(raw).strip().lower()
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise SettingsError(f"ini key {option.ini}: expected true or false, got {raw!r}")
            return (True, f"ini key {option.ini}") if text in ("true", "1", "yes") else None
        flag_value = flags.get(option.dest)
        if flag_value not in (None, [], ""):
            return flag_value, option.flag
        ini_value = ini.get(option.ini)
        if ini_value not in (None, [], ""):
            if option.repeatable:
                return list(ini_value), f"ini key {option.ini}"
            try:
                return option.parse(str(ini_value)), f"ini key {option.ini}"
            except argparse.ArgumentTypeError as exc:
                raise SettingsError(f"ini key {option.ini}: {exc}") from None
        return None

    models: list[ModelSpec] = []
    picked = pick("model")
    if picked is None and env.get(MODEL_ENV, "").strip():
        picked = ([env[MODEL_ENV]], f"${MODEL_ENV}")
    if picked is not None:
        values, source = picked
        for text in split_model_list(values):
            try:
                spec = parse_model(text)
            except ModelSpecError as exc:
                raise SettingsError(f"{source}: {exc}") from None
            if spec not in models:
                models.append(spec)

    def value(name: str, default: Any) -> Any:
        got = pick(name)
        return default if got is None else got[0]

    def path(name: str) -> Path | None:
        # A flag's relative path is relative to where pytest was run; an ini key's,
        # to the ini file.
        got = pick(name)
        if got is None:
            return None
        raw, source = got
        base = invocation_dir if source.startswith("--") else ini_dir
        return (base / os.path.expanduser(str(raw))).resolve()

    cache_dir = path("cache_dir") or rootdir / DEFAULT_CACHE_DIR

    judge = None
    judge_pick = pick("judge")
    if judge_pick is not None:
        try:
            judge = parse_model(str(judge_pick[0]))
        except ModelSpecError as exc:
            raise SettingsError(f"{judge_pick[1]}: {exc}") from None

    scorer = str(value("scorer", DEFAULT_SCORER_SPEC))
    if scorer != DEFAULT_SCORER_SPEC:
        from pytest_llmdrift.scorers import parse_scorer

        try:
            parse_scorer(scorer)
        except ValueError as exc:
            raise SettingsError(f"ini key llm_scorer: {exc}") from None

    base_urls = {
        provider: str(url)
        for provider in ("openai", "anthropic")
        if (url := value(f"{provider}_base_url", None))
    }
    return Settings(
        models=tuple(models),
        cache_mode=value("cache", DEFAULT_CACHE_MODE),
        cache_dir=cache_dir,
        concurrency=value("concurrency", DEFAULT_CONCURRENCY),
        max_calls=value("max_calls", None),
        timeout=value("timeout", None),
        max_retries=value("max_retries", DEFAULT_MAX_RETRIES),
        base_urls=base_urls,
        judge=judge,
        scorer=scorer,
        paraphrases_update=bool(value("paraphrases_update", False)),
        report_path=path("report"),
        html_path=path("html"),
        cutoff=value("cutoff", None),
    )


def describe_models(models: Sequence[ModelSpec]) -> str:
    return ", ".join(spec.text for spec in models) or "(none)"
