"""CHAT_PRICING=per_token (conversations/services/pricing.py): reserve the most a
chat can cost, settle the usage the provider reports, give the rest back as
its own ledger row. Flat pricing's own tests are the rest of this folder.

The prices make the arithmetic easy to follow: a prompt token costs 0.25, a
completion token 1, a reply is at most 100 tokens, and the system prompt is
"Be brief." (9 bytes). "Hello" then reserves ceil((9 + 5 + 2 * 8 + 8) * 0.25
+ 100) = 110.
"""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.models import Conversation, Exchange
from conversations.providers import Message, Reply
from conversations.services import pricing
from conversations.services.chat import chat_reserve
from conversations.services.reservations import Abandoned, Completed, chat_settle
from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.conversations.test_openai_compat import ask, key_client, read
from tests.conversations.test_streaming import asgi_stream, events_of, parse, stream
from tests.conversations.test_views import statements
from tests.factories import UserFactory
from tests.sync import chat_send
from tests.users.test_keys import keyed, spent
from users.exceptions import InsufficientTokens
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db

Kind = TokenTransaction.Kind
RESERVED = 110  # "Hello": see the module's docstring
ECHO_COST = 5  # 3 prompt words * 0.25 + "AI response to: Hello", 4 words * 1, rounded up
FAKE_COST = 4  # 3 * 0.25 + "You said: Hello", 3 words * 1, rounded up


@pytest.fixture(autouse=True)
def per_token(settings):
    settings.CHAT_PRICING = "per_token"
    settings.CHAT_PROMPT_PRICE_PER_1K = Decimal("250")
    settings.CHAT_COMPLETION_PRICE_PER_1K = Decimal("1000")
    settings.AI_MAX_OUTPUT_TOKENS = 100
    settings.AI_SYSTEM_PROMPT = "Be brief."


def chat(client, message="Hello", headers=None, **fields):
    body = {"message": message, **fields}
    return client.post(reverse("chat"), body, format="json", headers=headers)


def ledger(user) -> list[tuple[str, int]]:
    """The user's ledger after the signup grant, oldest first."""
    rows = user.token_transactions.exclude(kind=Kind.SIGNUP_GRANT).order_by("id")
    return [(row.kind, row.amount) for row in rows]


# --- The reservation ---------------------------------------------------------


def test_the_prompt_bound_counts_utf8_bytes_and_each_messages_template():
    messages = [Message("system", "Be brief."), Message("user", "héllo 👋")]

    # 9 bytes, and "héllo 👋": 5 letters (é is 2 bytes), a space, 4 bytes.
    assert pricing.prompt_bound(messages) == 9 + 11 + 2 * 8 + 8


def test_the_reservation_is_the_prompt_bound_plus_max_tokens_priced_and_rounded_up():
    messages = [Message("system", "Be brief."), Message("user", "Hello")]

    assert pricing.reservation_cost(messages=messages, max_tokens=100) == RESERVED
    # 38 * 0.25 + 7 = 16.5
    assert pricing.reservation_cost(messages=messages, max_tokens=7) == 17


def test_a_chat_reserves_its_bound_before_the_model_answers(user):
    reservation = chat_reserve(user=user, message="Hello")

    assert reservation.exchange.tokens_charged == RESERVED
    assert reservation.remaining_tokens == 4000 - RESERVED
    assert ledger(user) == [(Kind.CHAT_CHARGE, -RESERVED)]
    assert_ledger_matches_balance(user)


def test_the_context_of_a_conversation_is_in_the_bound(user):
    first = chat_send(user=user, message="Hello").exchange

    reservation = chat_reserve(user=user, message="Hello", conversation_id=first.conversation_id)

    # The earlier message and reply ("AI response to: Hello", 21 bytes) too.
    bound = 9 + 5 + 21 + 5 + 4 * 8 + 8
    assert reservation.exchange.tokens_charged == pricing.token_cost(
        prompt_tokens=bound, completion_tokens=100
    )


