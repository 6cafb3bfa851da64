"""Django's WSGI handler behind the ASGI server, one hop to a thread a request.

The synchronous views (every view but the chat) run on a fixed pool of
SYNC_THREADS threads, which keep their database connections from one
request to the next, as a WSGI server's threads do.

a2wsgi, which ran them before, hands every part of a response (the status,
each chunk, the end) from the view's thread to the loop and waits there
until the loop has taken it: three round trips a request, during which the
thread, though it has finished its work, serves nobody. Under load the loop
is busy and those waits cost the balance endpoint a tenth of its throughput
(docs/performance.md). Here the loop reads the request's body before the
view runs, the thread runs the view and collects its whole response, and
the loop sends it: the thread never waits on the loop.

This relies on what holds for the views that come here: none streams its
response (the chat, which does, is a coroutine view and never comes here;
config/asgi.py), so collecting it costs no more memory than it holds.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ
from a2wsgi.wsgi_typing import Environ

from api.request_body import body_read, scope_with_length

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
WSGIApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]
Response = tuple[int, list[tuple[bytes, bytes]], bytes]


class WSGIBridge:
    def __init__(self, app: WSGIApp, *, threads: int) -> None:
        self.app = app
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sync-view")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No more of the body than Django would accept (api.request_body).
        body = await body_read(receive)
        if body is None:
            return  # the client left before it had sent its request
        try:
            environ = build_environ(scope_with_length(scope, body), body)  # type: ignore[arg-type]  # any file will do
            # Run in the thread's own context, as under a WSGI server: what
            # Django keeps per context (the cache's client) lives as long as
            # the thread, not one request.
            loop = asyncio.get_running_loop()
            status, headers, content = await loop.run_in_executor(
                self.threads, self._respond, environ
            )
        finally:
            body.close()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _respond(self, environ: Environ) -> Response:
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        status, headers = started
        return (
            int(status.split(" ", 1)[0]),
            [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
            b"".join(chunks),
        )
