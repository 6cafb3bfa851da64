"""Writes: charging for a chat, every other change to a balance, conversations.

Every balance change goes through `_balance_apply`: one conditional
UPDATE ... RETURNING on the user row and one ledger row, in one transaction,
so concurrent requests can neither overspend nor lose a charge, and each
user's ledger always sums to their balance.
"""

import uuid
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from conversations.exceptions import ConversationNotFound, InsufficientTokens
from conversations.models import Conversation, Exchange, TokenTransaction
from conversations.providers import get_provider
from users.models import User

TITLE_MAX_CHARS = 60


@dataclass(frozen=True)
class ChatResult:
    exchange: Exchange
    remaining_tokens: int


@transaction.atomic
def chat_send(*, user: User, message: str, conversation_id: uuid.UUID | None = None) -> ChatResult:
    """Charge the user for one message, get the AI's reply, and keep the exchange.

    Raises ConversationNotFound for an unknown or foreign conversation and
    InsufficientTokens when the balance is short; either way nothing changes.
    """
    cost = settings.CHAT_MESSAGE_COST
    if conversation_id is not None:
        _conversation_touch(user=user, conversation_id=conversation_id)
    remaining = _balance_apply(user=user, amount=-cost)
    if conversation_id is None:
        conversation_id = Conversation.objects.create(user=user, title=_title(message)).id
    exchange = Exchange.objects.create(
        conversation_id=conversation_id,
        user=user,
        message=message,
        response=get_provider().reply(message=message),
        tokens_charged=cost,
    )
    TokenTransaction.objects.create(
        user=user,
        amount=-cost,
        kind=TokenTransaction.Kind.CHAT_CHARGE,
        balance_after=remaining,
        exchange=exchange,
    )
    user.tokens = remaining
    return ChatResult(exchange=exchange, remaining_tokens=remaining)


def _title(message: str) -> str:
    # Cut by code points, not by what Truncator counts as characters: a
    # letter with thousands of combining marks must still fit the column.
    if len(message) <= TITLE_MAX_CHARS:
        return message
    return message[: TITLE_MAX_CHARS - 1].rstrip() + "…"


@transaction.atomic
def tokens_adjust(*, user: User, amount: int, kind: str, note: str = "") -> TokenTransaction:
    """Add (amount > 0) or remove (amount < 0) tokens, with its ledger row.

    A removal larger than the balance raises InsufficientTokens.
    """
    balance_after = _balance_apply(user=user, amount=amount)
    user.tokens = balance_after
    return TokenTransaction.objects.create(
        user=user, amount=amount, kind=kind, balance_after=balance_after, note=note
    )


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation and its exchanges; their ledger rows stay.

    The row lock makes a chat being added to it either finish first (and be
    deleted with it) or wait and find it gone (404).
    """
    Conversation.objects.select_for_update().filter(pk=conversation.pk).exists()
    conversation.delete()


def _conversation_touch(*, user: User, conversation_id: uuid.UUID) -> None:
    # Checks ownership and marks the conversation active in one statement.
    touched = Conversation.objects.filter(pk=conversation_id, user=user).update(
        updated_at=timezone.now()
    )
    if not touched:
        raise ConversationNotFound


def _balance_apply(*, user: User, amount: int) -> int:
    """Apply a signed change to the balance atomically; return the new balance.

    One statement does it all: the guard `tokens >= <what is taken>` sits in
    the WHERE clause and the database computes the new value (what
    `filter(tokens__gte=...).update(tokens=F("tokens") + amount)` compiles
    to), so two requests can never both spend the same tokens. RETURNING
    hands back the new balance, where a follow-up SELECT would cost a round
    trip. No row updated means the balance was short.
    """
    pk = User._meta.pk.get_db_prep_value(user.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(_balance_sql(connection.vendor), [amount, pk, max(-amount, 0)])
        row = cursor.fetchone()
    if row is None:
        raise InsufficientTokens
    return int(row[0])


@cache
def _balance_sql(vendor: str) -> str:
    # Written once, from the model's own names: compiling the equivalent ORM
    # update on every chat cost more than running it.
    quote = connection.ops.quote_name
    table, pk = quote(User._meta.db_table), quote(User._meta.pk.column)
    tokens = quote(User._meta.get_field("tokens").column)
    return (
        f"UPDATE {table} SET {tokens} = {tokens} + %s "  # noqa: S608 (names from _meta)
        f"WHERE {pk} = %s AND {tokens} >= %s RETURNING {tokens}"
    )
