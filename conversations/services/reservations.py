"""How a paid-for chat ends: the one place a reservation is settled.

Every reservation ends in exactly one of three ways, whichever path it took
(plain or streamed chat, the sweeper, a deleted conversation):

- Completed: the reply is stored and the charge kept (under per-token
  pricing, what the reported usage costs: the rest of the reservation comes
  back in a `usage_refund` ledger row, in the same transaction).
- Abandoned: a streamed reply whose client left; what came is kept,
  `incomplete`, and so is the charge (per token: what was sent, at most).
- Failed: the exchange is deleted and the charge refunded with a `refund`
  ledger row (and the conversation too, if the chat had just started it).

Each acts only on an exchange that is still pending, so exactly one of them
settles a reservation, however requests, sweeper and deletions interleave.
"""

import asyncio
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api import metrics
from conversations.exceptions import ConversationNotFound, ProviderTimeout
from conversations.models import Conversation, Exchange
from conversations.providers import Message, Reply
from conversations.services import pricing
from users.ledger import ledger_record
from users.models import TokenTransaction

logger = structlog.get_logger(__name__)

MODEL_NAME_MAX_CHARS = 255
# The refund's note when the client went away before the model was asked.
CLIENT_LEFT = "client left"
# The sweeper's, for a reservation whose request died.
EXPIRED = "reservation expired"
# The note on a `usage_refund`: the part of a reservation the reply did not use.
UNUSED = "unused reservation"
# A refund's reason as the chat_api_chat_refunds_total metric counts it.
_REFUND_REASONS = {
    "provider_error": "provider_error",
    "provider_timeout": "provider_timeout",
    CLIENT_LEFT: "client_left",
    EXPIRED: "reservation_expired",
}


@dataclass(frozen=True)
class ChatReservation:
    """A paid-for, pending exchange and the messages the model is to be sent."""

    exchange: Exchange
    messages: list[Message]
    # The balance just after the charge (what a stream's header reports).
    remaining_tokens: int
    new_conversation: bool
    # What the model is asked for: at most `max_tokens` (None:
    # AI_MAX_OUTPUT_TOKENS; per token, the reservation was priced on it), at
    # `temperature` (None: the model's default).
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class ChatResult:
    exchange: Exchange
    remaining_tokens: int
    # The stored answer to an earlier request with the same Idempotency-Key.
    replayed: bool = False


@dataclass(frozen=True)
class Completed:
    reply: Reply


@dataclass(frozen=True)
class Abandoned:
    """The client left a streamed reply: `reply` holds what it was sent."""

    reply: Reply


@dataclass(frozen=True)
class Failed:
    reason: str

    @classmethod
    def of(cls, error: BaseException) -> "Failed":
        if isinstance(error, asyncio.CancelledError):
            return cls(CLIENT_LEFT)
        return cls(str(getattr(error, "default_code", type(error).__name__)))


Outcome = Completed | Abandoned | Failed


class ClaimStore(Protocol):
    """What must commit together with a stored reply (an idempotency claim)."""

    def store(self, result: ChatResult) -> None: ...


def chat_settle(
    *, reservation: ChatReservation, outcome: Outcome, claim: ClaimStore | None = None
) -> ChatResult:
    """End a reservation with its outcome; the ChatResult of a kept reply.

    A Failed outcome is refunded and its result says nothing new. A kept
    reply that cost less than was reserved (per-token pricing) gets the
    difference back as a `usage_refund` ledger row in the transaction that
    stores it; the result's balance is the one after that. A reply that
    cannot be stored is refunded and the error raised. If someone else
    settled the reservation first (the sweeper, which refunds), nothing is
    stored: ProviderTimeout, or ConversationNotFound if the chat's
    conversation has been deleted since. `claim` is stored in the same
    transaction as the reply, or the reply is not stored.
    """
    exchange = reservation.exchange
    result = ChatResult(exchange=exchange, remaining_tokens=reservation.remaining_tokens)
    if isinstance(outcome, Failed):
        reservation_refund(exchange=exchange, reason=outcome.reason)
        return result
    try:
        reserved = exchange.tokens_charged
        fields = _reply_fields(outcome)
        fields["tokens_charged"] = cost = pricing.settled_cost(
            reserved=reserved,
            messages=reservation.messages,
            reply=outcome.reply,
            complete=isinstance(outcome, Completed),
        )
        with transaction.atomic():
            pending = Exchange.objects.filter(pk=exchange.pk, status=Exchange.Status.PENDING)
            if not pending.update(**fields):
                raise _ReservationLost
            if cost < reserved:
                result = _unused_refund(reservation, amount=reserved - cost)
            for name, value in fields.items():
                setattr(exchange, name, value)
            if claim is not None:
                claim.store(result)
    except _ReservationLost:
        # The refund took a conversation this chat started with it.
        gone = not Conversation.objects.filter(pk=exchange.conversation_id).exists()
        if gone and not reservation.new_conversation:
            raise ConversationNotFound from None
        raise ProviderTimeout from None
    except BaseException as error:
        exchange.tokens_charged = reserved
        reservation_refund(exchange=exchange, reason=Failed.of(error).reason)
        raise
    if cost < reserved and Exchange.user.is_cached(exchange):
        # The request's own User, once the refund is committed: its balance
        # as the response reports it (X-Tokens-Remaining).
        exchange.user.balance_observed(result.remaining_tokens)
    return result


