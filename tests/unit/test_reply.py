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


def test_scrub_reaches_credentials_at_any_depth() -> None:
    from pytest_llmdrift.reply import scrub

    params = {
        "extra_body": {
            "mcp_servers": [{"url": "https://mcp.example", "authorization_token": "SECRET-1"}],
            "deep": [[{"headers": [{"api_key": "SECRET-2"}]}], ("x", {"password": "SECRET-3"})],
        },
        "metadata": [{"secret": {"value": "SECRET-4"}}],
    }
    clean = scrub(params)
    text = json.dumps(clean)
    assert "SECRET" not in text
    server = clean["extra_body"]["mcp_servers"][0]
    assert server["url"] == "https://mcp.example"
    assert server["authorization_token"].startswith("sha256:")
    other = scrub({**params, "metadata": [{"secret": {"value": "SECRET-5"}}]})
    assert other["metadata"] != clean["metadata"]  # still distinct in cache keys


def test_requests_without_credentials_keep_their_cache_keys() -> None:
    """Existing caches keep hitting: this key was computed before scrub reached
    into lists (the same request, nothing secret inside its lists)."""
    from pytest_llmdrift.cache import cache_key, key_material

    request = ChatRequest.build(
        "Is 7 prime?",
        system="be brief",
        params={
            "temperature": 0,
            "max_tokens": 5,
            "stop": ("a", "b"),
            "extra_body": {
                "tools": [{"name": "f", "parameters": {"type": "object", "required": ["x"]}}],
                "top_k": 3,
                "nested": [[1, {"a": None}]],
            },
            "extra_headers": {"Authorization": "Bearer A"},
        },
    )
    material = key_material(
        provider="openai", endpoint="http://h/v1", model="gpt-4o", request=request, sample=1
    )
    assert cache_key(material) == (
        "reply:819045029df089ff72892386511ddf2b19da031598622e0318164bdec317693d"
    )


def test_secret_values_follow_the_scrub_rule() -> None:
    from pytest_llmdrift.reply import env_secrets, secret_values, url_secrets

    found = secret_values(
        {
            "extra_headers": {"X-Relay": "Bearer relay-secret-1"},
            "extra_query": {"sig": "query-secret-2"},
            "extra_body": {"mcp": [{"authorization_token": "nested-secret-3"}], "top_k": 40},
            "max_tokens": 5,
        }
    )
    assert {"Bearer relay-secret-1", "relay-secret-1", "query-secret-2", "nested-secret-3"} <= set(
        found
    )
    assert "40" not in found
    assert "5" not in found
    assert url_secrets("http://bob:pw-1@h/v1?key=k-2") == ["bob:pw-1", "pw-1", "k-2"]
    env = {
        "OPENAI_API_KEY": "sk-abcdefgh",
        "HF_TOKEN": "hf_abcdefgh",
        "DEBUG": "1",
        "LLM_TOKEN": "short",  # too short to be a credential
        "ANTHROPIC_BASE_URL": "https://u:pw-secret@llm.internal",
    }
    assert set(env_secrets(env)) == {"sk-abcdefgh", "hf_abcdefgh", "u:pw-secret", "pw-secret"}


# -- whole replies (issue 11): tool calls, finish reasons, JSON ---------------------
def test_tool_calls_round_trip_and_invalid_arguments_are_kept() -> None:
    from pytest_llmdrift.reply import ToolCall

    good = ToolCall.from_raw("call_1", "get_weather", '{"city": "Paris", "days": 2}')
    bad = ToolCall.from_raw("call_2", "search", '{"q": "unterminated')
    assert good.arguments == {"city": "Paris", "days": 2}
    assert good.valid
    assert good.raw_arguments is None
    assert bad.arguments is None
    assert not bad.valid
    assert bad.arguments_text() == '{"q": "unterminated'
    reply = Reply(
        text="",
        model="m",
        requested_model="m",
        tool_calls=(good, bad),
        finish_reason="tool_use",
        ttft_s=0.25,
    )
    again = Reply.from_json(json.loads(json.dumps(reply.to_json())))
    assert again == reply
    assert again.finish == "tool_calls"
    assert not again.empty


def test_a_plain_reply_keeps_its_old_json_form() -> None:
    reply = Reply(text="hi", model="m", requested_model="m")
    assert set(reply.to_json()) == {
        "text", "model", "requested_model", "provider", "fingerprint", "usage",
        "latency_s", "cached", "sample",
    }  # fmt: skip
    assert reply.finish is None
    assert Reply(text="", model="m", requested_model="m").empty
    assert Reply(text="", model="m", requested_model="m", finish_reason="weird").finish == "other"


def test_reply_json_parses_or_says_why_not() -> None:
    from pytest_llmdrift.reply import NotJSONError

    assert Reply(text='{"a": [1]}', model="m", requested_model="m").json() == {"a": [1]}
    with pytest.raises(NotJSONError, match=r"not JSON .*'The answer is 4\.'"):
        Reply(text="The answer is 4.", model="m", requested_model="m").json()
    with pytest.raises(NotJSONError, match="refused"):
        Reply(text="", model="m", requested_model="m", refusal="I can't").json()
