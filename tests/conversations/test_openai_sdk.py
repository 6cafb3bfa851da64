"""The official `openai` SDK, sync and async, against the app under gunicorn
(tests/server.py), the fake model of tests/fake_openai.py as its provider:
what an integrator who points the SDK at base_url http://host/v1 gets."""

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.factories import DEFAULT_PASSWORD
from tests.fake_openai import SERVED_MODEL, Behaviour, FakeOpenAI
from tests.fuzz.database import query
from tests.server import LiveServer, live_server

pytestmark = pytest.mark.live_server_process

MODEL = "m"  # AI_MODEL: the one model served
COST = 100  # CHAT_MESSAGE_COST
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start_in_thread()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _default_behaviour(provider: FakeOpenAI) -> None:
    provider.behaviour = Behaviour()


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any, provider: FakeOpenAI) -> Iterator[LiveServer]:
    env = {
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": provider.base_url,
        "AI_API_KEY": "x",
        "AI_MODEL": MODEL,
        "AI_TIMEOUT_SECONDS": "2",
        # Per user (each test has its own): the rate-limit test passes it.
        "THROTTLE_CHAT": "3/min",
    }
    with live_server(tmp_path_factory.mktemp("sdk"), env=env) as running:
        yield running


def new_key(server: LiveServer, username: str, **options: Any) -> str:
    access = server.login(username, DEFAULT_PASSWORD)
    created = server.request("POST", "/api/v1/keys/", {"name": "sdk", **options}, access)
    assert created.status == 201, created
    return str(created.body["key"])


def client(server: LiveServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def async_client(server: LiveServer, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def ledger(server: LiveServer, username: str) -> tuple[int, list[tuple[str, int]]]:
    """The balance and the chat ledger rows (kind, amount) of an account."""
    [(tokens,)] = query(
        server.database_url, "SELECT tokens FROM users_user WHERE username = %s", (username,)
    )
    rows = query(
        server.database_url,
        "SELECT t.kind, t.amount FROM users_tokentransaction t JOIN users_user u"
        " ON u.id = t.user_id WHERE u.username = %s ORDER BY t.id",
        (username,),
    )
    chat_rows = [(str(kind), int(str(amount))) for kind, amount in rows if kind != "signup_grant"]
    assert sum(int(str(amount)) for _, amount in rows) == tokens
    return int(str(tokens)), chat_rows


def test_a_completion_with_the_sync_client(server: LiveServer) -> None:
    key = new_key(server, "sdk-sync")

    completion = client(server, key).chat.completions.create(model=MODEL, messages=HELLO)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == SERVED_MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4
    history = server.request("GET", "/api/v1/chats/", token=key).body["results"]
    assert [(e["message"], e["response"]) for e in history] == [
        ("Hello there", "You said: Hello there")
    ]
    assert ledger(server, "sdk-sync") == (4000 - COST, [("chat_charge", -COST)])


def test_a_streamed_completion_with_the_sync_client(server: LiveServer) -> None:
    key = new_key(server, "sdk-sync-stream")

    with client(server, key).chat.completions.create(
        model=MODEL,
        messages=HELLO,
        stream=True,
    ) as stream:
        chunks = list(stream)

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "You said: Hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert ledger(server, "sdk-sync-stream") == (4000 - COST, [("chat_charge", -COST)])


def test_the_async_client_streamed_and_not(server: LiveServer) -> None:
    key = new_key(server, "sdk-async")

    async def run() -> tuple[str | None, str]:
        async with async_client(server, key) as sdk:
            completion = await sdk.chat.completions.create(model=MODEL, messages=HELLO)
            stream = await sdk.chat.completions.create(
                model=MODEL,
                messages=HELLO,
                stream=True,
            )
            pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
        return completion.choices[0].message.content, "".join(pieces)

    assert asyncio.run(run()) == ("You said: Hello there", "You said: Hello there")
    assert ledger(server, "sdk-async")[1] == [("chat_charge", -COST)] * 2


def test_models_lists_the_served_model(server: LiveServer) -> None:
    key = new_key(server, "sdk-models")

    assert [model.id for model in client(server, key).models.list()] == [MODEL]


def test_retrieve_model_with_the_sync_and_async_clients(server: LiveServer) -> None:
    key = new_key(server, "sdk-model-retrieve")

    async def retrieve() -> openai.types.Model:
        async with async_client(server, key) as sdk:
            return await sdk.models.retrieve(MODEL)

    model = client(server, key).models.retrieve(MODEL)

    assert (model.id, model.object, model.owned_by) == (MODEL, "model", "chat-api")
    assert model.created == 0
    assert asyncio.run(retrieve()) == model


def test_retrieving_a_model_not_served_is_not_found(server: LiveServer) -> None:
    sdk = client(server, new_key(server, "sdk-model-unknown"))

    with pytest.raises(openai.NotFoundError) as raised:
        sdk.models.retrieve("gpt-4o")

    assert raised.value.status_code == 404
    assert (raised.value.type, raised.value.code) == ("invalid_request_error", "model_not_found")


def test_a_wrong_base_url_is_not_found_unknown_url(server: LiveServer) -> None:
    """/v1 twice: the SDK says which URL, not an HTML page."""
    key = new_key(server, "sdk-base-url")
    sdk = openai.OpenAI(base_url=f"{server.url}/v1/v1", api_key=key, max_retries=0)

    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)

    assert raised.value.code == "unknown_url"
    assert "POST /v1/v1/chat/completions" in raised.value.message
    assert ledger(server, "sdk-base-url")[1] == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/models", "GET, HEAD, OPTIONS"),
        # A coroutine view: served by api.handlers' handler, not Django's.
        ("get", "/chat/completions", "POST, OPTIONS"),
    ],
)
def test_a_method_the_path_does_not_serve_is_a_405(
    server: LiveServer, method: str, path: str, allowed: str
) -> None:
    sdk = client(server, new_key(server, f"sdk-method-{method}"))

    with pytest.raises(openai.APIStatusError) as raised:
        getattr(sdk, method)(path, cast_to=openai.types.Model)

    assert raised.value.status_code == 405
    assert raised.value.code == "method_not_allowed"
    assert raised.value.response.headers["Allow"] == allowed
    assert ledger(server, f"sdk-method-{method}")[1] == []


