"""Writes: charging for a chat, every other change to a balance, conversations.

A chat is paid for before the model is asked, and settled after it answers,
so no database transaction stays open while a model thinks:

1. `chat_reserve` debits the cost (402 when the balance is short) and writes
   the exchange, `pending`, with its ledger row, in one transaction.
2. The provider is called outside any transaction.
3. `chat_complete` stores the reply; on any failure `chat_refund` gives the
   tokens back with a `refund` ledger row and deletes the exchange. Each acts
   only on an exchange that is still pending, so exactly one of them settles
   a reservation, and `reservations_refund_expired` settles the reservations
   of requests that died in between.

Every balance change goes through `_balance_apply`: one conditional
UPDATE ... RETURNING on the user row and one ledger row, in one transaction,
so concurrent requests can neither overspend nor lose a charge, and each
user's ledger always sums to their balance.
"""

import logging
import uuid
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from conversations import selectors
from conversations.exceptions import (
    ConversationBusy,
    ConversationNotFound,
    InsufficientTokens,
    ProviderError,
    ProviderTimeout,
)
from conversations.models import Conversation, Exchange, TokenTransaction
from conversations.providers import Message, Reply, get_provider
from users.models import User

logger = logging.getLogger(__name__)

TITLE_MAX_CHARS = 60
MODEL_NAME_MAX_CHARS = 255


@dataclass(frozen=True)
class ChatReservation:
    """A paid-for, pending exchange and the messages the model is to be sent."""

    exchange: Exchange
    messages: list[Message]
    # The balance just after the charge: what the chat's reply reports.
    remaining_tokens: int
    new_conversation: bool


@dataclass(frozen=True)
class ChatResult:
    exchange: Exchange
    remaining_tokens: int


OnComplete = Callable[[ChatResult], None]


def chat_send(
    *,
    user: User,
    message: str,
    conversation_id: uuid.UUID | None = None,
    on_complete: OnComplete | None = None,
) -> ChatResult:
    """Charge the user for one message, get the AI's reply, and keep the exchange.

    Raises ConversationNotFound for an unknown or foreign conversation and
    InsufficientTokens when the balance is short; either way nothing changes.
    A provider failure (ProviderError, ProviderTimeout) is refunded before it
    is raised. `on_complete` runs in the transaction that stores the reply.
    """
    reservation = chat_reserve(user=user, message=message, conversation_id=conversation_id)
    try:
        reply = get_provider().reply(messages=reservation.messages)
    except BaseException as error:
        chat_refund(exchange=reservation.exchange, reason=_reason(error))
        raise
    return chat_complete(reservation=reservation, reply=reply, on_complete=on_complete)


def chat_stream(*, reservation: ChatReservation) -> Generator[str | ChatResult]:
    """The reply in pieces as the model writes them, then the ChatResult.

    A provider failure is refunded before it is raised. A consumer that stops
    early (the client went away) keeps the charge: the reply so far is
    saved, `incomplete`.
    """
    pieces: list[str] = []
    reply: Reply | None = None
    provider = get_provider()
    try:
        with closing(provider.stream(messages=reservation.messages)) as stream:
            for item in stream:
                if isinstance(item, Reply):
                    reply = item
                    break
                pieces.append(item)
                yield item
        if reply is None:
            raise ProviderError
    except GeneratorExit:
        partial = Reply(text="".join(pieces), model=provider.model)
        try:
            chat_complete(reservation=reservation, reply=partial, status=Exchange.Status.INCOMPLETE)
        except Exception:
            # Refunded by chat_complete, or settled by someone else; the
            # client has gone, so there is no one else to tell.
            logger.exception("Could not keep the reply of a client that left")
        raise
    except BaseException as error:
        chat_refund(exchange=reservation.exchange, reason=_reason(error))
        raise
    yield chat_complete(reservation=reservation, reply=reply)


def chat_reserve(
    *, user: User, message: str, conversation_id: uuid.UUID | None = None
) -> ChatReservation:
    """Debit one message's cost and write its exchange, pending a reply.

    Raises ConversationNotFound or InsufficientTokens, changing nothing.
    """
    cost = settings.CHAT_MESSAGE_COST
    history: list[Exchange] = []
    new_conversation = conversation_id is None
    with transaction.atomic():
        if conversation_id is not None:
            _conversation_touch(user=user, conversation_id=conversation_id)
            history = selectors.exchange_context(
                user=user, conversation_id=conversation_id, limit=settings.AI_CONTEXT_EXCHANGES
            )
        remaining = _balance_apply(user_id=user.pk, amount=-cost)
        if conversation_id is None:
            conversation_id = Conversation.objects.create(user=user, title=_title(message)).id
        exchange = Exchange.objects.create(
            conversation_id=conversation_id, user=user, message=message, tokens_charged=cost
        )
        TokenTransaction.objects.create(
            user=user,
            amount=-cost,
            kind=TokenTransaction.Kind.CHAT_CHARGE,
            balance_after=remaining,
            exchange=exchange,
        )
    user.tokens = remaining
    _connection_release()
    return ChatReservation(
        exchange=exchange,
        messages=_messages(history, message),
        remaining_tokens=remaining,
        new_conversation=new_conversation,
    )