def test_a_reservation_that_does_not_fit_is_402_before_the_model_is_asked(
    make_auth_client, openai_provider
):
    user = UserFactory(balance=RESERVED - 1)  # the reply would cost 4: it must still fit 110

    response = chat(make_auth_client(user))

    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert error_codes(response) == [(None, "insufficient_tokens")]
    assert openai_provider.requests == []
    assert not Exchange.objects.exists()
    assert not Conversation.objects.exists()
    user.refresh_from_db()
    assert user.tokens == RESERVED - 1
    assert ledger(user) == []


def test_a_completion_whose_reservation_does_not_fit_is_insufficient_quota(openai_provider):
    user = UserFactory(balance=50)

    # max_tokens 100 reserves 110, max_tokens 40 reserves 50: that one fits.
    refused = ask(key_client(user), model="m", max_tokens=100)
    fits = ask(key_client(user), model="m", max_tokens=40)

    assert refused.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert fits.status_code == HTTPStatus.OK
    assert len(openai_provider.requests) == 1
    assert ledger(user) == [(Kind.CHAT_CHARGE, -50), (Kind.USAGE_REFUND, 50 - FAKE_COST)]
    assert_ledger_matches_balance(user)


def test_a_reservation_above_what_an_exchange_can_record_is_refused_whatever_the_balance(
    settings,
):
    # A balance is 64-bit, an exchange's tokens_charged 32-bit: at the
    # highest price, a long context reserves more than the column holds.
    settings.CHAT_PROMPT_PRICE_PER_1K = Decimal("1000000")
    user = UserFactory(balance=10**15)
    context = [Message("user", "x" * 4000)] * 600  # 600 * 4,008 tokens at 1,000 each

    with pytest.raises(InsufficientTokens):
        chat_reserve(user=user, message="x", context=context)

    assert not Exchange.objects.exists()
    user.refresh_from_db()
    assert user.tokens == 10**15
    assert ledger(user) == []


# --- Settling: usage reported, none reported, never above the reservation ----


def test_a_reply_is_charged_its_usage_and_the_rest_comes_back_as_its_own_row(auth_client, user):
    response = chat(auth_client)

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["tokens_charged"] == ECHO_COST
    assert body["remaining_tokens"] == 4000 - ECHO_COST
    assert response["X-Tokens-Remaining"] == str(4000 - ECHO_COST)
    refund = user.token_transactions.get(kind=Kind.USAGE_REFUND)
    assert (refund.amount, refund.balance_after, refund.note) == (
        RESERVED - ECHO_COST,
        4000 - ECHO_COST,
        "unused reservation",
    )
    assert ledger(user) == [
        (Kind.CHAT_CHARGE, -RESERVED),
        (Kind.USAGE_REFUND, RESERVED - ECHO_COST),
    ]
    exchange = Exchange.objects.get()
    assert (exchange.tokens_charged, exchange.status) == (ECHO_COST, Exchange.Status.COMPLETE)
    conversations = auth_client.get(reverse("conversation-list")).json()["results"]
    assert conversations[0]["total_cost"] == ECHO_COST
    assert_ledger_matches_balance(user)


def test_a_replayed_chat_answers_with_its_settled_cost(auth_client, user):
    first = chat(auth_client, headers={"Idempotency-Key": "once"})

    again = chat(auth_client, headers={"Idempotency-Key": "once"})

    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (first.json()["tokens_charged"], first.json()["remaining_tokens"]) == (
        ECHO_COST,
        4000 - ECHO_COST,
    )
    assert ledger(user) == [
        (Kind.CHAT_CHARGE, -RESERVED),
        (Kind.USAGE_REFUND, RESERVED - ECHO_COST),
    ]


def test_the_ledger_page_and_the_usage_report_show_the_refund(auth_client, user):
    chat(auth_client)

    page = auth_client.get(reverse("transaction-list")).json()["results"]
    report = auth_client.get(reverse("usage")).json()["totals"]

    assert [(row["kind"], row["amount"]) for row in page[:2]] == [
        ("usage_refund", RESERVED - ECHO_COST),
        ("chat_charge", -RESERVED),
    ]
    assert report == {
        "charged": RESERVED,
        "refunded": RESERVED - ECHO_COST,
        "net": ECHO_COST,
        "chats": 1,
    }


