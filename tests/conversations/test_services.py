import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.exceptions import ConversationNotFound
from conversations.models import Conversation, Exchange
from conversations.services.chat import TITLE_MAX_CHARS
from conversations.services.conversations import conversation_delete
from tests.assertions import assert_ledger_matches_balance
from tests.factories import ConversationFactory, UserFactory
from tests.sync import chat_send
from users.exceptions import InsufficientTokens
from users.ledger import tokens_adjust
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db


def test_chat_send_charges_and_keeps_the_exchange(user, settings):
    settings.CHAT_MESSAGE_COST = 100

    result = chat_send(user=user, message="Hello")

    exchange = result.exchange
    assert result.remaining_tokens == 3900
    assert exchange.response == "AI response to: Hello"
    assert exchange.tokens_charged == 100
    assert exchange.conversation.user == user
    assert exchange.conversation.title == "Hello"
    charge = TokenTransaction.objects.get(user=user, kind=TokenTransaction.Kind.CHAT_CHARGE)
    assert (charge.amount, charge.balance_after, charge.exchange) == (-100, 3900, exchange)
    user.refresh_from_db()
    assert user.tokens == 3900
    assert_ledger_matches_balance(user)


def test_chat_send_cost_follows_the_setting(user, settings):
    settings.CHAT_MESSAGE_COST = 7

    assert chat_send(user=user, message="Hi").remaining_tokens == 3993


def test_chat_send_titles_a_new_conversation_from_a_long_message(user):
    message = "word " * 100

    conversation = chat_send(user=user, message=message).exchange.conversation

    assert len(conversation.title) <= TITLE_MAX_CHARS
    assert message.startswith(conversation.title.rstrip("…"))


def test_chat_send_joins_an_existing_conversation_and_marks_it_active(user):
    first = chat_send(user=user, message="one").exchange.conversation
    before = Conversation.objects.get(pk=first.pk).updated_at

    second = chat_send(user=user, message="two", conversation_id=first.pk)

    assert second.exchange.conversation_id == first.pk
    assert Conversation.objects.count() == 1
    assert Conversation.objects.get(pk=first.pk).updated_at > before


@pytest.mark.parametrize("owner", ["someone else", "nobody"])
def test_chat_send_to_a_foreign_or_unknown_conversation_changes_nothing(user, owner):
    conversation_id = ConversationFactory().pk if owner == "someone else" else uuid.uuid4()

    with pytest.raises(ConversationNotFound):
        chat_send(user=user, message="hi", conversation_id=conversation_id)

    user.refresh_from_db()
    assert user.tokens == 4000
    assert not Exchange.objects.exists()
    assert_ledger_matches_balance(user)


def test_chat_send_with_a_short_balance_changes_nothing(settings):
    settings.CHAT_MESSAGE_COST = 100
    user = UserFactory(balance=99)

    with pytest.raises(InsufficientTokens):
        chat_send(user=user, message="hi")

    user.refresh_from_db()
    assert user.tokens == 99
    assert not Conversation.objects.exists()
    assert not Exchange.objects.exists()
    assert_ledger_matches_balance(user)


def test_chat_send_can_spend_the_balance_to_exactly_zero(settings):
    settings.CHAT_MESSAGE_COST = 100
    user = UserFactory(balance=200)

    chat_send(user=user, message="one")
    chat_send(user=user, message="two")
    with pytest.raises(InsufficientTokens):
        chat_send(user=user, message="three")

    user.refresh_from_db()
    assert user.tokens == 0
    assert_ledger_matches_balance(user)


def test_the_debit_is_one_conditional_update_computed_by_the_database(user, settings):
    settings.CHAT_MESSAGE_COST = 100
    with CaptureQueriesContext(connection) as queries:
        chat_send(user=user, message="hi")

    updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "users_user"')
    ]
    assert len(updates) == 1
    debit = " ".join(updates[0].split())
    assert 'SET "tokens" = "tokens" + -100' in debit  # computed by the database
    assert 'AND "tokens" >= 100' in debit  # the guard is in the WHERE clause
    assert debit.endswith('RETURNING "tokens"')
    # No read of the balance: the new value comes back from the UPDATE.
    assert [q for q in queries.captured_queries if 'FROM "users_user"' in q["sql"]] == []


def test_a_stale_user_object_cannot_overspend(settings):
    settings.CHAT_MESSAGE_COST = 100
    user = UserFactory(balance=100)
    stale_copy = type(user).objects.get(pk=user.pk)

    chat_send(user=user, message="first")
    with pytest.raises(InsufficientTokens):
        chat_send(user=stale_copy, message="second")

    user.refresh_from_db()
    assert user.tokens == 0
    assert_ledger_matches_balance(user)


def test_tokens_adjust_adds_and_removes_with_a_ledger_row(user):
    tokens_adjust(user=user, amount=500, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT, note="gift")
    row = tokens_adjust(user=user, amount=-4500, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)

    assert row.balance_after == 0
    assert user.tokens == 0
    assert TokenTransaction.objects.filter(kind="admin_adjustment").count() == 2
    assert_ledger_matches_balance(user)


def test_tokens_adjust_never_takes_a_balance_below_zero(user):
    with pytest.raises(InsufficientTokens):
        tokens_adjust(user=user, amount=-4001, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)

    user.refresh_from_db()
    assert user.tokens == 4000
    assert_ledger_matches_balance(user)


def test_conversation_delete_removes_exchanges_but_keeps_the_ledger(user):
    exchange = chat_send(user=user, message="hi").exchange

    conversation_delete(conversation=exchange.conversation)

    assert not Exchange.objects.exists()
    charge = TokenTransaction.objects.get(kind=TokenTransaction.Kind.CHAT_CHARGE)
    assert not Exchange.objects.filter(charge=charge).exists()
    assert_ledger_matches_balance(user)


def test_a_title_is_cut_by_code_points_whatever_the_text(user):
    # One letter with thousands of combining accents is "one character" to
    # Django's Truncator, but thousands to the database column.
    message = "a" + "\u0301" * 3000

    conversation = chat_send(user=user, message=message).exchange.conversation

    conversation.refresh_from_db()
    assert len(conversation.title) == TITLE_MAX_CHARS
    assert conversation.title.endswith("…")


def test_balances_are_64_bit(user):
    for _ in range(3):
        tokens_adjust(user=user, amount=1_000_000_000, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)

    user.refresh_from_db()
    assert user.tokens == 3_000_004_000
    assert_ledger_matches_balance(user)
