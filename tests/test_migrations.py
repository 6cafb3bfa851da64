"""Upgrading a database made by the earlier migrations keeps every balance and
ledger row: the ledger moved from conversations to users, the exchange now
links to its charge, and idempotency keys keep results instead of bodies."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from rest_framework.renderers import JSONRenderer

from conversations.serializers import ChatOutputSerializer
from conversations.services.idempotency import _replay
from tests.migrating import migrate, migrate_to_latest

BEFORE = [
    ("users", "0002_token_version_revoked_sessions"),
    ("conversations", "0002_exchange_status_and_usage"),
]
AFTER = [("users", "0003_tokentransaction"), ("conversations", "0004_ledger_moved_to_users")]

STORED_BODY = {
    "id": "0192a3b4-0000-7000-8000-000000000001",
    "conversation": "0192a3b4-0000-7000-8000-0000000000c1",
    "message": "Hello",
    "response": "AI response to: Hello",
    "model": "echo",
    "usage": {"prompt_tokens": None, "completion_tokens": None},
    "tokens_charged": 100,
    "remaining_tokens": 3900,
    "timestamp": "2026-11-20T10:00:00.123456Z",
}


@pytest.fixture
def old_database(transactional_db):
    apps = migrate(BEFORE)
    yield apps
    migrate_to_latest()


def seed(apps):
    """What the old schema held: a user, their ledger, a chat and its keys."""
    User = apps.get_model("users", "User")
    Conversation = apps.get_model("conversations", "Conversation")
    Exchange = apps.get_model("conversations", "Exchange")
    TokenTransaction = apps.get_model("conversations", "TokenTransaction")
    IdempotencyKey = apps.get_model("conversations", "IdempotencyKey")

    user = User.objects.create(username="old", username_key="old", tokens=3900)
    conversation = Conversation.objects.create(
        id=STORED_BODY["conversation"], user=user, title="Hello"
    )
    exchange = Exchange.objects.create(
        id=STORED_BODY["id"],
        conversation=conversation,
        user=user,
        message="Hello",
        response="AI response to: Hello",
        status="complete",
        model="echo",
        tokens_charged=100,
    )
    rows = [
        TokenTransaction.objects.create(
            user=user, amount=4000, kind="signup_grant", balance_after=4000
        ),
        TokenTransaction.objects.create(
            user=user, amount=-100, kind="chat_charge", balance_after=3900, exchange=exchange
        ),
        TokenTransaction.objects.create(
            user=user, amount=-100, kind="chat_charge", balance_after=3800
        ),
        TokenTransaction.objects.create(
            user=user, amount=100, kind="refund", balance_after=3900, note="provider_error"
        ),
    ]
    IdempotencyKey.objects.create(
        user=user,
        key="done",
        fingerprint="f" * 64,
        response_status=201,
        response_body=json.dumps(STORED_BODY),
    )
    IdempotencyKey.objects.create(user=user, key="running", fingerprint="f" * 64)
    return user, exchange, rows


def ledger(TokenTransaction):
    return list(
        TokenTransaction.objects.order_by("id").values_list(
            "id", "user_id", "amount", "kind", "balance_after", "note"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_an_old_database_upgrades_keeping_balances_ledger_and_links(old_database):
    user, exchange, rows = seed(old_database)
    before = ledger(old_database.get_model("conversations", "TokenTransaction"))

    apps = migrate(AFTER)

    User = apps.get_model("users", "User")
    TokenTransaction = apps.get_model("users", "TokenTransaction")
    Exchange = apps.get_model("conversations", "Exchange")
    assert User.objects.get(pk=user.pk).tokens == 3900
    assert ledger(TokenTransaction) == before
    assert sum(row[2] for row in before) == 3900
    assert Exchange.objects.get(pk=exchange.pk).charge_id == rows[1].pk
    assert "users_tokentransaction" in connection.introspection.table_names()
    assert "conversations_tokentransaction" not in connection.introspection.table_names()


@pytest.mark.django_db(transaction=True)
def test_a_stored_answer_replays_byte_for_byte_after_the_upgrade(old_database):
    seed(old_database)

    apps = migrate(AFTER)

    keys = apps.get_model("conversations", "IdempotencyKey").objects
    assert keys.get(key="running").result is None
    replay = _replay(keys.get(key="done").result)
    assert replay.replayed
    assert replay.exchange.created_at == datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    rendered = JSONRenderer().render(ChatOutputSerializer(replay).data)
    assert rendered == JSONRenderer().render(STORED_BODY)


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_can_be_undone(old_database):
    _, exchange, rows = seed(old_database)
    before = ledger(old_database.get_model("conversations", "TokenTransaction"))
    migrate(AFTER)

    apps = migrate(BEFORE)

    TokenTransaction = apps.get_model("conversations", "TokenTransaction")
    assert ledger(TokenTransaction) == before
    assert str(TokenTransaction.objects.get(pk=rows[1].pk).exchange_id) == exchange.pk
    key = apps.get_model("conversations", "IdempotencyKey").objects.get(key="done")
    assert (key.response_status, json.loads(key.response_body)) == (201, STORED_BODY)
