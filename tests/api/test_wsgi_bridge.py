"""The bridge from the ASGI server to Django's WSGI handler (api/wsgi_bridge.py),
driven as the server drives it, around a small WSGI app of the test's own."""

import asyncio
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from api.wsgi_bridge import WSGIBridge
from tests.asgi import post_scope

TIMEOUT = 5


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """Answers 201 with the request's body, in two chunks and a write()."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    write = start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", "yes")])
    write(b"<")
    yield body
    yield b">"


def messages(parts: list[bytes]) -> list[dict[str, Any]]:
    """The request's body as the server hands it over, in `parts`."""
    return [
        {"type": "http.request", "body": part, "more_body": n < len(parts) - 1}
        for n, part in enumerate(parts)
    ]


async def call(
    bridge: WSGIBridge,
    incoming: list[dict[str, Any]],
    send: Callable[[dict[str, Any]], Any] | None = None,
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    content = b"".join(m.get("body", b"") for m in incoming)

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def record(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))
        if send is not None:
            await send(sent[-1])

    await bridge(post_scope("/echo/", content, {}), receive, record)
    return sent


def test_the_response_goes_out_whole_in_one_start_and_one_body():
    bridge = WSGIBridge(echo, threads=1)

    sent = asyncio.run(call(bridge, messages([b"hello"])))

    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-seen", b"yes")],
        },
        {"type": "http.response.body", "body": b"<hello>"},
    ]


def test_a_body_in_many_parts_reaches_the_view_whole():
    bridge = WSGIBridge(echo, threads=1)

    sent = asyncio.run(call(bridge, messages([b"one ", b"two ", b"three"])))

    assert sent[1]["body"] == b"<one two three>"


def test_no_more_of_a_body_is_read_than_django_would_accept(settings):
    """Django refuses the body from its Content-Length (413); the rest of it
    is never read, however long it is."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    seen: list[int] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(int(environ["CONTENT_LENGTH"]))
        start_response("413 Content Too Large", [])
        return [b""]

    bridge = WSGIBridge(app, threads=1)
    incoming = messages([b"x" * 6] * 1_000)

    sent = asyncio.run(call(bridge, incoming))

    assert sent[0]["status"] == 413
    assert seen == [6_000]  # as the client declared it
    assert len(incoming) == 1_000 - 2  # 12 bytes read, one past the limit


def test_a_client_that_leaves_before_its_body_is_sent_runs_no_view():
    ran: list[bool] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        ran.append(True)
        start_response("200 OK", [])
        return [b""]

    bridge = WSGIBridge(app, threads=1)
    incoming = [*messages([b"half", b"never"])[:1], {"type": "http.disconnect"}]

    assert asyncio.run(call(bridge, incoming)) == []
    assert ran == []


def test_the_view_thread_never_waits_on_the_loop():
    """The view's thread runs it to the end (its response closed) while the
    loop is busy elsewhere: a thread that had to hand the loop each part of
    the response would wait for it, serving nobody (and here, never finish).
    So a busy loop, or a client slow to read, holds no view thread."""
    entered, closed = threading.Event(), threading.Event()

    class Response(list[bytes]):
        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Response:
        entered.set()
        start_response("200 OK", [])
        return Response([b"done"])

    bridge = WSGIBridge(app, threads=1)

    async def with_the_loop_busy() -> list[dict[str, Any]]:
        request = asyncio.create_task(call(bridge, messages([b""])))
        while not entered.is_set():
            await asyncio.sleep(0.001)
        # The loop blocks until the view's thread has finished the response.
        assert closed.wait(TIMEOUT)
        return await request

    assert asyncio.run(with_the_loop_busy())[1]["body"] == b"done"
