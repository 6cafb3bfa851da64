"""Billing around a slow model (conversations/services/chat.py and
reservations.py): reserve, then settle (complete or refund), with the sweeper
for requests that died in between."""

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from structlog.testing import capture_logs

from api import concurrency, lifespan
from conversations.exceptions import (
    ConversationBusy,
    ConversationNotFound,
    ProviderError,
    ProviderTimeout,
)
from conversations.models import Conversation, Exchange
from conversations.providers import Message, Reply
from conversations.services import chat as chat_service
from conversations.services import reservations
from conversations.services.chat import chat_open, chat_reserve, chat_stream
from conversations.services.conversations import conversation_delete
from conversations.services.reservations import Completed, chat_settle
from tests.assertions import assert_ledger_matches_balance
from tests.fake_openai import SERVED_MODEL
from tests.stub_provider import StubProvider
from tests.sync import chat_send
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db

REPLY = Reply(text="Hi!", model="m-1", prompt_tokens=3, completion_tokens=1)


def kinds(user) -> list[str]:
    return list(
        TokenTransaction.objects.filter(user=user).order_by("id").values_list("kind", flat=True)
    )


def assert_refunded(user, *, tokens: int = 4000) -> None:
    user.refresh_from_db()
    assert user.tokens == tokens
    assert kinds(user)[-2:] == ["chat_charge", "refund"]
    assert_ledger_matches_balance(user)


# --- The reservation ----------------------------------------------------------


def test_a_reservation_charges_before_the_reply_and_hides_the_exchange(user):
    reservation = chat_reserve(user=user, message="Hello")

    user.refresh_from_db()
    assert user.tokens == 3900 == reservation.remaining_tokens
    assert reservation.exchange.status == Exchange.Status.PENDING
    assert_ledger_matches_balance(user)
    assert not user.exchanges.exclude(status=Exchange.Status.PENDING).exists()


def test_completing_stores_the_reply_model_and_usage(user):
    reservation = chat_reserve(user=user, message="Hello")

    result = chat_settle(reservation=reservation, outcome=Completed(REPLY))

    exchange = Exchange.objects.get()
    assert (exchange.status, exchange.response, exchange.model) == ("complete", "Hi!", "m-1")
    assert (exchange.prompt_tokens, exchange.completion_tokens) == (3, 1)
    assert result.remaining_tokens == 3900
    assert_ledger_matches_balance(user)


def test_counts_that_do_not_fit_are_not_stored(user):
    reservation = chat_reserve(user=user, message="Hello")
    odd = Reply(text="Hi!", model="m" * 300, prompt_tokens=-1, completion_tokens=2**40)

    chat_settle(reservation=reservation, outcome=Completed(odd))

    exchange = Exchange.objects.get()
    assert (exchange.prompt_tokens, exchange.completion_tokens) == (None, None)
    assert len(exchange.model) == 255


# --- The model's memory -------------------------------------------------------


def test_the_model_gets_the_system_prompt_the_last_exchanges_and_the_message(user, settings):
    settings.AI_SYSTEM_PROMPT = "Be brief."
    settings.AI_CONTEXT_EXCHANGES = 2
    conversation = chat_send(user=user, message="one").exchange.conversation_id
    for message in ("two", "three"):
        chat_send(user=user, message=message, conversation_id=conversation)
    chat_send(user=user, message="elsewhere")  # another conversation: not remembered

    reservation = chat_reserve(user=user, message="four", conversation_id=conversation)

    assert reservation.messages == [
        Message("system", "Be brief."),
        Message("user", "two"),
        Message("assistant", "AI response to: two"),
        Message("user", "three"),
        Message("assistant", "AI response to: three"),
        Message("user", "four"),
    ]


def test_no_system_prompt_and_no_memory_when_both_are_off(user, settings):
    settings.AI_SYSTEM_PROMPT = ""
    settings.AI_CONTEXT_EXCHANGES = 0
    conversation = chat_send(user=user, message="one").exchange.conversation_id

    reservation = chat_reserve(user=user, message="two", conversation_id=conversation)

    assert reservation.messages == [Message("user", "two")]


