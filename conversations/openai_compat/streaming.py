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

import functools
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import structlog
from django.http import StreamingHttpResponse
from rest_framework.exceptions import APIException

from conversations.openai_compat.errors import api_exception_error
from conversations.openai_compat.serializers import completion_id, created, usage
from conversations.services.reservations import ChatReservation, ChatResult
from conversations.streaming import chat_frames, event_stream_response

logger = structlog.get_logger(__name__)

DONE = b"data: [DONE]\n\n"


def chunk_stream_response(reservation: ChatReservation, *, model: str) -> StreamingHttpResponse:
    return event_stream_response(reservation, functools.partial(_chunks, model=model))


async def _chunks(reservation: ChatReservation, *, model: str) -> AsyncGenerator[bytes]:
    pending = ChatResult(exchange=reservation.exchange, remaining_tokens=0)
    base = {
        "id": completion_id(pending),
        "object": "chat.completion.chunk",
        "created": created(pending),
        "model": model,
    }

    def frame(item: str | ChatResult) -> bytes:
        if isinstance(item, str):
            return _data(_chunk(base, {"content": item}))
        last = _chunk(base, {}, finish_reason="stop")
        return _data({**last, "usage": usage(item)})

    def error_frame(error: APIException) -> bytes:
        return _data(api_exception_error(error))

    opening = _data(_chunk(base, {"role": "assistant", "content": ""}))
    async with aclosing(chat_frames(reservation, opening, frame, error_frame)) as frames:
        async for chunk in frames:
            yield chunk
    yield DONE


def _chunk(
    base: dict[str, Any], delta: dict[str, str], finish_reason: str | None = None
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    return {**base, "choices": [choice]}


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()
