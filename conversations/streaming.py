"""A streamed reply as server-sent events (`text/event-stream`).

    event: start   {"id": <exchange>, "conversation": <conversation>}
    event: delta   {"text": <the next piece of the reply>}      (repeated)
    event: done    <the body a non-streamed chat returns>
    event: error   <the project's error body: provider_error, provider_timeout, …>

Errors found before the reply starts (400, 402, 404) are ordinary JSON
responses; once `start` is sent, the status is 200 and the outcome is the
last event. While the model is silent, a comment line (`: keep-alive`) goes
out every STREAM_HEARTBEAT_SECONDS so that proxies do not cut the stream.

A client that leaves is noticed by the server at once (the ASGI handler
cancels the response): mid-reply, the charge is kept and the reply so far
saved `incomplete` (services.chat.chat_stream); before the model was asked,
the reservation is refunded here.

Under a WSGI server Django buffers an async stream and sends it whole at the
end (docs/streaming.md): serve with ASGI (`make serve`).
"""

import asyncio
import json
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework.exceptions import APIException
from rest_framework.utils.encoders import JSONEncoder

from api import metrics
from api.exceptions import error_body
from conversations.serializers import chat_output
from conversations.services.chat import chat_stream, settle_shielded
from conversations.services.reservations import (
    CLIENT_LEFT,
    ChatReservation,
    ChatResult,
    Failed,
    chat_settle,
)

logger = structlog.get_logger(__name__)

MEDIA_TYPE = "text/event-stream"
HEARTBEAT = b": keep-alive\n\n"

T = TypeVar("T")
# What a streamed chat sends: bytes to write, the reservation settled by the
# time they run out (or the generator is closed or cancelled).
Events = Callable[[ChatReservation], AsyncGenerator[bytes]]


def event_stream_response(
    reservation: ChatReservation, events: Events | None = None
) -> StreamingHttpResponse:
    """The reservation's chat as a stream of `events` (by default, the events
    above; the OpenAI-compatible endpoint gives its own chunks)."""
    stream = _EventStream(reservation, events or _events)
    response = StreamingHttpResponse(stream, content_type=MEDIA_TYPE)
    response["Cache-Control"] = "no-cache"
    # Proxies such as nginx would otherwise hold events back to fill a buffer.
    response["X-Accel-Buffering"] = "no"
    return response


class _EventStream:
    """The events of one streamed chat, and what ending them early means.

    Once they have begun, the events settle the reservation themselves,
    whether they run out or the client leaves (the server cancels or closes
    them). A response whose events never began (the client left before it
    was sent) is refunded: when the server closes it (`close`), or, if the
    server dropped it without closing it (an ASGI server cancelling the
    request), when it is collected.
    """

    def __init__(self, reservation: ChatReservation, events: Events) -> None:
        self._reservation = reservation
        self._make_events = events
        self._unsent = weakref.finalize(self, _refund_later, reservation)

    def __aiter__(self) -> AsyncGenerator[bytes]:
        return self._events()

    async def _events(self) -> AsyncGenerator[bytes]:
        self._unsent.detach()
        metrics.STREAMS_IN_FLIGHT.inc()
        try:
            async with aclosing(self._make_events(self._reservation)) as events:
                async for event in events:
                    yield event
        finally:
            metrics.STREAMS_IN_FLIGHT.dec()

    def close(self) -> None:
        if self._unsent.detach() is not None:
            chat_settle(reservation=self._reservation, outcome=Failed(CLIENT_LEFT))


def _refund_later(reservation: ChatReservation) -> None:
    # Collected on the server's event loop, where the database is not to be
    # touched: the refund runs as a task of its own, kept until it is done.
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # Collected outside any loop (a synchronous caller dropped the
        # response unread): the garbage collector may run in the middle of
        # anything, so no database step here. The reservation expires, and
        # the sweeper refunds it.
        logger.warning("chat.unsent_stream_left", exchange_id=str(reservation.exchange.pk))
        return
    task = loop.create_task(settle_shielded(reservation=reservation, outcome=Failed(CLIENT_LEFT)))
    _refunds.add(task)
    task.add_done_callback(_refunds.discard)


