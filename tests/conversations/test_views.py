import re
import uuid
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.exceptions import CONVERSATION_NOT_FOUND, MESSAGE_REQUIRED
from conversations.models import Conversation, Exchange
from conversations.views import (
    ConversationListView,
    ExchangeListView,
    TokenTransactionListView,
)
from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.factories import ConversationFactory, ExchangeFactory, UserFactory
from users.exceptions import INSUFFICIENT_TOKENS
from users.ledger import tokens_adjust
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db

CHAT_URL = reverse("chat")


# The spellings of a UUID that Python's UUID() reads and the schema's
# `format: uuid` refuses; the last two it even read as another UUID.
OTHER_SPELLINGS = [
    "01a229d0af99767097454450e8f54603",
    "{01a229d0-af99-7670-9745-4450e8f54603}",
    "urn:uuid:01a229d0-af99-7670-9745-4450e8f54603",
    "01a2-29d0-af99-7670-9745-4450-e8f5-4603",
    "\uff10\uff11a229d0-af99-7670-9745-4450e8f54603",
    "0_1a229d0af99767097454450e8f5460",
    " 01a229d0af99767097454450e8f5460",
]


def chat(client, message="Hello", **extra):
    return client.post(CHAT_URL, {"message": message, **extra}, format="json")


# --- POST /chat/ ------------------------------------------------------------


def test_chat_returns_the_exchange_and_the_new_balance(auth_client, user):
    response = chat(auth_client, "  Hello there  ")

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert set(body) == {
        "id",
        "conversation",
        "message",
        "response",
        "model",
        "usage",
        "tokens_charged",
        "remaining_tokens",
        "timestamp",
    }
    assert body["message"] == "Hello there"
    assert body["response"] == "AI response to: Hello there"
    assert body["model"] == "echo"
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 5}
    assert body["tokens_charged"] == 100
    assert body["remaining_tokens"] == 3900
    assert body["timestamp"].endswith("Z")
    exchange = Exchange.objects.get()
    assert body["id"] == str(exchange.pk)
    assert body["conversation"] == str(exchange.conversation_id)
    assert_ledger_matches_balance(user)


def test_chat_continues_a_conversation(auth_client):
    first = chat(auth_client, "one").json()

    second = chat(auth_client, "two", conversation=first["conversation"])

    assert second.status_code == HTTPStatus.CREATED
    assert second.json()["conversation"] == first["conversation"]
    assert second.json()["remaining_tokens"] == 3800


def test_chat_with_null_conversation_starts_a_new_one(auth_client):
    chat(auth_client, "one")

    response = chat(auth_client, "two", conversation=None)

    assert response.status_code == HTTPStatus.CREATED
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize(
    "payload",
    [{}, {"message": ""}, {"message": "   \n\t "}, {"message": None}],
    ids=["missing", "empty", "blank", "null"],
)
def test_chat_without_a_message_is_refused(auth_client, user, payload):
    response = auth_client.post(CHAT_URL, payload, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["attr"] == "message"
    assert body["errors"][0]["detail"] == MESSAGE_REQUIRED
    user.refresh_from_db()
    assert user.tokens == 4000


@pytest.mark.parametrize(
    "message",
    [12345, 1.5, True, ["hi"], {"text": "hi"}],
    ids=["int", "float", "bool", "list", "dict"],
)
def test_chat_message_must_be_a_string(auth_client, user, message):
    response = chat(auth_client, message)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("message", "invalid")]
    assert not Exchange.objects.exists()


def test_chat_message_length_limit_follows_the_setting(auth_client, settings):
    settings.MAX_MESSAGE_CHARS = 10

    assert chat(auth_client, "x" * 10).status_code == HTTPStatus.CREATED
    too_long = chat(auth_client, "x" * 11)
    assert too_long.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(too_long) == [("message", "max_length")]
    # The limit counts the message as sent, as schema.yml's maxLength does:
    # surrounding whitespace counts, though it is not stored.
    padded = chat(auth_client, f" {'x' * 9}\t")
    assert padded.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(padded) == [("message", "max_length")]
    assert chat(auth_client, f" {'x' * 8}\t").json()["message"] == "x" * 8


