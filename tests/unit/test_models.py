import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmdrift.models import (
    ModelSpec,
    ModelSpecError,
    infer_builtin_provider,
    parse_model_spec,
    split_model_list,
)


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("gpt-4-0613", "openai"),
        ("gpt-4o", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
        ("text-davinci-003", "openai"),
        ("claude-3-5-sonnet-20241022", "anthropic"),
        ("demo-2023-03", "demo"),
    ],
)
def test_inference(name: str, provider: str) -> None:
    assert infer_builtin_provider(name) == provider
    assert parse_model_spec(name) == ModelSpec(provider, name, name)


def test_prefix_wins_and_keeps_colons_in_the_name() -> None:
    spec = parse_model_spec("openai:llama3.1:8b")
    assert (spec.provider, spec.name, str(spec)) == ("openai", "llama3.1:8b", "openai:llama3.1:8b")


def test_unknown_unprefixed_name_says_how_to_prefix() -> None:
    with pytest.raises(ModelSpecError, match=r"openai:mistral-large") as info:
        parse_model_spec("mistral-large")
    assert "known providers: anthropic, demo, openai" in str(info.value)


def test_unknown_provider_lists_known_ones() -> None:
    with pytest.raises(ModelSpecError, match=r"unknown provider 'acme'.*known providers: anth"):
        parse_model_spec("acme:big-model")


def test_plugin_provider_names_and_inference() -> None:
    spec = parse_model_spec(
        "acme-1",
        infer=lambda n: "gateway" if n.startswith("acme") else None,
        known_providers=["gateway"],
    )
    assert spec.provider == "gateway"
    assert parse_model_spec("gateway:x", known_providers=["gateway"]).name == "x"


@pytest.mark.parametrize("text", ["", "   ", "openai:"])
def test_empty_names_are_rejected(text: str) -> None:
    with pytest.raises(ModelSpecError):
        parse_model_spec(text)


def test_split_model_list() -> None:
    assert split_model_list(["a,b", "c", "a", " d  e "]) == ["a", "b", "c", "d", "e"]


@given(st.text(alphabet="abcdefghijklmnop-0123456789.", min_size=1))
def test_prefixed_openai_always_parses_to_the_name(name: str) -> None:
    spec = parse_model_spec("openai:" + name)
    assert spec.provider == "openai"
    assert spec.name == name


def test_openai_fine_tunes_keep_their_colons() -> None:
    spec = parse_model_spec("ft:gpt-4o-mini-2024-07-18:acme::9abc")
    assert (spec.provider, spec.name) == ("openai", "ft:gpt-4o-mini-2024-07-18:acme::9abc")


def test_a_colon_name_gets_a_prefix_suggestion() -> None:
    with pytest.raises(
        ModelSpecError, match=r"write|prefix it with its provider, e.g. openai:llama3.1:8b"
    ):
        parse_model_spec("llama3.1:8b")


def test_public_api_names_resolve() -> None:
    import pytest_llmdrift

    for name in pytest_llmdrift.__all__:
        assert getattr(pytest_llmdrift, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pytest_llmdrift.nope  # noqa: B018