def test_memory_costs_one_bounded_query_however_long_the_conversation(user, settings):
    settings.AI_CONTEXT_EXCHANGES = 3
    conversation = chat_send(user=user, message="one").exchange.conversation_id
    for n in range(12):
        chat_send(user=user, message=f"m{n}", conversation_id=conversation)

    with CaptureQueriesContext(connection) as queries:
        reservation = chat_reserve(user=user, message="next", conversation_id=conversation)

    assert len(reservation.messages) == 1 + 2 * 3 + 1
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 1
    assert "conversations_exchange" in reads[0]
    assert reads[0].endswith("LIMIT 3")


def test_a_pending_reply_is_not_part_of_the_memory(user):
    conversation = chat_send(user=user, message="one").exchange.conversation_id
    chat_reserve(user=user, message="still thinking", conversation_id=conversation)

    reservation = chat_reserve(user=user, message="two", conversation_id=conversation)

    assert [m.content for m in reservation.messages if m.role == "user"] == ["one", "two"]


# --- Refunds when the provider fails ----------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [({"fail_status": 500}, ProviderError), ({"hang": True}, ProviderTimeout)],
)
def test_a_failed_reply_is_refunded_and_leaves_no_trace(
    user, openai_provider, settings, behaviour, error
):
    settings.AI_TIMEOUT_SECONDS = 0.3
    for name, value in behaviour.items():
        setattr(openai_provider.behaviour, name, value)

    with pytest.raises(error):
        chat_send(user=user, message="Hello")

    assert_refunded(user)
    assert not Exchange.objects.exists()
    assert not Conversation.objects.exists()  # the new conversation went with it
    refund = TokenTransaction.objects.get(kind="refund")
    assert (refund.amount, refund.note) == (100, error.default_code)


def test_a_failed_reply_in_an_existing_conversation_keeps_the_conversation(user, openai_provider):
    conversation = chat_send(user=user, message="one").exchange.conversation_id
    openai_provider.behaviour.fail_status = 502

    with pytest.raises(ProviderError):
        chat_send(user=user, message="two", conversation_id=conversation)

    assert_refunded(user, tokens=3900)
    assert list(Exchange.objects.values_list("message", flat=True)) == ["one"]


def test_a_reply_through_the_openai_provider_keeps_its_model_and_usage(user, openai_provider):
    result = chat_send(user=user, message="Hello there")

    exchange = Exchange.objects.get(pk=result.exchange.pk)
    assert exchange.response == "You said: Hello there"
    assert exchange.model == SERVED_MODEL
    # The default system prompt's 5 words and the message's 2.
    assert (exchange.prompt_tokens, exchange.completion_tokens) == (7, 4)


def test_our_own_failure_after_the_reply_is_refunded_too(user, monkeypatch):
    def broken(value):
        raise RuntimeError("our bug")

    # Fails inside the transaction that stores the reply.
    monkeypatch.setattr(reservations, "_count", broken)

    with pytest.raises(RuntimeError):
        chat_send(user=user, message="Hello")

    assert_refunded(user)
    assert not Exchange.objects.exists()


# --- The sweeper for requests that died --------------------------------------