def test_a_bad_key_is_an_authentication_error(server: LiveServer) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        client(server, "chatkey_" + "x" * 50).chat.completions.create(
            model=MODEL,
            messages=HELLO,
        )

    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"


def test_a_model_not_served_is_not_found(server: LiveServer) -> None:
    key = new_key(server, "sdk-model")

    with pytest.raises(openai.NotFoundError) as raised:
        client(server, key).chat.completions.create(model="gpt-4o", messages=HELLO)

    assert raised.value.code == "model_not_found"
    assert ledger(server, "sdk-model")[1] == []


def test_a_spent_cap_is_a_402_insufficient_quota(server: LiveServer) -> None:
    sdk = client(server, new_key(server, "sdk-capped", daily_cap=COST))
    sdk.chat.completions.create(model=MODEL, messages=HELLO)

    with pytest.raises(openai.APIStatusError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)

    assert raised.value.status_code == 402
    assert raised.value.code == "insufficient_quota"
    assert raised.value.type == "insufficient_quota"
    assert ledger(server, "sdk-capped")[1] == [("chat_charge", -COST)]


def test_past_the_rate_limit_is_a_rate_limit_error(server: LiveServer) -> None:
    sdk = client(server, new_key(server, "sdk-hurried"))
    for _ in range(3):
        sdk.chat.completions.create(model=MODEL, messages=HELLO)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)

    assert int(raised.value.response.headers["Retry-After"]) > 0
    assert raised.value.code == "rate_limit_exceeded"
    assert len(ledger(server, "sdk-hurried")[1]) == 3


def test_a_provider_failure_is_a_502_and_refunded(server: LiveServer, provider: FakeOpenAI) -> None:
    provider.behaviour = Behaviour(fail_status=503)
    sdk = client(server, new_key(server, "sdk-failed"))

    with pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)

    assert raised.value.status_code == 502
    assert raised.value.code == "provider_error"
    assert ledger(server, "sdk-failed") == (4000, [("chat_charge", -COST), ("refund", COST)])


def test_a_provider_failure_mid_stream_is_an_api_error_and_refunded(
    server: LiveServer, provider: FakeOpenAI
) -> None:
    provider.behaviour = Behaviour(cut_after=2)
    sdk = client(server, new_key(server, "sdk-cut"))

    with pytest.raises(openai.APIError) as raised:  # noqa: PT012 (the error comes mid-stream)
        stream = sdk.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        for _ in stream:
            pass

    assert "provider" in raised.value.message.lower()
    assert ledger(server, "sdk-cut") == (4000, [("chat_charge", -COST), ("refund", COST)])
