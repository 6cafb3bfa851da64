"""A chat: pay, ask the model, keep the exchange.

A chat is paid for before the model is asked, and settled after it answers,
so no database transaction stays open while a model thinks:

1. `chat_reserve` debits the cost (402 when the balance is short) and writes
   the exchange, `pending`, with its ledger row, in one transaction.
2. The provider is called outside any transaction.
3. `reservations.chat_settle` ends the reservation, for the plain and the
   streamed chat alike: the reply stored, the partial reply of a client who
   left kept, or the charge refunded.
"""

import logging
import uuid
from collections.abc import Generator
from contextlib import closing

from django.conf import settings
from django.db import transaction

from conversations import selectors
from conversations.db import connection_release
from conversations.exceptions import ProviderError
from conversations.models import Conversation, Exchange
from conversations.providers import Message, Reply, get_provider
from conversations.services import idempotency
from conversations.services.conversations import conversation_touch
from conversations.services.reservations import (
    Abandoned,
    ChatReservation,
    ChatResult,
    Completed,
    Failed,
    chat_settle,
)
from users.ledger import ledger_record
from users.models import TokenTransaction, User

logger = logging.getLogger(__name__)

TITLE_MAX_CHARS = 60


def chat_send(
    *,
    user: User,
    message: str,
    conversation_id: uuid.UUID | None = None,
    idempotency_key: idempotency.IdempotencyRequest | None = None,
) -> ChatResult:
    """Charge the user for one message, get the AI's reply, and keep the exchange.

    Raises ConversationNotFound for an unknown or foreign conversation and
    InsufficientTokens when the balance is short; either way nothing changes.
    A provider failure (ProviderError, ProviderTimeout) is refunded before it
    is raised.

    With an idempotency key, a request already answered gets that answer
    again (`replayed`), and a charge is committed only together with the
    stored answer, by the request that still holds the key.
    """
    if idempotency_key is None:
        return _chat_run(user=user, message=message, conversation_id=conversation_id)
    claim = idempotency.idempotency_claim(user=user, request=idempotency_key)
    if isinstance(claim, ChatResult):
        return claim
    try:
        return _chat_run(user=user, message=message, conversation_id=conversation_id, claim=claim)
    except BaseException:
        idempotency.idempotency_release(claim=claim)
        raise


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
            chat_settle(reservation=reservation, outcome=Abandoned(partial))
        except Exception:
            # Refunded by chat_settle, or settled by someone else; the
            # client has gone, so there is no one else to tell.
            logger.exception("Could not keep the reply of a client that left")
        raise
    except BaseException as error:
        chat_settle(reservation=reservation, outcome=Failed.of(error))
        raise
    yield chat_settle(reservation=reservation, outcome=Completed(reply))


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
            conversation_touch(user=user, conversation_id=conversation_id)
            history = selectors.exchange_context(
                user=user, conversation_id=conversation_id, limit=settings.AI_CONTEXT_EXCHANGES
            )
        charge = ledger_record(
            user_id=user.pk, amount=-cost, kind=TokenTransaction.Kind.CHAT_CHARGE
        )
        if conversation_id is None:
            conversation_id = Conversation.objects.create(user=user, title=_title(message)).id
        exchange = Exchange.objects.create(
            conversation_id=conversation_id,
            user=user,
            message=message,
            tokens_charged=cost,
            charge=charge,
        )
    user.balance_observed(charge.balance_after)
    connection_release(remote=get_provider().remote)
    return ChatReservation(
        exchange=exchange,
        messages=_messages(history, message),
        remaining_tokens=charge.balance_after,
        new_conversation=new_conversation,
    )


def _chat_run(
    *,
    user: User,
    message: str,
    conversation_id: uuid.UUID | None,
    claim: idempotency.IdempotencyClaim | None = None,
) -> ChatResult:
    reservation = chat_reserve(user=user, message=message, conversation_id=conversation_id)
    try:
        reply = get_provider().reply(messages=reservation.messages)
    except BaseException as error:
        chat_settle(reservation=reservation, outcome=Failed.of(error))
        raise
    return chat_settle(reservation=reservation, outcome=Completed(reply), claim=claim)


def _messages(history: list[Exchange], message: str) -> list[Message]:
    messages = [Message("system", settings.AI_SYSTEM_PROMPT)] if settings.AI_SYSTEM_PROMPT else []
    for earlier in history:
        messages += [Message("user", earlier.message), Message("assistant", earlier.response)]
    return [*messages, Message("user", message)]


def _title(message: str) -> str:
    # Cut by code points, not by what Truncator counts as characters: a
    # letter with thousands of combining marks must still fit the column.
    if len(message) <= TITLE_MAX_CHARS:
        return message
    return message[: TITLE_MAX_CHARS - 1].rstrip() + "…"