def test_chat_default_message_limit_is_4000(auth_client):
    assert chat(auth_client, "x" * 4000).status_code == HTTPStatus.CREATED
    assert chat(auth_client, "x" * 4001).status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "text", [r"nul\u0000byte", r"lone \ud800 surrogate"], ids=["nul", "surrogate"]
)
def test_chat_refuses_text_no_database_can_store(auth_client, text):
    # Raw JSON: these escapes are valid JSON that decode to unstorable text.
    body = '{"message": "' + text + '"}'
    response = auth_client.post(CHAT_URL, body, content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response)[0][0] == "message"
    assert not Exchange.objects.exists()


def test_chat_with_a_short_balance_is_402_and_changes_nothing(api_client, make_auth_client):
    poor = UserFactory(balance=99)

    response = chat(make_auth_client(poor))

    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "insufficient_tokens", "detail": INSUFFICIENT_TOKENS, "attr": None}],
    }
    poor.refresh_from_db()
    assert poor.tokens == 99
    assert not Exchange.objects.exists()
    assert not Conversation.objects.exists()
    assert_ledger_matches_balance(poor)


def test_chat_into_someone_elses_conversation_is_404(auth_client, user):
    foreign = ConversationFactory()

    response = chat(auth_client, conversation=str(foreign.pk))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["errors"][0]["detail"] == CONVERSATION_NOT_FOUND
    assert not foreign.exchanges.exists()
    user.refresh_from_db()
    assert user.tokens == 4000


def test_chat_into_an_unknown_conversation_is_404(auth_client):
    response = chat(auth_client, conversation=str(uuid.uuid4()))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert error_codes(response) == [(None, "not_found")]


def test_a_conversation_id_in_capitals_is_the_same_conversation(auth_client):
    first = chat(auth_client, "one").json()

    second = chat(auth_client, "two", conversation=first["conversation"].upper())

    assert second.status_code == HTTPStatus.CREATED
    assert second.json()["conversation"] == first["conversation"]


@pytest.mark.parametrize("conversation", ["not-a-uuid", 42, ["x"], *OTHER_SPELLINGS])
def test_chat_with_a_malformed_conversation_id_is_400(auth_client, conversation):
    response = chat(auth_client, conversation=conversation)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response)[0][0] == "conversation"


def statements(queries) -> list[str]:
    """The SQL a request ran, as "VERB table", without transaction control
    (and without subqueries: the user's carries whether the session ended)."""
    found = []
    for query in queries.captured_queries:
        words = re.sub(r"\(SELECT [^()]*\)", "", query["sql"]).replace('"', "").split()
        verb = words[0]
        if verb in {"SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"}:
            continue
        table = words[
            words.index("FROM" if verb == "SELECT" else "INTO" if verb == "INSERT" else verb) + 1
        ]
        found.append(f"{verb} {table}")
    return found


def test_a_new_chat_runs_only_the_minimum(auth_client):
    with CaptureQueriesContext(connection) as queries:
        chat(auth_client, "one")

    assert statements(queries) == [
        "SELECT users_user",  # authentication: the user, and whether the session ended
        # The reservation, in one transaction:
        "UPDATE users_user",  # the debit, returning the new balance
        "INSERT users_tokentransaction",  # its ledger row
        "INSERT conversations_conversation",
        "INSERT conversations_exchange",  # pending, linked to its charge
        # The provider answers, outside any transaction; then:
        "UPDATE conversations_exchange",  # the reply, if the exchange is still pending
    ]


def test_a_chat_in_a_conversation_runs_only_the_minimum(auth_client):
    conversation = chat(auth_client, "one").json()["conversation"]

    with CaptureQueriesContext(connection) as queries:
        chat(auth_client, "two", conversation=conversation)

    assert statements(queries) == [
        "SELECT users_user",
        "UPDATE conversations_conversation",  # ownership check and last activity, in one
        "SELECT conversations_exchange",  # the model's memory: the last few exchanges
        "UPDATE users_user",
        "INSERT users_tokentransaction",
        "INSERT conversations_exchange",
        "UPDATE conversations_exchange",
    ]


