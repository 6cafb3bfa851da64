"""How the program judges an answer: its status and parsed type, its error
codes, a stream's events; and the few tools for sending requests."""

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any, TypeVar

from chat_api_client.models import OpenAIError
from chat_api_client.types import UNSET, Response, Unset

T = TypeVar("T")
U = TypeVar("U")


class Failed(Exception):
    """The server did not answer as schema.yml says it does."""


def expect(response: Response[U], status: HTTPStatus, kind: type[T]) -> T:
    """The parsed body of `response`, which must have this status and type."""
    if response.status_code != status or not isinstance(response.parsed, kind):
        raise Failed(
            f"expected {status.value} {kind.__name__}, got {response.status_code.value}: "
            f"{response.content[:500]!r}"
        )
    return response.parsed


def expect_empty(response: Response[U], status: HTTPStatus) -> None:
    if response.status_code != status or response.content:
        raise Failed(f"expected an empty {status.value}, got {response.status_code.value}")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)


def codes(error: Any) -> set[tuple[str | None, str]]:
    """The (attr, code) pairs of an error body, whatever its generated model."""
    body: dict[str, Any] = error.to_dict()
    return {(item["attr"], item["code"]) for item in body["errors"]}


def openai_error(response: Response[Any], status: HTTPStatus) -> tuple[str, str | None]:
    """The (type, code) of an error in OpenAI's shape, which must have this status."""
    error = expect(response, status, OpenAIError).error
    return error.type_, error.code


def events(stream: str) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) of a `text/event-stream` body."""
    for block in stream.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            yield fields["event"], json.loads(fields["data"])


def at_once(call: Callable[[], T]) -> tuple[T, T]:
    """Two calls of `call`, sent at the same moment from two threads."""
    start = threading.Barrier(2)

    def send() -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(send), pool.submit(send)
        return first.result(), second.result()


def page(cursor: str | None) -> str | Unset:
    """A page's `next_cursor` or `previous_cursor` as the list operations take it."""
    return UNSET if cursor is None else cursor
