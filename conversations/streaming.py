"""A streamed reply as server-sent events (`text/event-stream`).

    event: start   {"id": <exchange>, "conversation": <conversation>}
    event: delta   {"text": <the next piece of the reply>}      (repeated)
    event: done    <the body a non-streamed chat returns>
    event: error   <the project's error body: provider_error, provider_timeout, …>

Errors found before the reply starts (400, 402, 404) are ordinary JSON
responses; once `start` is sent, the status is 200 and the outcome is the
last event.
"""

import json
import logging
from collections.abc import Generator, Iterator
from contextlib import closing
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.exceptions import APIException
from rest_framework.utils.encoders import JSONEncoder

from conversations.serializers import ChatOutputSerializer
from conversations.services.chat import chat_stream
from conversations.services.reservations import ChatReservation, Failed, chat_settle

logger = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"


def event_stream_response(reservation: ChatReservation) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_EventStream(reservation), content_type=MEDIA_TYPE)
    response["Cache-Control"] = "no-cache"
    # Proxies such as nginx would otherwise hold events back to fill a buffer.
    response["X-Accel-Buffering"] = "no"
    return response


class _EventStream:
    """The events of one streamed chat, and what closing them early means.

    The server closes the response when the stream ends or the client goes
    away. A client that left mid-reply has been charged and its reply saved
    as incomplete (services.chat.chat_stream); one that left before the model was
    even asked (or whose response was never sent at all) leaves its
    reservation pending, and is refunded here rather than by the sweeper.
    """

    def __init__(self, reservation: ChatReservation) -> None:
        self._reservation = reservation
        self._events = _events(reservation)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._events)

    def close(self) -> None:
        try:
            self._events.close()
        finally:
            # A no-op for a reservation already settled (complete, incomplete
            # or refunded).
            chat_settle(reservation=self._reservation, outcome=Failed("client left"))


def _events(reservation: ChatReservation) -> Generator[bytes]:
    exchange = reservation.exchange
    yield _event("start", {"id": exchange.id, "conversation": exchange.conversation_id})
    try:
        # closing(): when the client goes away, the server closes this
        # generator, and the reply must be closed with it (which saves it
        # as incomplete and hangs up on the provider).
        with closing(chat_stream(reservation=reservation)) as stream:
            for item in stream:
                if isinstance(item, str):
                    yield _event("delta", {"text": item})
                else:
                    yield _event("done", ChatOutputSerializer(item).data)
    except APIException as error:
        yield _event("error", _error_body(error))
    except Exception:
        logger.exception("A streamed chat failed")
        yield _event("error", _error_body(APIException()))


def _event(name: str, data: Any) -> bytes:
    # JSON escapes line breaks, so each event's data is one line.
    return f"event: {name}\ndata: {json.dumps(data, cls=JSONEncoder)}\n\n".encode()


def _error_body(error: APIException) -> dict[str, Any]:
    return {
        "type": "server_error" if error.status_code >= 500 else "client_error",
        "errors": [{"code": error.get_codes(), "detail": str(error.detail), "attr": None}],
    }
