"""The docs cannot fall behind the plugin: every flag, ini key and fixture is in the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_llmdrift import hookspecs
from pytest_llmdrift.cli import build_parser
from pytest_llmdrift.config import CACHE_MODES, OPTIONS
from pytest_llmdrift.markers import MARKERS
from pytest_llmdrift.scorers import SCORER_FACTORIES

DOCS = Path(__file__).resolve().parents[2] / "docs"
REFERENCE = (DOCS / "reference.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.ini)
def test_every_flag_and_ini_key_is_in_the_reference(option) -> None:  # type: ignore[no-untyped-def]
    assert f"`{option.ini}`" in REFERENCE
    if not option.ini_only:
        assert option.flag in REFERENCE


@pytest.mark.parametrize("name", ["llm", "llm_model", "llm_snapshot"])
def test_every_fixture_is_in_the_reference(name: str) -> None:
    assert f"### `{name}`" in REFERENCE


def test_every_cache_mode_is_documented() -> None:
    cache = (DOCS / "cache.md").read_text(encoding="utf-8")
    for mode in CACHE_MODES:
        assert f"`{mode}`" in cache


def test_relative_links_between_pages_resolve() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text("utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_every_marker_is_in_the_reference(name: str) -> None:
    assert f"@pytest.mark.{name}" in REFERENCE


@pytest.mark.parametrize("name", [*SCORER_FACTORIES, "all_of"])
def test_every_scorer_is_in_the_reference(name: str) -> None:
    assert f"`{name}(" in REFERENCE


def _commands() -> list[str]:
    parser = build_parser()
    commands = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.choices and a.dest == "action"]
            if nested:
                commands += [f"llmdrift {name} {verb}" for verb in nested[0].choices]
            else:
                commands.append(f"llmdrift {name}")
    return commands


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_is_in_the_reference(command: str) -> None:
    assert command in REFERENCE


@pytest.mark.parametrize(
    "hook", [name for name in dir(hookspecs) if name.startswith("pytest_llmdrift_")]
)
def test_every_hook_is_in_the_reference(hook: str) -> None:
    assert f"def {hook}(" in REFERENCE
