import asyncio
import threading
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin

from api.handlers import CoroutineViewHandler
from tests.asgi import post_scope

CHAT_URL = reverse("chat")
# The handler runs in its own loop and threads, outside the test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


class RecordsThreads(MiddlewareMixin):
    threads: list[int] = []

    def process_request(self, request: Any) -> None:
        self.threads.append(threading.get_ident())

    def process_response(self, request: Any, response: Any) -> Any:
        self.threads.append(threading.get_ident())
        return response


class SyncOnly:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)


def serve(handler: CoroutineViewHandler, path: str) -> tuple[int, dict[str, str], bytes]:
    """One POST without credentials through `handler`, on this thread's own loop."""
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = post_scope(path, b"{}", {})
    asyncio.run(handler(scope, receive, send))
    start = sent[0]
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], headers, body


def test_middleware_hooks_run_on_the_event_loop_not_in_threads(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.api.test_handlers.RecordsThreads"]
    RecordsThreads.threads = []

    status, _, _ = serve(CoroutineViewHandler(), CHAT_URL)

    assert status == 401
    assert RecordsThreads.threads == [threading.get_ident()] * 2


def test_a_coroutine_view_gets_the_headers_every_other_view_gets(client):
    expected = client.post(CHAT_URL, {}, content_type="application/json")

    status, headers, body = serve(CoroutineViewHandler(), CHAT_URL)

    assert status == expected.status_code == 401
    assert body == expected.content
    for name in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "WWW-Authenticate",
        "Vary",
    ):
        assert headers[name.lower()] == expected[name], name


def test_a_middleware_that_cannot_run_on_the_loop_stops_the_start(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.api.test_handlers.SyncOnly"]

    with pytest.raises(ImproperlyConfigured, match="SyncOnly"):
        CoroutineViewHandler()