def chat_complete(
    *,
    reservation: ChatReservation,
    reply: Reply,
    status: str = Exchange.Status.COMPLETE,
    on_complete: OnComplete | None = None,
) -> ChatResult:
    """Store the reply of a pending exchange; refund it if that fails.

    If someone else settled the reservation first (the sweeper, which
    refunds), nothing is stored: ProviderTimeout, or ConversationNotFound if
    the chat's conversation has been deleted since.
    """
    exchange = reservation.exchange
    fields = {
        "status": status,
        "response": reply.text,
        "model": reply.model[:MODEL_NAME_MAX_CHARS],
        "prompt_tokens": _count(reply.prompt_tokens),
        "completion_tokens": _count(reply.completion_tokens),
    }
    try:
        with transaction.atomic():
            pending = Exchange.objects.filter(pk=exchange.pk, status=Exchange.Status.PENDING)
            if not pending.update(**fields):
                raise _ReservationLost
            for name, value in fields.items():
                setattr(exchange, name, value)
            result = ChatResult(exchange=exchange, remaining_tokens=reservation.remaining_tokens)
            if on_complete is not None:
                on_complete(result)
    except _ReservationLost:
        # The refund took a conversation this chat started with it.
        gone = not Conversation.objects.filter(pk=exchange.conversation_id).exists()
        if gone and not reservation.new_conversation:
            raise ConversationNotFound from None
        raise ProviderTimeout from None
    except BaseException as error:
        chat_refund(exchange=exchange, reason=_reason(error))
        raise
    return result


def chat_refund(*, exchange: Exchange, reason: str) -> bool:
    """Give a pending exchange's tokens back and delete it, with its conversation
    if that is left empty. False (and nothing done) if it was already settled."""
    with transaction.atomic():
        # The conversation's row lock, as in chat_reserve: a chat being added
        # to it either finishes first (and keeps it alive) or finds it gone.
        Conversation.objects.select_for_update().filter(pk=exchange.conversation_id).exists()
        pending = Exchange.objects.select_for_update().filter(
            pk=exchange.pk, status=Exchange.Status.PENDING
        )
        if not pending.exists():
            return False
        pending.delete()
        refund = exchange.tokens_charged
        balance_after = _balance_apply(user_id=exchange.user_id, amount=refund)
        TokenTransaction.objects.create(
            user_id=exchange.user_id,
            amount=refund,
            kind=TokenTransaction.Kind.REFUND,
            balance_after=balance_after,
            note=reason,
        )
        if not Exchange.objects.filter(conversation_id=exchange.conversation_id).exists():
            Conversation.objects.filter(pk=exchange.conversation_id).delete()
    return True


def reservations_refund_expired() -> int:
    """Refund the reservations of requests that died before settling them.

    A reservation older than CHAT_RESERVATION_EXPIRY_SECONDS has outlived the
    longest a reply may take; returns how many were refunded.
    """
    expired = Exchange.objects.filter(
        status=Exchange.Status.PENDING, created_at__lt=_reservation_cutoff()
    )
    return sum(
        chat_refund(exchange=exchange, reason="reservation expired")
        for exchange in expired.only("id", "user_id", "conversation_id", "tokens_charged")
    )


class _ReservationLost(Exception):
    pass


def _reservation_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.CHAT_RESERVATION_EXPIRY_SECONDS)


def _messages(history: list[Exchange], message: str) -> list[Message]:
    messages = [Message("system", settings.AI_SYSTEM_PROMPT)] if settings.AI_SYSTEM_PROMPT else []
    for earlier in history:
        messages += [Message("user", earlier.message), Message("assistant", earlier.response)]
    return [*messages, Message("user", message)]


def _reason(error: BaseException) -> str:
    return str(getattr(error, "default_code", type(error).__name__))


def _count(value: int | None) -> int | None:
    # A provider's own count, kept only if it fits the column.
    return value if value is not None and 0 <= value < 2**31 else None


def _connection_release() -> None:
    # A pooled connection goes back to the pool while a remote model thinks,
    # so a few connections serve hundreds of waiting requests. Persistent
    # connections (SQLite, or no pool) stay with their thread, and so does
    # one whose model answers at once (echo): borrowing it again would cost more.
    pooled = getattr(connection, "pool", None) and not connection.in_atomic_block
    if pooled and get_provider().remote:
        connection.close()


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
    balance_after = _balance_apply(user_id=user.pk, amount=amount)
    user.tokens = balance_after
    return TokenTransaction.objects.create(
        user=user, amount=amount, kind=kind, balance_after=balance_after, note=note
    )


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation and its exchanges; their ledger rows stay.

    The row lock makes a chat being added to it either finish first (and be
    deleted with it) or wait and find it gone (404). While a reply is on its
    way, ConversationBusy: deleting would either refund a reply the client
    is already reading, or charge for one it never gets. Reservations past
    their expiry belong to requests that died; they are refunded as the
    sweeper would.
    """
    Conversation.objects.select_for_update().filter(pk=conversation.pk).exists()
    pending = Exchange.objects.filter(conversation=conversation, status=Exchange.Status.PENDING)
    if pending.filter(created_at__gte=_reservation_cutoff()).exists():
        raise ConversationBusy
    for exchange in pending.only("id", "user_id", "conversation_id", "tokens_charged"):
        chat_refund(exchange=exchange, reason="reservation expired")
    conversation.delete()


def _conversation_touch(*, user: User, conversation_id: uuid.UUID) -> None:
    # Checks ownership and marks the conversation active in one statement.
    touched = Conversation.objects.filter(pk=conversation_id, user=user).update(
        updated_at=timezone.now()
    )
    if not touched:
        raise ConversationNotFound


def _balance_apply(*, user_id: uuid.UUID, amount: int) -> int:
    """Apply a signed change to the balance atomically; return the new balance.

    One statement does it all: the guard `tokens >= <what is taken>` sits in
    the WHERE clause and the database computes the new value (what
    `filter(tokens__gte=...).update(tokens=F("tokens") + amount)` compiles
    to), so two requests can never both spend the same tokens. RETURNING
    hands back the new balance, where a follow-up SELECT would cost a round
    trip. No row updated means the balance was short.
    """
    pk = User._meta.pk.get_db_prep_value(user_id, connection)
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