def test_a_completion_settles_by_the_providers_usage(user, openai_provider):
    response = ask(key_client(user), model="m", max_tokens=100, temperature=0.5)

    assert response.status_code == HTTPStatus.OK
    assert response["X-Tokens-Remaining"] == str(4000 - FAKE_COST)
    sent = openai_provider.requests[0]
    assert (sent["max_tokens"], sent["temperature"]) == (100, 0.5)
    assert Exchange.objects.get().tokens_charged == FAKE_COST
    assert ledger(user) == [
        (Kind.CHAT_CHARGE, -RESERVED),
        (Kind.USAGE_REFUND, RESERVED - FAKE_COST),
    ]
    assert_ledger_matches_balance(user)


def test_a_provider_that_reports_no_usage_is_charged_the_reservation(user, openai_provider):
    openai_provider.behaviour.usage = False

    response = ask(key_client(user), model="m")

    assert response.status_code == HTTPStatus.OK
    assert response["X-Tokens-Remaining"] == str(4000 - RESERVED)
    exchange = Exchange.objects.get()
    assert (exchange.tokens_charged, exchange.prompt_tokens) == (RESERVED, None)
    assert ledger(user) == [(Kind.CHAT_CHARGE, -RESERVED)]
    assert_ledger_matches_balance(user)


def test_usage_above_the_reservation_is_charged_the_reservation(user):
    reservation = chat_reserve(user=user, message="Hello")
    reply = Reply(text="long", model="m", prompt_tokens=1000, completion_tokens=1000)

    result = chat_settle(reservation=reservation, outcome=Completed(reply))

    assert result.exchange.tokens_charged == RESERVED
    assert result.remaining_tokens == 4000 - RESERVED
    assert ledger(user) == [(Kind.CHAT_CHARGE, -RESERVED)]


def test_a_failed_call_is_refunded_whole(auth_client, user, openai_provider):
    openai_provider.behaviour.fail_status = 503
    auth_client.raise_request_exception = False  # a 502 is logged as an error

    response = chat(auth_client)

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert ledger(user) == [(Kind.CHAT_CHARGE, -RESERVED), (Kind.REFUND, RESERVED)]
    assert not Exchange.objects.exists()
    assert_ledger_matches_balance(user)


def test_max_tokens_above_the_reply_limit_is_400_and_changes_nothing(user, openai_provider):
    response = ask(key_client(user), model="m", max_tokens=101)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "max_tokens")
    assert openai_provider.requests == []
    assert ledger(user) == []


# --- Streams -----------------------------------------------------------------


def test_a_stream_asks_for_usage_and_settles_by_it(auth_client, user, openai_provider):
    response = stream(auth_client, "Hello")

    # Sent as the stream starts: the balance after the reservation.
    assert response["X-Tokens-Remaining"] == str(4000 - RESERVED)
    name, done = events_of(response)[-1]
    assert name == "done"
    assert openai_provider.requests[0]["stream_options"] == {"include_usage": True}
    assert (done["tokens_charged"], done["remaining_tokens"]) == (FAKE_COST, 4000 - FAKE_COST)
    assert ledger(user) == [
        (Kind.CHAT_CHARGE, -RESERVED),
        (Kind.USAGE_REFUND, RESERVED - FAKE_COST),
    ]
    assert_ledger_matches_balance(user)


def test_a_stream_without_usage_is_charged_the_reservation(auth_client, user, openai_provider):
    openai_provider.behaviour.usage = False

    name, done = events_of(stream(auth_client, "Hello"))[-1]

    assert name == "done"
    assert (done["tokens_charged"], done["remaining_tokens"]) == (RESERVED, 4000 - RESERVED)
    assert ledger(user) == [(Kind.CHAT_CHARGE, -RESERVED)]


