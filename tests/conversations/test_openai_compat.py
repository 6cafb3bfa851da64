"""The OpenAI-compatible endpoint in process: the meter, the exchange kept,
refunds, errors in OpenAI's shape, and query counts. tests/conversations/
test_openai_sdk.py drives it with the official SDK against a live server."""

import json
from http import HTTPStatus

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from conversations.exceptions import MODEL_NOT_FOUND
from conversations.models import Conversation, Exchange
from conversations.openai_compat.errors import UNKNOWN_URL
from conversations.openai_compat.serializers import BOTH_LIMITS, LAST_MESSAGE_NOT_USER
from conversations.providers import get_provider
from tests.asgi import ASGIStream
from tests.assertions import assert_ledger_matches_balance
from tests.factories import ConversationFactory, ExchangeFactory
from tests.fake_openai import Behaviour
from tests.users.views.accounts import bearer
from users.keys import key_create
from users.models import TokenTransaction, User

pytestmark = pytest.mark.django_db

COMPLETIONS_URL = "/v1/chat/completions"
MODELS_URL = "/v1/models"
ECHO_URL = "/v1/models/echo"
COST = 100  # CHAT_MESSAGE_COST


def key_client(user: User, **options: object):
    return bearer(key_create(user=user, name="sdk", **options).secret)  # type: ignore[arg-type]


def charges(user: User):
    """The user's chat charges and refunds (not the sign-up grant)."""
    kinds = [TokenTransaction.Kind.CHAT_CHARGE, TokenTransaction.Kind.REFUND]
    return user.token_transactions.filter(kind__in=kinds)


def ask(client, content="Hello", model="echo", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return client.post(COMPLETIONS_URL, body, format="json")


def read(response) -> str:
    async def chunks() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(chunks)().decode()


def test_the_urls_are_outside_the_versioned_api():
    assert reverse("openai-chat-completions") == COMPLETIONS_URL
    assert reverse("openai-models") == MODELS_URL
    assert reverse("openai-model", args=["echo"]) == ECHO_URL


def test_a_completion_is_charged_once_and_kept_in_a_new_conversation(user):
    response = ask(key_client(user), "Hello")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    exchange = Exchange.objects.get()
    assert body["id"] == f"chatcmpl-{exchange.pk.hex}"
    assert body["object"] == "chat.completion"
    assert body["created"] == int(exchange.created_at.timestamp())
    assert body["model"] == "echo"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "AI response to: Hello"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": exchange.prompt_tokens,
        "completion_tokens": exchange.completion_tokens,
        "total_tokens": exchange.prompt_tokens + exchange.completion_tokens,
    }
    assert response["X-Tokens-Remaining"] == "3900"
    assert (exchange.message, exchange.response, exchange.status) == (
        "Hello",
        "AI response to: Hello",
        Exchange.Status.COMPLETE,
    )
    charge = charges(user).get()
    assert (charge.kind, charge.amount) == (TokenTransaction.Kind.CHAT_CHARGE, -COST)
    assert charge.api_key is not None
    assert exchange.charge == charge
    assert_ledger_matches_balance(user)