_refunds: set["asyncio.Task[Any]"] = set()


async def _events(reservation: ChatReservation) -> AsyncGenerator[bytes]:
    exchange = reservation.exchange
    opening = _event("start", {"id": exchange.id, "conversation": exchange.conversation_id})
    async with aclosing(chat_frames(reservation, opening, _frame, _error_event)) as frames:
        async for frame in frames:
            yield frame


def _frame(item: str | ChatResult) -> bytes:
    if isinstance(item, str):
        return _event("delta", {"text": item})
    return _event("done", chat_output(item))


def _error_event(error: APIException) -> bytes:
    return _event("error", _error_body(error))


async def chat_frames(
    reservation: ChatReservation,
    opening: bytes,
    frame: Callable[[str | ChatResult], bytes],
    error_frame: Callable[[APIException], bytes],
) -> AsyncGenerator[bytes]:
    """A streamed chat in any wire format: `opening`, then `frame` of each
    piece of the reply and of its result, a heartbeat while the model is
    silent, and `error_frame` of a failure once the stream has begun.

    Closed or cancelled before `opening` went out, the reservation is
    refunded; afterwards chat_stream settles it (a client that leaves
    mid-reply pays for what it was sent).
    """
    try:
        yield opening
    except BaseException:
        # Closed or cancelled before the model was asked: nothing to keep.
        await settle_shielded(reservation=reservation, outcome=Failed(CLIENT_LEFT))
        raise
    try:
        stream = chat_stream(reservation=reservation)
        every = settings.STREAM_HEARTBEAT_SECONDS
        async with aclosing(heartbeats(stream, every=every)) as items:
            async for item in items:
                yield HEARTBEAT if item is None else frame(item)
    except APIException as error:
        yield error_frame(error)
    except Exception:
        logger.exception("chat.stream_failed", exchange_id=str(reservation.exchange.pk))
        yield error_frame(APIException())


async def heartbeats(items: AsyncIterator[T], *, every: float) -> AsyncGenerator[T | None]:
    """`items`, with None whenever `every` seconds pass with no item.

    One task reads `items` into a queue and one timer per stream watches the
    silence, so an item costs a queue's put and get rather than a task and a
    wait of its own (thousands of streams relay a piece each, many times a
    second). Closing or cancelling this cancels the reading at once,
    mid-wait included, so `items` can settle what it holds.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Pumped[T]] = asyncio.Queue()
    last_item = loop.time()
    started = False

    async def pump() -> None:
        nonlocal last_item, started
        started = True
        try:
            async for item in items:
                last_item = loop.time()
                queue.put_nowait(_Pumped(item))
        except Exception as error:
            queue.put_nowait(_Pumped(error=error))
        else:
            queue.put_nowait(_Pumped(end=True))

    timer: asyncio.TimerHandle

    def watch() -> None:
        nonlocal timer
        quiet = loop.time() - last_item
        if quiet >= every:
            queue.put_nowait(_Pumped(heartbeat=True))
        timer = loop.call_later(every - quiet if quiet < every else every, watch)

    timer = loop.call_later(every, watch)
    reader = loop.create_task(pump())
    try:
        while True:
            pumped = await queue.get()
            if pumped.end:
                return
            if pumped.error is not None:
                raise pumped.error
            yield None if pumped.heartbeat else pumped.item
    finally:
        timer.cancel()
        if not started:
            # Let the reader begin, so that `items` sees the cancellation
            # below and settles what it holds; a generator never begun
            # cannot.
            await asyncio.sleep(0)
        if not reader.done():
            reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class _Pumped(Generic[T]):
    item: T | None = None
    heartbeat: bool = False
    end: bool = False
    error: Exception | None = None


def _event(name: str, data: Any) -> bytes:
    # JSON escapes line breaks, so each event's data is one line.
    return f"event: {name}\ndata: {json.dumps(data, cls=JSONEncoder)}\n\n".encode()


def _error_body(error: APIException) -> dict[str, Any]:
    return error_body(status=error.status_code, code=error.get_codes(), detail=str(error.detail))
