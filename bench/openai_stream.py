"""Held streams on `/v1/chat/completions`: the request, and a reader of OpenAI's chunk stream.

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant", …}}]}
    data: {… "choices": [{"delta": {"content": <a piece>}, "finish_reason": null}]}   (repeated)
    data: {… "choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {…}}
    data: [DONE]

A chat is done only when both the chunk with a finish_reason and `data: [DONE]`
came, in that order. A `data: {"error": …}` chunk (how a failure after the
stream began is sent), a chunk that is not JSON, `[DONE]` before the
finish_reason, or content after it, is an error (StreamError).
"""

import json
import uuid
from typing import Any

DONE = b"[DONE]"
COMPLETION_ID_PREFIX = "chatcmpl-"


class StreamError(Exception):
    """The stream said something went wrong, or broke its own format: the
    message is the kind of error the load generator counts."""


def completion_request(message: str, model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": message}], "stream": True}


class ChunkReader:
    """Reads a `/v1/chat/completions` stream a line at a time (see the module)."""

    def __init__(self) -> None:
        self.pieces = 0  # chunks with content: the model's pieces
        self.answer_id: str | None = None
        self.finish_reason: str | None = None
        self.finished = False

    def feed(self, line: bytes) -> bool:
        """Take one line of the body (its line break removed); True when it
        completes the answer. SSE comments (heartbeats) and blank lines pass."""
        if not line.startswith(b"data: "):
            return False
        data = line[6:].strip()
        if data == DONE:
            if self.finish_reason is None:
                raise StreamError("[DONE] before a finish_reason")
            self.finished = True
            return True
        if self.finished:
            raise StreamError("data after [DONE]")
        try:
            chunk = json.loads(data)
        except ValueError:
            raise StreamError("unreadable chunk") from None
        if not isinstance(chunk, dict):
            raise StreamError("unreadable chunk")
        if "error" in chunk:
            raise StreamError(f"error chunk ({_error_code(chunk['error'])})")
        self._choice(chunk)
        return False

    def unfinished(self) -> str:
        """The error of a body that ended before the answer was complete."""
        if self.finish_reason is None:
            return "stream ended without a finish_reason"
        return "stream ended without [DONE]"

    def _choice(self, chunk: dict[str, Any]) -> None:
        try:
            (choice,) = chunk["choices"]
            delta, finish_reason = choice["delta"], choice["finish_reason"]
        except (KeyError, TypeError, ValueError):
            raise StreamError("chunk without one choice") from None
        if delta.get("content"):
            if self.finish_reason is not None:
                raise StreamError("content after the finish_reason")
            self.pieces += 1
        if finish_reason is not None:
            self.finish_reason = str(finish_reason)
            self.answer_id = _exchange_id(str(chunk.get("id", "")))


def _exchange_id(completion_id: str) -> str:
    """The stored exchange's id (as the billing check reads it) in a completion's
    id, `chatcmpl-<its hex>`; unchanged when it is not one, so the check misses it."""
    try:
        return str(uuid.UUID(hex=completion_id.removeprefix(COMPLETION_ID_PREFIX)))
    except ValueError:
        return completion_id


def _error_code(error: Any) -> str:
    if isinstance(error, dict) and error.get("code"):
        return str(error["code"])
    if isinstance(error, dict) and error.get("type"):
        return str(error["type"])
    return "unreadable"
