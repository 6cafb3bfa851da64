"""Writes: charging for a chat, every other change to a balance, conversations.

Every balance change goes through `_balance_change`: one conditional
UPDATE ... RETURNING on the user row and one ledger row, in one transaction,
so concurrent requests can neither overspend nor lose a charge, and each
user's ledger always sums to their balance.
"""

import uuid
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import F, Field, QuerySet
from django.db.models.expressions import Combinable
from django.db.models.sql import UpdateQuery
from django.utils import timezone
from django.utils.text import Truncator

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
        conversation_id = Conversation.objects.create(
            user=user, title=Truncator(message).chars(TITLE_MAX_CHARS)
        ).id
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


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation and its exchanges; their ledger rows stay."""
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

    The guard `tokens >= <what is taken>` sits in the WHERE clause and the new
    value is computed by the database (F), so two requests can never both
    spend the same tokens. RETURNING hands back the new balance in the same
    statement, where a follow-up SELECT would cost a round trip.
    """
    queryset = User.objects.filter(pk=user.pk, tokens__gte=max(-amount, 0))
    new_balance = _update_returning(queryset, field="tokens", value=F("tokens") + amount)
    if new_balance is None:
        raise InsufficientTokens
    return new_balance


def _update_returning(queryset: QuerySet[User], *, field: str, value: Combinable) -> int | None:
    """`queryset.update(field=value)` that returns the updated row's new value.

    Django's update() returns only a row count. This builds the very same
    UPDATE through the ORM and appends RETURNING (PostgreSQL, SQLite 3.35+).
    """
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values({field: value})
    compiler = query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    model_field = cast("Field[Any, Any]", queryset.model._meta.get_field(field))
    column = compiler.quote_name_unless_alias(model_field.column)
    with compiler.connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {column}", params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])
