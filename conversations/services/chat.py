"""A chat: pay, ask the model, keep the exchange.

A chat is paid for before the model is asked, and settled after it answers,
so no database transaction stays open while a model thinks:

1. `chat_reserve` debits the cost (402 when the balance is short) and writes
   the exchange, `pending`, with its ledger row, in one transaction. The
   cost is the most the chat can cost (services.pricing): CHAT_MESSAGE_COST,
   or under per-token pricing the bound of its prompt plus its max_tokens.
2. The provider is awaited outside any transaction, holding no thread: the
   chat is async, and only its short database steps run in a thread.
3. `reservations.chat_settle` ends the reservation, for the plain and the
   streamed chat alike: the reply stored (and, per token, the unused part of
   the reservation given back), the partial reply of a client who left kept,
   or the charge refunded.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any, Required, TypedDict, TypeVar, Unpack

import structlog
from django.conf import settings
from django.db import transaction

from api import metrics
from api.concurrency import in_thread
from conversations import selectors
from conversations.db import connection_release
from conversations.exceptions import ProviderError
from conversations.models import Conversation, Exchange
from conversations.providers import ChatProvider, Message, Reply, get_provider
from conversations.services import idempotency, pricing
from conversations.services.conversations import conversation_touch
from conversations.services.reservations import (
    CLIENT_LEFT,
    Abandoned,
    ChatReservation,
    ChatResult,
    Completed,
    Failed,
    chat_settle,
)
from users.exceptions import InsufficientTokens
from users.ledger import ledger_record
from users.models import TokenTransaction, User

logger = structlog.get_logger(__name__)

TITLE_MAX_CHARS = 60

T = TypeVar("T")


class ChatArguments(TypedDict, total=False):
    """What a chat is asked with, as chat_reserve takes it (which says what
    each means); the functions that lead to it pass it on unchanged."""

    user: Required[User]
    message: Required[str]
    conversation_id: uuid.UUID | None
    context: Sequence[Message] | None
    max_tokens: int | None
    temperature: float | None


async def chat_send(
    *,
    idempotency_key: idempotency.IdempotencyRequest | None = None,
    **chat: Unpack[ChatArguments],
) -> ChatResult:
    """Charge the user for one message, get the AI's reply, and keep the exchange.

    Raises ConversationNotFound for an unknown or foreign conversation and
    InsufficientTokens when the balance is short; either way nothing changes.
    A provider failure (ProviderError, ProviderTimeout) is refunded before it
    is raised.

    With an idempotency key, a request already answered gets that answer
    again (`replayed`), and a charge is committed only together with the
    stored answer, by the request that still holds the key.

    `chat`: what chat_reserve takes.
    """
    if idempotency_key is None:
        return await _chat_run(**chat)
    claim = await in_thread(
        idempotency.idempotency_claim, user=chat["user"], request=idempotency_key
    )
    if isinstance(claim, ChatResult):
        return claim
    try:
        return await _chat_run(claim=claim, **chat)
    except BaseException:
        await _shielded(idempotency.idempotency_release, claim=claim)
        raise


async def chat_stream(*, reservation: ChatReservation) -> AsyncGenerator[str | ChatResult]:
    """The reply in pieces as the model writes them, then the ChatResult.

    A provider failure is refunded before it is raised. A consumer that stops
    early (the client went away: the generator is closed or cancelled) after
    a piece of the reply keeps the charge, and the reply so far is saved,
    `incomplete`; before the first piece, it is refunded.
    """
    pieces: list[str] = []
    reply: Reply | None = None
    provider = get_provider()
    started = time.monotonic()
    first_piece: float | None = None
    try:
        stream_of = provider.stream(
            messages=reservation.messages,
            max_tokens=reservation.max_tokens,
            temperature=reservation.temperature,
        )
        async with aclosing(stream_of) as stream:
            async for item in stream:
                if isinstance(item, Reply):
                    reply = item
                    break
                if first_piece is None:
                    first_piece = time.monotonic() - started
                    metrics.PROVIDER_FIRST_PIECE_SECONDS.labels(provider.name).observe(first_piece)
                pieces.append(item)
                yield item
        if reply is None:
            raise ProviderError
    except (GeneratorExit, asyncio.CancelledError) as error:
        _provider_failed(provider, error, started, reservation)
        # The client left. It pays for what it was sent, if anything.
        partial = Reply(text="".join(pieces), model=provider.model)
        outcome = Abandoned(partial) if pieces else Failed(CLIENT_LEFT)
        try:
            await _shielded(chat_settle, reservation=reservation, outcome=outcome)
        except Exception:
            # Refunded by chat_settle, or settled by someone else; the
            # client has gone, so there is no one else to tell.
            logger.exception("chat.incomplete_not_kept", exchange_id=str(reservation.exchange.pk))
        except asyncio.CancelledError:
            # The settling ran to its end; the request goes on being cancelled.
            _incomplete(reservation, partial)
            raise
        else:
            _incomplete(reservation, partial)
        raise
    except BaseException as error:
        _provider_failed(provider, error, started, reservation)
        await _shielded(chat_settle, reservation=reservation, outcome=Failed.of(error))
        raise
    latency = time.monotonic() - started
    metrics.PROVIDER_SECONDS.labels(provider.name, "ok").observe(latency)
    yield await _settle_completed(
        reservation, reply, claim=None, latency=latency, first_piece=first_piece
    )


def chat_reserve(
    *,
    user: User,
    message: str,
    conversation_id: uuid.UUID | None = None,
    context: Sequence[Message] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> ChatReservation:
    """Debit the most one message can cost and write its exchange, pending a reply.

    `context`: the messages the model is sent, ending with `message`, given
    by the caller (the OpenAI-compatible endpoint's client) instead of built
    from the stored conversation; the chat starts a new conversation.
    `max_tokens` (AI_MAX_OUTPUT_TOKENS when None) and `temperature` are
    passed to the model; under per-token pricing the reservation is priced
    on `max_tokens`.

    Raises ConversationNotFound or InsufficientTokens, changing nothing.
    """
    if context is not None and conversation_id is not None:
        raise ValueError("A chat with its own context starts a new conversation")
    max_tokens = max_tokens or settings.AI_MAX_OUTPUT_TOKENS
    history: list[Exchange] = []
    new_conversation = conversation_id is None
    with transaction.atomic():
        if conversation_id is not None:
            conversation_touch(user=user, conversation_id=conversation_id)
            history = selectors.exchange_context(
                user=user, conversation_id=conversation_id, limit=settings.AI_CONTEXT_EXCHANGES
            )
        messages = _messages(history, message) if context is None else list(context)
        cost = pricing.reservation_cost(messages=messages, max_tokens=max_tokens)
        try:
            if cost > pricing.MAX_CHAT_COST:
                # More than an exchange's tokens_charged holds: refused as
                # any charge the balance cannot cover.
                raise InsufficientTokens
            charge = ledger_record(
                user_id=user.pk,
                amount=-cost,
                kind=TokenTransaction.Kind.CHAT_CHARGE,
                api_key=user.api_key,
            )
        except InsufficientTokens:
            metrics.CHATS.labels("insufficient_tokens").inc()
            logger.info("chat.insufficient_tokens", user_id=str(user.pk), cost=cost)
            raise
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
    logger.info(
        "chat.reserved",
        user_id=str(user.pk),
        exchange_id=str(exchange.pk),
        conversation_id=str(conversation_id),
        cost=cost,
        balance_after=charge.balance_after,
    )
    return ChatReservation(
        exchange=exchange,
        messages=messages,
        remaining_tokens=charge.balance_after,
        new_conversation=new_conversation,
        max_tokens=max_tokens,
        temperature=temperature,
    )


async def chat_open(**chat: Unpack[ChatArguments]) -> ChatReservation:
    """chat_reserve, from async code. If the caller is cancelled meanwhile (the
    client left), the reservation it made is refunded before that goes on."""
    step = asyncio.ensure_future(in_thread(chat_reserve, **chat))
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        if not await _failed(step):
            await settle_shielded(reservation=step.result(), outcome=Failed(CLIENT_LEFT))
        raise


async def _failed(step: "asyncio.Future[Any]") -> bool:
    try:
        await step
    except Exception:
        return True
    return False


async def _chat_run(
    *, claim: idempotency.IdempotencyClaim | None = None, **chat: Unpack[ChatArguments]
) -> ChatResult:
    reservation = await chat_open(**chat)
    provider = get_provider()
    started = time.monotonic()
    try:
        reply = await provider.reply(
            messages=reservation.messages,
            max_tokens=reservation.max_tokens,
            temperature=reservation.temperature,
        )
    except BaseException as error:
        _provider_failed(provider, error, started, reservation)
        await _shielded(chat_settle, reservation=reservation, outcome=Failed.of(error))
        raise
    latency = time.monotonic() - started
    metrics.PROVIDER_SECONDS.labels(provider.name, "ok").observe(latency)
    return await _settle_completed(
        reservation, reply, claim=claim, latency=latency, first_piece=None
    )


async def _settle_completed(
    reservation: ChatReservation,
    reply: Reply,
    *,
    claim: idempotency.IdempotencyClaim | None,
    latency: float,
    first_piece: float | None,
) -> ChatResult:
    """Save the whole reply. It runs to its end even if the client leaves
    meanwhile (the request is cancelled): the reply is whole, and kept."""
    try:
        result = await _shielded(
            chat_settle, reservation=reservation, outcome=Completed(reply), claim=claim
        )
    except asyncio.CancelledError:
        # Raised only once the save has run to its end, and succeeded.
        _completed(reservation, reply, latency=latency, first_piece=first_piece)
        raise
    _completed(reservation, reply, latency=latency, first_piece=first_piece)
    return result


def _completed(
    reservation: ChatReservation, reply: Reply, *, latency: float, first_piece: float | None
) -> None:
    metrics.CHATS.labels("completed").inc()
    logger.info(
        "chat.completed",
        user_id=str(reservation.exchange.user_id),
        exchange_id=str(reservation.exchange.pk),
        model=reply.model,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        latency_ms=_ms(latency),
        first_piece_ms=None if first_piece is None else _ms(first_piece),
    )


def _incomplete(reservation: ChatReservation, partial: Reply) -> None:
    if not partial.text:
        return  # nothing was sent: refunded, and logged as such
    metrics.CHATS.labels("incomplete").inc()
    logger.info(
        "chat.incomplete",
        user_id=str(reservation.exchange.user_id),
        exchange_id=str(reservation.exchange.pk),
        model=partial.model,
        characters=len(partial.text),
    )


def _provider_failed(
    provider: ChatProvider, error: BaseException, started: float, reservation: ChatReservation
) -> None:
    """Count and log a call to the model that ended without a reply."""
    latency = time.monotonic() - started
    if isinstance(error, GeneratorExit | asyncio.CancelledError):
        # The client left: the model did nothing wrong.
        metrics.PROVIDER_SECONDS.labels(provider.name, "cancelled").observe(latency)
        return
    code = str(getattr(error, "default_code", "other"))
    metrics.PROVIDER_SECONDS.labels(provider.name, code).observe(latency)
    metrics.PROVIDER_ERRORS.labels(provider.name, code).inc()
    logger.warning(
        "chat.provider_error",
        user_id=str(reservation.exchange.user_id),
        exchange_id=str(reservation.exchange.pk),
        provider=provider.name,
        code=code,
        # The model's server's HTTP status, when it answered with an error.
        status=getattr(error.__cause__, "status_code", None),
        error=type(error.__cause__ or error).__name__,
        latency_ms=_ms(latency),
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def settle_shielded(**kwargs: Any) -> ChatResult:
    """chat_settle, run to its end even if the request is being cancelled."""
    return await _shielded(chat_settle, **kwargs)


async def _shielded(function: Callable[..., T], /, **kwargs: Any) -> T:
    """Run a database step to its end even if the request is being cancelled
    (the client left): a reservation must not be left half-settled."""
    step = asyncio.ensure_future(in_thread(function, **kwargs))
    try:
        return await asyncio.shield(step)
    except asyncio.CancelledError:
        await step
        raise


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
