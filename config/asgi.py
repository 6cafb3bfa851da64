"""ASGI entry point: what `make serve` runs (gunicorn managing uvicorn workers).

Two kinds of view share each worker process:

- Views that are coroutines (the chat, which waits seconds on the model)
  run on the event loop through Django's ASGI handler: a waiting chat holds
  no thread, so a process holds thousands of them.
- Every other view is synchronous: a few milliseconds of DRF and SQL. They
  run through Django's WSGI handler on a fixed pool of SYNC_THREADS threads
  (api.wsgi_bridge), which keep their database connections from one request
  to the next. Through the ASGI handler each would cost a new thread and, on
  SQLite, a new connection: five times slower (docs/performance.md).

Which way a request goes is read from the URL's view, so a view made async
moves over by itself. The lifespan protocol tells api.lifespan which loop
is the server's, so clients on it keep their connections until shutdown;
it also opens the AI provider's client on that loop, starts the
sampling of the database pool for /metrics, and sets the garbage collector
for serving (api.collector).
"""

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import django
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import Resolver404, get_resolver, resolve

from api import concurrency, lifespan, metrics
from api.collector import collector_for_serving
from api.handlers import CoroutineViewHandler
from api.wsgi_bridge import WSGIBridge
from conversations.providers import get_provider

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# At shutdown, the longest to wait for the settling of the chats the server
# cancelled (gunicorn's graceful_timeout leaves 10 s beyond the chats' own).
SETTLE_SECONDS = 5

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

django.setup(set_prefix=False)
asynchronous = CoroutineViewHandler()
synchronous = WSGIBridge(get_wsgi_application(), threads=settings.SYNC_THREADS)  # type: ignore[arg-type]
# Every view, serializer and validator is imported now, once, in gunicorn's
# master (preload_app), rather than by each worker on its first request,
# when a burst of clients may be waiting on it.
get_resolver().url_patterns  # noqa: B018 (a cached property: loads the URLconf)


def is_async_view(path: str) -> bool:
    try:
        return iscoroutinefunction(resolve(path).func)
    except Resolver404:
        return False


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and not is_async_view(scope["path"]):
        await synchronous(scope, receive, send)
    else:
        await asynchronous(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    sampling: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            lifespan.serving()
            await get_provider().open()
            sampling = asyncio.create_task(metrics.database_pool_sampling())
            # Last, so the provider's client, kept for the process's life, is frozen too.
            collector_for_serving()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if sampling is not None:
                sampling.cancel()
            # The chats the server cancelled settle before the loop ends.
            await concurrency.steps_finished(timeout=SETTLE_SECONDS)
            await lifespan.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