# --- Authentication on every chat endpoint ---------------------------------

PROTECTED = [
    ("post", "chat"),
    ("get", "balance"),
    ("get", "conversation-list"),
    ("get", "exchange-list"),
    ("get", "transaction-list"),
]


@pytest.mark.parametrize(("method", "name"), PROTECTED)
def test_chat_endpoints_need_a_token(api_client, method, name):
    response = getattr(api_client, method)(reverse(name), format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "not_authenticated")]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "name"), PROTECTED)
def test_chat_endpoints_refuse_a_bad_token(api_client, method, name):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")

    response = getattr(api_client, method)(reverse(name), format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


# --- GET /balance/ ------------------------------------------------------------


def test_balance(auth_client, settings):
    settings.CHAT_MESSAGE_COST = 100
    chat(auth_client)

    response = auth_client.get(reverse("balance"))

    assert response.json() == {
        "tokens": 3900,
        "pricing": "flat",
        "cost_per_message": 100,
        "per_token": None,
    }


def test_balance_costs_only_the_authentication_query(auth_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert auth_client.get(reverse("balance")).status_code == HTTPStatus.OK


# --- Conversations ----------------------------------------------------------


def test_conversations_list_most_recently_active_first(auth_client):
    old = chat(auth_client, "old").json()["conversation"]
    new = chat(auth_client, "new").json()["conversation"]
    chat(auth_client, "again", conversation=old)

    response = auth_client.get(reverse("conversation-list"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"next", "previous", "next_cursor", "previous_cursor", "results"}
    assert [c["id"] for c in body["results"]] == [old, new]
    assert body["results"][0]["title"] == "old"
    assert set(body["results"][0]) == {"id", "title", "total_cost", "created_at", "updated_at"}


def test_conversations_of_others_are_invisible(auth_client):
    foreign = ConversationFactory()
    mine = chat(auth_client).json()["conversation"]

    listed = auth_client.get(reverse("conversation-list")).json()["results"]
    detail = auth_client.get(reverse("conversation-detail", args=[foreign.pk]))
    deleted = auth_client.delete(reverse("conversation-detail", args=[foreign.pk]))

    assert [c["id"] for c in listed] == [mine]
    assert detail.status_code == HTTPStatus.NOT_FOUND
    assert deleted.status_code == HTTPStatus.NOT_FOUND
    assert Conversation.objects.filter(pk=foreign.pk).exists()


def test_conversation_detail(auth_client):
    conversation = chat(auth_client, "Hi").json()["conversation"]

    response = auth_client.get(reverse("conversation-detail", args=[conversation]))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == conversation
    assert response.json()["title"] == "Hi"


def test_a_conversation_path_takes_its_id_in_capitals_too(auth_client):
    # As the schema's format: uuid does (Django's own converter took lower case only).
    conversation = chat(auth_client).json()["conversation"]

    response = auth_client.get(f"{reverse('conversation-list')}{conversation.upper()}/")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == conversation


def test_conversation_delete_removes_its_exchanges(auth_client, user):
    conversation = chat(auth_client).json()["conversation"]

    response = auth_client.delete(reverse("conversation-detail", args=[conversation]))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not Conversation.objects.exists()
    assert not Exchange.objects.exists()
    assert auth_client.get(reverse("exchange-list")).json()["results"] == []
    assert_ledger_matches_balance(user)


def test_conversation_path_with_a_malformed_id_is_a_json_404(auth_client):
    response = auth_client.get("/api/v1/conversations/not-a-uuid/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert error_codes(response) == [(None, "not_found")]


# --- GET /chats/ ------------------------------------------------------------


def test_chats_newest_first_with_the_exchange_fields(auth_client):
    chat(auth_client, "one")
    chat(auth_client, "two")

    results = auth_client.get(reverse("exchange-list")).json()["results"]

    assert [e["message"] for e in results] == ["two", "one"]
    assert set(results[0]) == {
        "id",
        "conversation",
        "message",
        "response",
        "status",
        "model",
        "usage",
        "tokens_charged",
        "timestamp",
    }
    assert results[0]["status"] == "complete"


def test_chats_filter_by_conversation(auth_client):
    first = chat(auth_client, "one").json()["conversation"]
    chat(auth_client, "two")

    response = auth_client.get(reverse("exchange-list"), {"conversation": first})

    assert [e["message"] for e in response.json()["results"]] == ["one"]


@pytest.mark.parametrize("conversation", ["nope", "", *OTHER_SPELLINGS])
def test_chats_filter_with_a_malformed_conversation_is_400(auth_client, conversation):
    # An empty one too: the schema's uuid format refuses it, so must we.
    response = auth_client.get(reverse("exchange-list"), {"conversation": conversation})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("conversation", "invalid")]


def test_chats_of_others_are_invisible(auth_client):
    foreign = ExchangeFactory()

    by_list = auth_client.get(reverse("exchange-list")).json()["results"]
    by_filter = auth_client.get(reverse("exchange-list"), {"conversation": foreign.conversation_id})

    assert by_list == []
    assert by_filter.json()["results"] == []


# --- GET /transactions/ -----------------------------------------------------


def test_transactions_newest_first_and_sum_to_the_balance(auth_client, user):
    exchange_id = chat(auth_client).json()["id"]

    results = auth_client.get(reverse("transaction-list")).json()["results"]

    assert [(t["kind"], t["amount"], t["balance_after"]) for t in results] == [
        ("chat_charge", -100, 3900),
        ("signup_grant", 4000, 4000),
    ]
    assert results[0]["exchange"] == exchange_id
    assert results[1]["exchange"] is None
    assert set(results[0]) == {"id", "amount", "kind", "balance_after", "exchange", "created_at"}
    user.refresh_from_db()
    assert sum(t["amount"] for t in results) == user.tokens


def test_transactions_of_others_are_invisible(auth_client, user):
    UserFactory()  # has a signup grant of their own

    results = auth_client.get(reverse("transaction-list")).json()["results"]

    assert {TokenTransaction.objects.get(pk=t["id"]).user_id for t in results} == {user.pk}


# --- Pagination -------------------------------------------------------------


def test_cursor_pages_walk_the_whole_history_without_gaps(auth_client, user):
    conversation = ConversationFactory(user=user)
    created = [ExchangeFactory(conversation=conversation).pk for _ in range(7)]

    seen: list[str] = []
    url: str | None = reverse("exchange-list") + "?page_size=3"
    while url:
        page = auth_client.get(url).json()
        seen.extend(e["id"] for e in page["results"])
        url = page["next"]

    assert seen == [str(pk) for pk in reversed(created)]


def test_the_bare_cursors_walk_the_history_both_ways(auth_client, user):
    conversation = ConversationFactory(user=user)
    created = [str(ExchangeFactory(conversation=conversation).pk) for _ in range(5)][::-1]
    url = reverse("exchange-list")

    pages = [auth_client.get(url, {"page_size": 2}).json()]
    while pages[-1]["next_cursor"] is not None:
        pages.append(
            auth_client.get(url, {"page_size": 2, "cursor": pages[-1]["next_cursor"]}).json()
        )
    back = auth_client.get(url, {"page_size": 2, "cursor": pages[-1]["previous_cursor"]}).json()

    assert [e["id"] for page in pages for e in page["results"]] == created
    assert [page["previous_cursor"] is None for page in pages] == [True, False, False]
    for page in pages:
        # The bare cursor is the one in the URL, for clients that take `cursor=`.
        for link, bare in (("next", "next_cursor"), ("previous", "previous_cursor")):
            query = parse_qs(urlsplit(page[link]).query) if page[link] else {"cursor": [None]}
            assert query["cursor"] == [page[bare]]
    assert back["results"] == pages[1]["results"]


@pytest.mark.parametrize("name", ["conversation-list", "exchange-list", "transaction-list"])
def test_lists_cost_the_same_queries_whatever_the_page_size(
    auth_client, user, name, django_assert_num_queries
):
    for _ in range(30):
        ExchangeFactory(conversation=ConversationFactory(user=user))
        tokens_adjust(user=user, amount=1, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)

    with django_assert_num_queries(2):  # authentication, one page
        small = auth_client.get(reverse(name), {"page_size": 1})
    with django_assert_num_queries(2):
        large = auth_client.get(reverse(name), {"page_size": 100})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) > 1


@pytest.mark.parametrize(
    ("name", "view"),
    [
        ("conversation-list", ConversationListView),
        ("exchange-list", ExchangeListView),
        ("transaction-list", TokenTransactionListView),
    ],
)
def test_lists_build_their_serializer_once_not_per_request(
    auth_client, user, name, view, monkeypatch
):
    ExchangeFactory(conversation=ConversationFactory(user=user))
    serializer = view.serializer_class
    built = []
    get_fields = serializer.get_fields
    monkeypatch.setattr(serializer, "get_fields", lambda self: built.append(1) or get_fields(self))

    pages = [auth_client.get(reverse(name)).json()["results"] for _ in range(3)]

    # At most the first request of the process builds it.
    assert len(built) <= 1
    assert pages[0] == pages[1] == pages[2] != []


@pytest.mark.parametrize("cursor", ["garbage", "cD0tMQ==", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OQ=="])
def test_a_bad_cursor_is_a_json_404(auth_client, cursor):
    response = auth_client.get(reverse("exchange-list"), {"cursor": cursor})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert error_codes(response) == [(None, "not_found")]


# --- Costs and the remaining balance --------------------------------------------


def test_each_conversation_shows_what_its_exchanges_cost(auth_client, user):
    first = chat(auth_client, "one").json()["conversation"]
    chat(auth_client, "two", conversation=first)
    second = chat(auth_client, "other").json()["conversation"]
    empty = ConversationFactory(user=user)

    listed = {
        c["id"]: c["total_cost"]
        for c in auth_client.get(reverse("conversation-list")).json()["results"]
    }
    detail = auth_client.get(reverse("conversation-detail", args=[first])).json()

    assert listed == {first: 200, second: 100, str(empty.pk): 0}
    assert detail["total_cost"] == 200


def test_a_refunded_chat_costs_its_conversation_nothing(auth_client, user, openai_provider):
    conversation = chat(auth_client, "kept").json()["conversation"]
    openai_provider.behaviour.fail_status = 500
    # The 502 is reported as a server error; the client should answer it.
    auth_client.raise_request_exception = False

    assert (
        chat(auth_client, "fails", conversation=conversation).status_code == HTTPStatus.BAD_GATEWAY
    )

    detail = auth_client.get(reverse("conversation-detail", args=[conversation])).json()
    assert detail["total_cost"] == 100


def test_chat_and_balance_carry_the_remaining_tokens(auth_client):
    response = chat(auth_client, "Hello")
    balance = auth_client.get(reverse("balance"))

    assert response["X-Tokens-Remaining"] == "3900"
    assert response.json()["remaining_tokens"] == 3900
    assert balance["X-Tokens-Remaining"] == "3900"


def test_a_streamed_chat_carries_the_balance_after_its_charge(auth_client):
    response = chat(auth_client, "Hello", stream=True)

    assert response.status_code == HTTPStatus.OK
    assert response["X-Tokens-Remaining"] == "3900"


def test_a_replayed_chat_carries_the_balance_now(auth_client):
    headers = {"Idempotency-Key": "k-1"}
    auth_client.post(CHAT_URL, {"message": "a"}, format="json", headers=headers)
    chat(auth_client, "another")

    replay = auth_client.post(CHAT_URL, {"message": "a"}, format="json", headers=headers)

    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["remaining_tokens"] == 3900
    assert replay["X-Tokens-Remaining"] == "3800"