def _unused_refund(reservation: ChatReservation, *, amount: int) -> ChatResult:
    """Give back the part of the reservation the reply did not use; the result
    with the balance after it. Inside the settling transaction."""
    exchange = reservation.exchange
    # Known from the reservation: a charge made without a key has no caps to
    # give room back to, and needs no look-up to say so.
    charge = exchange.charge if Exchange.charge.is_cached(exchange) else None
    keyless = charge is not None and charge.api_key_id is None
    entry = ledger_record(
        user_id=exchange.user_id,
        amount=amount,
        kind=TokenTransaction.Kind.USAGE_REFUND,
        note=UNUSED,
        # The key's spending caps count the net: the charge, less this.
        refund_of=None if keyless else exchange.charge_id,
    )
    return ChatResult(exchange=exchange, remaining_tokens=entry.balance_after)


def reservation_refund(*, exchange: Exchange, reason: str) -> bool:
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
        ledger_record(
            user_id=exchange.user_id,
            amount=exchange.tokens_charged,
            kind=TokenTransaction.Kind.REFUND,
            note=reason,
            refund_of=exchange.charge_id,
        )
        if not Exchange.objects.filter(conversation_id=exchange.conversation_id).exists():
            Conversation.objects.filter(pk=exchange.conversation_id).delete()
        transaction.on_commit(functools.partial(_refunded, exchange=exchange, reason=reason))
    return True


def _refunded(*, exchange: Exchange, reason: str) -> None:
    metrics.CHATS.labels("refunded").inc()
    metrics.REFUNDS.labels(_REFUND_REASONS.get(reason, "other")).inc()
    logger.info(
        "chat.refunded",
        exchange_id=str(exchange.pk),
        user_id=str(exchange.user_id),
        tokens=exchange.tokens_charged,
        reason=reason,
    )


def reservations_refund_expired() -> int:
    """Refund the reservations of requests that died before settling them.

    A reservation older than CHAT_RESERVATION_EXPIRY_SECONDS has outlived the
    longest a reply may take; returns how many were refunded.
    """
    expired = Exchange.objects.filter(
        status=Exchange.Status.PENDING, created_at__lt=reservation_cutoff()
    )
    return sum(
        reservation_refund(exchange=exchange, reason=EXPIRED)
        for exchange in expired.only(*REFUND_FIELDS)
    )


def reservation_cutoff() -> datetime:
    """Reservations made before this belong to requests that died."""
    return timezone.now() - timedelta(seconds=settings.CHAT_RESERVATION_EXPIRY_SECONDS)


# What reservation_refund reads of an exchange.
REFUND_FIELDS = ("id", "user_id", "conversation_id", "tokens_charged", "charge_id")


class _ReservationLost(Exception):
    pass


def _reply_fields(outcome: Completed | Abandoned) -> dict[str, object]:
    reply = outcome.reply
    complete = isinstance(outcome, Completed)
    return {
        "status": Exchange.Status.COMPLETE if complete else Exchange.Status.INCOMPLETE,
        "response": reply.text,
        "model": reply.model[:MODEL_NAME_MAX_CHARS],
        "prompt_tokens": _count(reply.prompt_tokens),
        "completion_tokens": _count(reply.completion_tokens),
    }


def _count(value: int | None) -> int | None:
    # A provider's own count, kept only if it fits the column.
    return value if value is not None and 0 <= value < 2**31 else None
