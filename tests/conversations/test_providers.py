"""The providers, the OpenAI one through the real SDK against a real HTTP server."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from api import lifespan
from conversations.exceptions import ProviderError, ProviderTimeout
from conversations.providers import Message, Reply, get_provider
from tests.fake_openai import SERVED_MODEL
from tests.sync import provider_reply, provider_stream

MESSAGES = [
    Message("system", "Be brief."),
    Message("user", "Hi there"),
    Message("assistant", "Hello!"),
    Message("user", "How are you today"),
]


@pytest.fixture(autouse=True)
def _fresh_provider():
    get_provider.cache_clear()
    yield
    get_provider.cache_clear()


def streamed(provider) -> tuple[list[str | Reply], str | Reply]:
    *pieces, reply = provider_stream(provider, MESSAGES)
    return pieces, reply


def test_the_default_provider_echoes_deterministically():
    reply = provider_reply(get_provider(), MESSAGES)

    assert reply == Reply(
        text="AI response to: How are you today",
        model="echo",
        prompt_tokens=9,
        completion_tokens=7,
    )


def test_the_echo_stream_reassembles_to_the_reply():
    pieces, reply = streamed(get_provider())

    assert len(pieces) == 7
    assert "".join(pieces) == reply.text == "AI response to: How are you today"


def test_an_unknown_provider_is_a_configuration_error(settings):
    settings.AI_PROVIDER = "nonsense"

    with pytest.raises(ImproperlyConfigured, match="AI_PROVIDER='nonsense' is unknown"):
        get_provider()


# --- openai: any server that speaks the Chat Completions API ---------------


def test_openai_sends_the_messages_model_limit_and_key(openai_provider, settings):
    settings.AI_MAX_OUTPUT_TOKENS = 321
    provider_reply(get_provider(), MESSAGES)

    # The whole body, as the server reads it: nothing more, nothing renamed.
    assert openai_provider.requests == [
        {
            "model": "m",
            "messages": [{"role": m.role, "content": m.content} for m in MESSAGES],
            "max_tokens": 321,
            "_authorization": "Bearer test-key",
            # Outside a request there is no request id to pass on.
            "_request_id": "",
        }
    ]


def test_openai_reply_has_the_answering_model_and_its_usage(openai_provider):
    reply = provider_reply(get_provider(), MESSAGES)

    assert reply == Reply(
        text="You said: How are you today",
        model=SERVED_MODEL,
        prompt_tokens=9,
        completion_tokens=6,
    )


def test_openai_stream_reassembles_to_the_reply_with_usage(openai_provider):
    pieces, reply = streamed(get_provider())

    assert pieces == ["You", " said:", " How", " are", " you", " today"]
    assert reply == Reply(
        text="You said: How are you today",
        model=SERVED_MODEL,
        prompt_tokens=9,
        completion_tokens=6,
    )
    [sent] = openai_provider.requests
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": m.role, "content": m.content} for m in MESSAGES]


@pytest.mark.parametrize("status", [500, 503, 429, 401])
def test_openai_error_status_is_a_provider_error(openai_provider, status):
    openai_provider.behaviour.fail_status = status

    with pytest.raises(ProviderError):
        provider_reply(get_provider(), MESSAGES)
    with pytest.raises(ProviderError):
        streamed(get_provider())


def test_openai_that_does_not_answer_in_time_is_a_timeout(openai_provider, settings):
    settings.AI_TIMEOUT_SECONDS = 0.3
    openai_provider.behaviour.hang = True

    with pytest.raises(ProviderTimeout):
        provider_reply(get_provider(), MESSAGES)


def test_openai_stream_slower_than_the_timeout_in_total_is_a_timeout(openai_provider, settings):
    # Every piece arrives well within the timeout, the whole reply does not.
    settings.AI_TIMEOUT_SECONDS = 0.3
    openai_provider.behaviour.chunk_delay = 0.1

    with pytest.raises(ProviderTimeout):
        streamed(get_provider())


def test_openai_stream_cut_midway_is_a_provider_error(openai_provider):
    openai_provider.behaviour.cut_after = 2
    received = []

    async def read() -> None:
        async for piece in get_provider().stream(messages=MESSAGES):
            received.append(piece)

    with pytest.raises(ProviderError):
        async_to_sync(read)()
    assert received == ["You", " said:"]


def test_openai_that_cannot_be_reached_is_a_provider_error(openai_provider, settings):
    openai_provider.stop()

    with pytest.raises(ProviderError):
        provider_reply(get_provider(), MESSAGES)


# --- Answers that are not a chat completion ---------------------------------

COMPLETION = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "served",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
    ],
}


def completion(**changes) -> bytes:
    return json.dumps({**COMPLETION, **changes}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b"<html><body>Welcome to nginx!</body></html>",
        b"[1, 2, 3]",
        b"{not json",
        completion(choices=[{"index": 0, "message": {"role": "assistant", "content": None}}]),
        completion(choices=[]),
        completion(choices=None),
    ],
    ids=["html", "a-list", "bad-json", "no-content", "no-choices", "null-choices"],
)
def test_an_answer_that_is_not_a_completion_is_a_provider_error(openai_provider, raw):
    openai_provider.behaviour.raw = raw

    with pytest.raises(ProviderError):
        provider_reply(get_provider(), MESSAGES)


@pytest.mark.parametrize(
    "events",
    [
        ["{not json"],
        [json.dumps({**COMPLETION, "object": "chat.completion.chunk", "choices": None})],
        [json.dumps({"choices": [{"index": 0, "delta": None}]}), "[DONE]"],
        [json.dumps({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}), "[DONE]"],
    ],
    ids=["bad-json", "null-choices", "null-delta", "never-finished"],
)
def test_a_stream_that_is_not_a_completion_is_a_provider_error(openai_provider, events):
    openai_provider.behaviour.raw_events = events

    with pytest.raises(ProviderError):
        streamed(get_provider())


def test_odd_but_usable_fields_are_made_safe(openai_provider):
    odd = completion(model=None, usage={"prompt_tokens": "many", "completion_tokens": True})
    openai_provider.behaviour.raw = odd

    reply = provider_reply(get_provider(), MESSAGES)

    assert reply == Reply(text="Hi", model="m", prompt_tokens=None, completion_tokens=None)


def test_text_a_database_cannot_store_is_replaced(openai_provider):
    # PostgreSQL refuses NUL in text; a lone surrogate cannot be encoded.
    openai_provider.behaviour.reply = "a\x00b \ud800c"

    reply = provider_reply(get_provider(), MESSAGES)
    pieces, streamed_reply = streamed(get_provider())

    assert reply.text == streamed_reply.text == "a\ufffdb ?c"
    assert "".join(pieces) == reply.text


def test_opened_on_the_server_s_loop_the_client_is_ready_before_the_first_chat(
    openai_provider, monkeypatch
):
    provider = get_provider()
    built: list[object] = []
    new_client = provider._new_client
    monkeypatch.setattr(provider, "_new_client", lambda: built.append(new_client()) or built[-1])

    async def serve() -> tuple[int, Reply]:
        lifespan.serving()
        try:
            await provider.open()
            opened = len(built)
            reply = await provider.reply(messages=MESSAGES)
        finally:
            await lifespan.shutdown()
        return opened, reply

    opened, reply = async_to_sync(serve)()

    assert opened == 1
    assert len(built) == 1  # the chat used the client opened at the start
    assert reply.text


def test_opened_elsewhere_nothing_is_kept(openai_provider):
    provider = get_provider()

    async_to_sync(provider.open)()

    assert not provider._clients