def test_the_clients_messages_are_the_context_not_a_stored_conversation(
    user, openai_provider, settings
):
    earlier = ConversationFactory(user=user)
    ExchangeFactory(conversation=earlier, user=user, message="stored", response="kept")
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "And now?"},
    ]
    response = key_client(user).post(
        COMPLETIONS_URL, {"model": "m", "messages": messages}, format="json"
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    sent = openai_provider.requests[-1]["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "And now?"},
    ]
    new = Exchange.objects.exclude(conversation=earlier).get()
    assert new.message == "And now?"
    assert new.conversation.title == "And now?"
    assert Conversation.objects.count() == 2


def test_without_a_system_message_the_servers_prompt_comes_first(user, openai_provider, settings):
    settings.AI_SYSTEM_PROMPT = "House rules."
    response = ask(key_client(user), "Hi", model="m")

    assert response.status_code == HTTPStatus.OK
    assert openai_provider.requests[-1]["messages"] == [
        {"role": "system", "content": "House rules."},
        {"role": "user", "content": "Hi"},
    ]


def test_a_provider_failure_is_refunded_and_a_502_in_openais_shape(user, openai_provider):
    openai_provider.behaviour = Behaviour(fail_status=500)
    client = key_client(user)
    # A 502 is reported as a server error; let the client see the response.
    client.raise_request_exception = False

    response = ask(client, model="m")

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert response.json()["error"]["type"] == "server_error"
    assert response.json()["error"]["code"] == "provider_error"
    kinds = sorted(charges(user).values_list("kind", "amount"))
    assert kinds == [
        (TokenTransaction.Kind.CHAT_CHARGE, -COST),
        (TokenTransaction.Kind.REFUND, COST),
    ]
    assert not Exchange.objects.exists()
    assert not Conversation.objects.exists()
    assert_ledger_matches_balance(user)


def test_a_short_balance_is_402_insufficient_quota_and_changes_nothing(user):
    User.objects.filter(pk=user.pk).update(tokens=0)
    response = ask(key_client(user))

    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    assert not Exchange.objects.exists()


def test_a_keys_spending_cap_is_402_insufficient_quota_too(user):
    client = key_client(user, daily_cap=COST)
    assert ask(client).status_code == HTTPStatus.OK

    response = ask(client)

    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert Exchange.objects.count() == 1
    assert_ledger_matches_balance(user)


def test_a_model_it_does_not_serve_is_404_model_not_found(user):
    response = ask(key_client(user), model="gpt-4o")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {
        "error": {
            "message": MODEL_NOT_FOUND,
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    assert not charges(user).exists()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "echo"}, "messages"),
        ({"model": "echo", "messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "echo", "messages": [{"role": "assistant", "content": "x"}]}, "messages"),
        ({"model": "echo", "messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        (
            {"model": "echo", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages.0.content",
        ),
        (
            {"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
            "temperature",
        ),
        (
            {"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_tokens",
        ),
        (
            {"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": False},
            "temperature",
        ),
        (
            {"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"},
            "max_tokens",
        ),
        (
            {
                "model": "echo",
                "messages": [{"role": "user", "content": "x"}],
                "max_completion_tokens": 0,
            },
            "max_completion_tokens",
        ),
        (
            {
                "model": "echo",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 5,
                "max_completion_tokens": 5,
            },
            "max_tokens",
        ),
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ],
)
def test_bad_input_is_400_invalid_request_error_and_charges_nothing(user, body, param):
    response = key_client(user).post(COMPLETIONS_URL, body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert not charges(user).exists()


def test_both_limits_is_openai_s_invalid_parameter_combination(user):
    response = ask(key_client(user), max_tokens=5, max_completion_tokens=5)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("max_tokens", "invalid_parameter_combination")
    assert error["message"].endswith(BOTH_LIMITS)
    assert not charges(user).exists()


def test_the_last_message_must_be_the_users(user):
    body = {"model": "echo", "messages": [{"role": "system", "content": "x"}]}
    response = key_client(user).post(COMPLETIONS_URL, body, format="json")

    assert LAST_MESSAGE_NOT_USER in response.json()["error"]["message"]


def test_max_tokens_temperature_and_user_are_accepted(user):
    response = ask(key_client(user), max_tokens=5, temperature=1, user="customer-7", n=1)

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "limits", [{"max_tokens": None, "max_completion_tokens": None}, {"n": None}]
)
def test_nulls_are_left_out_values(user, limits):
    response = ask(key_client(user), **limits)

    assert response.status_code == HTTPStatus.OK, response.json()


def test_max_completion_tokens_is_the_reply_s_limit_as_max_tokens_is(user, openai_provider):
    response = ask(key_client(user), model="m", max_completion_tokens=7)

    assert response.status_code == HTTPStatus.OK, response.json()
    assert openai_provider.requests[-1]["max_tokens"] == 7


@pytest.mark.parametrize("url", [COMPLETIONS_URL, MODELS_URL, ECHO_URL])
def test_only_an_api_key_is_accepted(user, auth_client, url):
    """A log-in's access token is not an API key: 401 invalid_api_key."""
    response = ask(auth_client) if url == COMPLETIONS_URL else auth_client.get(url)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not charges(user).exists()


def test_a_streamed_completion_is_charged_once_and_kept(user):
    response = ask(key_client(user), "one two", stream=True)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/event-stream"
    lines = read(response).split("\n\n")
    assert lines[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-2]]
    exchange = Exchange.objects.get()
    assert {chunk["id"] for chunk in chunks} == {f"chatcmpl-{exchange.pk.hex}"}
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == exchange.response == "AI response to: one two"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == exchange.completion_tokens
    assert charges(user).get().amount == -COST
    assert_ledger_matches_balance(user)


def test_a_stream_whose_provider_fails_ends_with_an_error_and_is_refunded(user, openai_provider):
    openai_provider.behaviour = Behaviour(fail_status=500)

    response = ask(key_client(user), model="m", stream=True)

    events = read(response).split("\n\n")
    assert events[-2] == "data: [DONE]"
    assert json.loads(events[-3].removeprefix("data: "))["error"]["code"] == "provider_error"
    assert not Exchange.objects.exists()
    assert sorted(charges(user).values_list("amount", flat=True)) == [-COST, COST]
    assert_ledger_matches_balance(user)


def test_models_lists_the_served_model(user):
    response = key_client(user).get(MODELS_URL)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "object": "list",
        "data": [{"id": "echo", "object": "model", "created": 0, "owned_by": "chat-api"}],
    }


def test_retrieve_model_answers_with_the_served_model(user):
    client = key_client(user)
    response = client.get(ECHO_URL)

    assert response.status_code == HTTPStatus.OK
    model = {"id": "echo", "object": "model", "created": 0, "owned_by": "chat-api"}
    assert response.json() == model
    assert client.get(MODELS_URL).json()["data"] == [model]


def test_a_model_id_may_hold_a_slash(user, openai_provider, settings):
    settings.AI_MODEL = "acme/m-1"
    get_provider.cache_clear()

    response = key_client(user).get("/v1/models/acme/m-1")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == "acme/m-1"


@pytest.mark.parametrize("model", ["gpt-4o", "ECHO", "echo/", "echo/x", "%20echo"])
def test_retrieving_any_other_model_is_404_model_not_found(user, model):
    response = key_client(user).get(f"{MODELS_URL}/{model}")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {
        "error": {
            "message": MODEL_NOT_FOUND,
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


# --- Paths and methods that do not exist: OpenAI's shape, under /v1/ only ----


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/nothing"),
        ("post", "/v1/chat/completion"),
        ("post", "/v1/v1/chat/completions"),
        ("post", "/v1/chat/completions/"),
        ("get", "/v1/models/"),
        ("get", "/v1/"),
        ("post", "/v1"),
        ("delete", "/v1/embeddings"),
        ("options", "/v1/nothing"),
        # A line break in the path: "." in a URL pattern does not match it.
        ("get", "/v1/a%0Ab"),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("with_key", [False, True])
def test_an_unknown_path_under_v1_is_openais_404_unknown_url(user, method, path, debug, with_key):
    client = key_client(user) if with_key else APIClient()
    with override_settings(DEBUG=debug):
        response = getattr(client, method)(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == "application/json"
    assert "Allow" not in response
    decoded = path.replace("%0A", "\n")
    assert response.json() == {
        "error": {
            "message": UNKNOWN_URL.format(method=method.upper(), path=decoded),
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", COMPLETIONS_URL, "POST, OPTIONS"),
        ("put", COMPLETIONS_URL, "POST, OPTIONS"),
        ("post", MODELS_URL, "GET, HEAD, OPTIONS"),
        ("delete", MODELS_URL, "GET, HEAD, OPTIONS"),
        ("delete", ECHO_URL, "GET, HEAD, OPTIONS"),
        ("patch", ECHO_URL, "GET, HEAD, OPTIONS"),
    ],
)
@pytest.mark.parametrize("with_key", [False, True])
def test_a_method_the_path_does_not_serve_is_405_in_openais_shape(
    user, method, path, allowed, with_key
):
    """Answered before the key is looked at, as an unknown path is."""
    client = key_client(user) if with_key else APIClient()
    response = getattr(client, method)(path, {}, format="json")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == allowed
    assert response.json() == {
        "error": {
            "message": f'Method "{method.upper()}" not allowed.',
            "type": "invalid_request_error",
            "param": None,
            "code": "method_not_allowed",
        }
    }
    assert not charges(user).exists()
    assert not Exchange.objects.exists()


@pytest.mark.parametrize("path", ["/v2/models", "/v1models", "/chat/completions", "/nothing"])
def test_outside_v1_the_sites_404_is_unchanged(client, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"].startswith("text/html")


def test_unknown_api_paths_keep_the_projects_404(client):
    response = client.get("/api/v1/models")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["errors"][0]["code"] == "not_found"


def test_a_completion_costs_the_queries_of_a_chat_by_key(user):
    client = key_client(user)
    client.get(MODELS_URL)  # its first use records last_used_at
    with CaptureQueriesContext(connection) as by_chat:
        assert client.post(reverse("chat"), {"message": "a"}, format="json").status_code == 201
    with CaptureQueriesContext(connection) as by_completion:
        assert ask(client, "a").status_code == HTTPStatus.OK

    assert len(by_completion) == len(by_chat)


def test_our_own_api_keeps_its_error_format(user):
    User.objects.filter(pk=user.pk).update(tokens=0)
    response = key_client(user).post(reverse("chat"), {"message": "a"}, format="json")

    assert response.json()["errors"][0]["code"] == "insufficient_tokens"


# --- Clients that leave a stream (the chat's own settlement) ---------------


@pytest.fixture
def slow_model(openai_provider, settings):
    settings.AI_TIMEOUT_SECONDS = 60
    get_provider.cache_clear()
    return openai_provider


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_mid_stream_pays_and_keeps_the_partial_reply(user, slow_model):
    slow_model.behaviour.chunk_delay = 0.3
    secret = key_create(user=user, name="sdk").secret
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]}
    response = ASGIStream(COMPLETIONS_URL, body, {"Authorization": f"Bearer {secret}"})
    received = b"".join(next(response) for _ in range(3))  # role, "You", " said:"

    response.leave()

    chunks = [
        json.loads(line.removeprefix("data: ")) for line in received.decode().split("\n\n")[:-1]
    ]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "You", " said:"]
    exchange = Exchange.objects.get()
    assert (exchange.status, exchange.response) == (Exchange.Status.INCOMPLETE, "You said:")
    assert sorted(charges(user).values_list("amount", flat=True)) == [-COST]
    assert_ledger_matches_balance(user)


@pytest.mark.django_db(transaction=True)
def test_a_stream_the_server_never_sent_is_refunded(user):
    response = ask(key_client(user), stream=True)

    response.close()  # what the server does when the client left before it sent anything

    assert not Exchange.objects.exists()
    assert sorted(charges(user).values_list("amount", flat=True)) == [-COST, COST]
    assert_ledger_matches_balance(user)
