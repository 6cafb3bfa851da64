"""A request through the handler that serves coroutine views under the ASGI
server (api.handlers), in this process, read as it streams.

The handler runs as an ASGI server runs it: on an event loop (in a thread
of its own here) with its database steps in threads, so the tests that use
it run without the test transaction around them (`transaction=True`).
`leave()` is the client hanging up: the server tells the app
(`http.disconnect`), and Django cancels the response.
"""

import asyncio
import json
import threading
from collections.abc import Coroutine
from typing import Any

from asgiref.testing import ApplicationCommunicator

from api import lifespan
from api.handlers import CoroutineViewHandler

TIMEOUT = 10


async def _serving() -> None:
    lifespan.serving()


def post_scope(path: str, content: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The ASGI scope of a JSON POST to `path`, as a server would make it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            (b"host", b"testserver"),
            *((name.lower().encode(), value.encode()) for name, value in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


class ASGIStream:
    def __init__(
        self, path: str, body: dict[str, Any], headers: dict[str, str], serving: bool = False
    ) -> None:
        content = json.dumps(body).encode()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.serving = serving
        if serving:
            # The server's loop (api.lifespan): database steps go to the pool.
            self._run(_serving())
        scope = post_scope(path, content, headers)
        self.app = ApplicationCommunicator(CoroutineViewHandler(), scope)
        start = self._run(self._send(content))
        self.status_code: int = start["status"]
        self.headers = {name.decode(): value.decode() for name, value in start["headers"]}
        self.done = False

    async def _send(self, body: bytes) -> dict[str, Any]:
        await self.app.send_input({"type": "http.request", "body": body, "more_body": False})
        return await self.app.receive_output(TIMEOUT)  # type: ignore[no-any-return]

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT + 5)

    def __iter__(self) -> "ASGIStream":
        return self

    def __next__(self) -> bytes:
        """The next piece the server sends (an event, or a heartbeat)."""
        while not self.done:
            message = self._run(self.app.receive_output(TIMEOUT))
            self.done = not message.get("more_body", False)
            if message.get("body"):
                return message["body"]  # type: ignore[no-any-return]
        self._run(self.app.wait(TIMEOUT))
        self._stop()
        raise StopIteration

    def read(self) -> bytes:
        return b"".join(self)

    def leave(self) -> None:
        """Hang up, and wait until the app has finished with the request."""
        self._run(self.app.send_input({"type": "http.disconnect"}))
        self._run(self.app.wait(TIMEOUT))
        self._stop()

    def _stop(self) -> None:
        if self.serving and self.loop.is_running():
            self._run(lifespan.shutdown())
            self.serving = False
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
