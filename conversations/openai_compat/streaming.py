"""A completion streamed as OpenAI's `chat.completion.chunk` events.

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant"}}], …}
    data: {… "choices": [{"delta": {"content": <the next piece>}}]}      (repeated)
    data: {… "choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {…}}
    data: [DONE]

A failure once the stream has begun is a last `data: {"error": {…}}` event
(the SDKs raise it as an APIError), then `data: [DONE]`. The stream is the
chat's own (conversations.streaming): heartbeats while the model is silent,
and the same settlement when the client leaves (before the model was asked,
refunded; mid-reply, charged and kept `incomplete`).
"""

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import structlog
from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework.exceptions import APIException

from conversations.openai_compat.errors import api_exception_error
from conversations.openai_compat.serializers import completion_id, created, usage
from conversations.services.chat import chat_stream, settle_shielded
from conversations.services.reservations import CLIENT_LEFT, ChatReservation, ChatResult, Failed
from conversations.streaming import HEARTBEAT, event_stream_response, heartbeats

logger = structlog.get_logger(__name__)

DONE = b"data: [DONE]\n\n"


def chunk_stream_response(reservation: ChatReservation, *, model: str) -> StreamingHttpResponse:
    async def events(reservation: ChatReservation) -> AsyncGenerator[bytes]:
        async with aclosing(_chunks(reservation, model=model)) as chunks:
            async for chunk in chunks:
                yield chunk

    return event_stream_response(reservation, events)


async def _chunks(reservation: ChatReservation, *, model: str) -> AsyncGenerator[bytes]:
    pending = ChatResult(exchange=reservation.exchange, remaining_tokens=0)
    base = {
        "id": completion_id(pending),
        "object": "chat.completion.chunk",
        "created": created(pending),
        "model": model,
    }
    try:
        yield _data(_chunk(base, {"role": "assistant", "content": ""}))
    except BaseException:
        # Closed or cancelled before the model was asked: nothing to keep.
        await settle_shielded(reservation=reservation, outcome=Failed(CLIENT_LEFT))
        raise
    try:
        stream = chat_stream(reservation=reservation)
        every = settings.STREAM_HEARTBEAT_SECONDS
        async with aclosing(heartbeats(stream, every=every)) as items:
            async for item in items:
                if item is None:
                    yield HEARTBEAT
                elif isinstance(item, str):
                    yield _data(_chunk(base, {"content": item}))
                else:
                    last = _chunk(base, {}, finish_reason="stop")
                    yield _data({**last, "usage": usage(item)})
    except APIException as error:
        yield _data(api_exception_error(error))
    except Exception:
        logger.exception("chat.stream_failed", exchange_id=str(reservation.exchange.pk))
        yield _data(api_exception_error(APIException()))
    yield DONE


def _chunk(
    base: dict[str, Any], delta: dict[str, str], finish_reason: str | None = None
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    return {**base, "choices": [choice]}


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()
