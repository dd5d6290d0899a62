import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmdrift.reply import ChatRequest, Reply, Usage

replies = st.builds(
    Reply,
    text=st.text(),
    model=st.text(min_size=1),
    requested_model=st.text(min_size=1),
    provider=st.sampled_from(["openai", "anthropic", "demo"]),
    fingerprint=st.none() | st.text(min_size=1),
    usage=st.builds(Usage, st.integers(0, 10**6), st.integers(0, 10**6)),
    latency_s=st.floats(0, 1e4, allow_nan=False),
    cached=st.booleans(),
    sample=st.integers(0, 100),
)


@given(replies)
def test_reply_json_round_trip(reply: Reply) -> None:
    assert Reply.from_json(json.loads(json.dumps(reply.to_json()))) == reply


def test_str_is_the_text() -> None:
    reply = Reply(text="[Yes]", model="m", requested_model="m")
    assert str(reply) == "[Yes]"
    assert f"{reply}" == "[Yes]"
    assert reply.as_cached().cached


def test_from_json_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="reply text must be a string"):
        Reply.from_json({"text": 3, "model": "m"})


def test_request_from_prompt_is_sent_as_given() -> None:
    request = ChatRequest.build("  Is 7 prime?\n", params={"temperature": None, "seed": 1})
    assert request.messages == ({"role": "user", "content": "  Is 7 prime?\n"},)
    assert request.params == {"seed": 1}
    assert request.prompt == "  Is 7 prime?\n"


def test_request_from_messages() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
    ]
    request = ChatRequest.build(messages, system="be brief")
    assert request.prompt == "again"
    assert request.to_json()["system"] == "be brief"


@pytest.mark.parametrize("bad", [[], [{"content": "x"}], 3, [["user", "x"]]])
def test_request_rejects_bad_input(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"llm|message"):
        ChatRequest.build(bad)  # type: ignore[arg-type]


def test_request_params_must_be_json() -> None:
    with pytest.raises(TypeError, match=r"llm\(\) arguments must be JSON values"):
        ChatRequest.build("hi", params={"stop": {1, 2}})


def test_scrub_hides_credentials_but_keeps_them_distinct() -> None:
    from pytest_llmdrift.reply import scrub, scrub_url

    a = scrub(
        {
            "extra_headers": {"Authorization": "Bearer A"},
            "temperature": 0,
            "max_tokens": 5,
            "extra_body": {"api_key": "K", "top_k": 3},
        }
    )
    b = scrub({"extra_headers": {"Authorization": "Bearer B"}})
    assert a["extra_headers"]["Authorization"].startswith("sha256:")
    assert a["extra_headers"] != b["extra_headers"]
    assert a["temperature"] == 0
    assert a["max_tokens"] == 5
    assert a["extra_body"]["top_k"] == 3
    assert "K" not in json.dumps(a)
    assert (
        scrub_url("http://u:pw@h:1/v1?api-key=S")
        == "http://h:1/v1?api-key=" + (scrub_url("http://h:1/v1?api-key=S").split("=", 1)[1])
    )
    assert "pw" not in scrub_url("http://u:pw@h:1/v1")
    assert "S" not in scrub_url("http://h/v1?api-key=S").split("?")[1].replace("sha", "")


def test_scrub_leaves_token_counts_alone() -> None:
    from pytest_llmdrift.reply import scrub

    clean = scrub({"max_tokens": 5, "max_output_tokens": 7, "access_token": "t"})
    assert clean["max_tokens"] == 5
    assert clean["max_output_tokens"] == 7
    assert clean["access_token"].startswith("sha256:")