def test_a_streamed_completion_reports_the_settled_usage(user, openai_provider):
    response = ask(key_client(user), model="m", stream=True)

    chunks = [line for line in read(response).split("\n\n") if line]
    assert chunks[-1] == "data: [DONE]"
    assert Exchange.objects.get().tokens_charged == FAKE_COST
    assert ledger(user) == [
        (Kind.CHAT_CHARGE, -RESERVED),
        (Kind.USAGE_REFUND, RESERVED - FAKE_COST),
    ]
    assert_ledger_matches_balance(user)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_mid_stream_pays_the_prompt_bound_and_what_it_was_sent(
    auth_client, user, openai_provider, settings
):
    settings.AI_TIMEOUT_SECONDS = 60
    openai_provider.behaviour.chunk_delay = 0.3
    response = asgi_stream(auth_client, "one two three four five")
    received = [next(response) for _ in range(3)]  # start, "You", " said:"

    response.leave()

    assert [name for name, _ in parse(b"".join(received))] == ["start", "delta", "delta"]
    exchange = Exchange.objects.get()
    assert (exchange.status, exchange.response) == (Exchange.Status.INCOMPLETE, "You said:")
    # The prompt's bound, (9 + 23 + 2 * 8 + 8) * 0.25 = 14, and 9 bytes sent * 1.
    reserved = 14 + 100
    assert exchange.tokens_charged == 14 + 9
    assert ledger(user) == [(Kind.CHAT_CHARGE, -reserved), (Kind.USAGE_REFUND, reserved - 23)]
    assert_ledger_matches_balance(user)


def test_an_abandoned_reply_never_costs_more_than_its_reservation(user):
    reservation = chat_reserve(user=user, message="Hello")
    partial = Reply(text="x" * 1000, model="m")

    result = chat_settle(reservation=reservation, outcome=Abandoned(partial))

    assert result.exchange.tokens_charged == RESERVED
    assert ledger(user) == [(Kind.CHAT_CHARGE, -RESERVED)]


# --- Keys' spending caps see the net -----------------------------------------


def test_a_keys_caps_count_the_charge_less_its_usage_refund(user):
    caller = keyed(user, daily_cap=RESERVED + 10)

    chat_send(user=caller, message="Hello")
    assert spent(user) == (ECHO_COST, ECHO_COST)
    # 5 spent + 110 reserved fits a cap of 120: the first reservation's unused
    # part was given back to the cap.
    chat_send(user=caller, message="Hello")

    assert spent(user) == (2 * ECHO_COST, 2 * ECHO_COST)
    refunds = user.token_transactions.filter(kind=Kind.USAGE_REFUND)
    assert {row.api_key_id for row in refunds} == {caller.api_key.pk}
    assert_ledger_matches_balance(user)


# --- What the balance shows, and what settling costs in queries --------------


def test_the_balance_shows_the_prices(auth_client):
    response = auth_client.get(reverse("balance"))

    assert response.json() == {
        "tokens": 4000,
        "pricing": "per_token",
        "cost_per_message": None,
        "per_token": {
            "prompt_per_1k": 250.0,
            "completion_per_1k": 1000.0,
            "max_output_tokens": 100,
        },
    }


def test_settling_adds_only_the_refunds_statements(auth_client):
    with CaptureQueriesContext(connection) as queries:
        chat(auth_client)

    assert statements(queries) == [
        "SELECT users_user",
        "UPDATE users_user",  # the reservation
        "INSERT users_tokentransaction",
        "INSERT conversations_conversation",
        "INSERT conversations_exchange",
        "UPDATE conversations_exchange",  # the reply and its cost
        "UPDATE users_user",  # the unused part given back
        "INSERT users_tokentransaction",  # in its own ledger row
    ]


# --- Flat pricing, unchanged --------------------------------------------------


def test_flat_pricing_charges_the_message_cost_and_writes_no_usage_refund(
    user, openai_provider, settings
):
    settings.CHAT_PRICING = "flat"
    settings.CHAT_MESSAGE_COST = 100

    response = ask(key_client(user), model="m", max_tokens=7)

    assert response.status_code == HTTPStatus.OK
    assert openai_provider.requests[0]["max_tokens"] == 7  # passed on all the same
    assert Exchange.objects.get().tokens_charged == 100
    assert ledger(user) == [(Kind.CHAT_CHARGE, -100)]