def age(exchange: Exchange, seconds: float) -> None:
    Exchange.objects.filter(pk=exchange.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_the_sweeper_refunds_reservations_older_than_the_longest_reply(user, settings):
    settings.CHAT_RESERVATION_EXPIRY_SECONDS = 120
    dead = chat_reserve(user=user, message="the server died here").exchange
    alive = chat_reserve(user=user, message="still thinking").exchange
    age(dead, 121)
    age(alive, 119)

    call_command("refund_expired_reservations")

    assert list(Exchange.objects.values_list("pk", flat=True)) == [alive.pk]
    user.refresh_from_db()
    assert user.tokens == 3900
    assert kinds(user) == ["signup_grant", "chat_charge", "chat_charge", "refund"]
    assert TokenTransaction.objects.get(kind="refund").note == "reservation expired"
    assert_ledger_matches_balance(user)


def test_a_reply_that_arrives_after_the_sweep_is_not_kept_or_refunded_twice(user, settings):
    settings.CHAT_RESERVATION_EXPIRY_SECONDS = 120
    conversation = chat_send(user=user, message="one").exchange.conversation_id
    reservation = chat_reserve(user=user, message="slow", conversation_id=conversation)
    age(reservation.exchange, 121)
    call_command("refund_expired_reservations")

    with pytest.raises(ProviderTimeout):
        chat_settle(reservation=reservation, outcome=Completed(REPLY))

    assert_refunded(user, tokens=3900)
    assert kinds(user).count("refund") == 1
    assert list(Exchange.objects.values_list("message", flat=True)) == ["one"]


def test_the_sweeper_leaves_finished_exchanges_alone(user, settings):
    settings.CHAT_RESERVATION_EXPIRY_SECONDS = 0
    chat_send(user=user, message="done")

    call_command("refund_expired_reservations")

    assert Exchange.objects.get().status == Exchange.Status.COMPLETE
    assert "refund" not in kinds(user)


# --- Deleting a conversation while a reply is on its way ---------------------


def test_a_conversation_with_a_reply_on_its_way_cannot_be_deleted(user):
    reservation = chat_reserve(user=user, message="Hello")

    with pytest.raises(ConversationBusy):
        conversation_delete(conversation=reservation.exchange.conversation)

    chat_settle(
        reservation=reservation, outcome=Completed(REPLY)
    )  # the reply still lands, paid for
    user.refresh_from_db()
    assert user.tokens == 3900
    assert "refund" not in kinds(user)


def test_deleting_refunds_replies_whose_request_died(user, settings):
    settings.CHAT_RESERVATION_EXPIRY_SECONDS = 120
    conversation = chat_send(user=user, message="one").exchange.conversation
    reservation = chat_reserve(user=user, message="two", conversation_id=conversation.pk)
    age(reservation.exchange, 121)

    conversation_delete(conversation=conversation)

    assert_refunded(user, tokens=3900)
    assert not Conversation.objects.exists()
    with pytest.raises(ConversationNotFound):
        chat_settle(reservation=reservation, outcome=Completed(REPLY))


def test_a_new_chat_swept_while_it_ran_is_a_timeout_not_a_missing_conversation(user, settings):
    settings.CHAT_RESERVATION_EXPIRY_SECONDS = 120
    reservation = chat_reserve(user=user, message="slow")
    age(reservation.exchange, 121)
    call_command("refund_expired_reservations")

    with pytest.raises(ProviderTimeout):
        chat_settle(reservation=reservation, outcome=Completed(REPLY))

    assert_refunded(user)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_while_its_reservation_is_being_made_is_refunded(user, settings):
    # As under the server, database steps queue for a pool of threads (one
    # here); that thread is busy, so the client has left by the time its
    # reservation is made.
    settings.SYNC_THREADS = 1
    concurrency._threads.cache_clear()
    busy = threading.Event()
    concurrency._threads().submit(busy.wait, 10)

    async def leave_while_reserving() -> None:
        lifespan.serving()
        opening = asyncio.ensure_future(chat_open(user=user, message="Hello"))
        await asyncio.sleep(0.2)  # queued behind the busy thread
        opening.cancel()
        busy.set()
        with pytest.raises(asyncio.CancelledError):
            await opening
        await lifespan.shutdown()

    try:
        asyncio.run(leave_while_reserving())
    finally:
        concurrency._threads.cache_clear()

    assert_refunded(user)
    assert TokenTransaction.objects.get(kind="refund").note == "client left"
    assert not Exchange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_stream_that_ends_without_a_reply_is_a_provider_error_and_refunded(user, monkeypatch):
    monkeypatch.setattr(chat_service, "get_provider", lambda: StubProvider("half a "))
    reservation = chat_reserve(user=user, message="Hello")

    async def read() -> list[object]:
        return [item async for item in chat_stream(reservation=reservation)]

    with pytest.raises(ProviderError):
        asyncio.run(read())

    assert_refunded(user)
    assert not Exchange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_a_reply_the_sweeper_refunded_meanwhile_pays_nothing(
    user, settings, monkeypatch
):
    settings.CHAT_RESERVATION_EXPIRY_SECONDS = 120
    monkeypatch.setattr(chat_service, "get_provider", lambda: StubProvider("half a ", "reply"))
    reservation = chat_reserve(user=user, message="slow")

    async def read_then_leave() -> None:
        stream = chat_stream(reservation=reservation)
        assert await anext(stream) == "half a "
        # The request outlived its reservation, and the sweeper refunded it.
        await sync_to_async(age)(reservation.exchange, 121)
        await sync_to_async(call_command)("refund_expired_reservations")
        await stream.aclose()  # then the client left

    with capture_logs() as logs:
        asyncio.run(read_then_leave())

    assert_refunded(user)
    assert kinds(user).count("refund") == 1
    assert not Exchange.objects.exists()
    assert "chat.incomplete_not_kept" in [log["event"] for log in logs]
