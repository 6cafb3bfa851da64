"""Synchronous steps (the database, the cache) from async code.

On the server's event loop (api.lifespan) a step runs on a fixed pool of
SYNC_THREADS threads, which keep their database connections from one step
to the next, as the threads of a WSGI server do: no thread is started and
no connection opened per request. A pooled PostgreSQL connection goes back
to its pool after each step, so no thread keeps one while a chat waits on
its model. On any other loop (a test's, or the one a WSGI server makes per
request) a step runs as asgiref's sync_to_async runs it: in the thread that
serves the request, inside its transaction.
"""

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from api import lifespan

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    loop = asyncio.get_running_loop()
    if not lifespan.is_serving(loop):
        return await sync_to_async(function)(*args, **kwargs)
    context = contextvars.copy_context()
    step = functools.partial(context.run, _step, function, *args, **kwargs)
    return await loop.run_in_executor(_threads(), step)


def _step(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return function(*args, **kwargs)
    finally:
        for connection in connections.all(initialized_only=True):
            if getattr(connection, "pool", None):
                connection.close()
            else:
                connection.close_if_unusable_or_obsolete()


@functools.cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.SYNC_THREADS, thread_name_prefix="sync-step")


__all__ = ["in_thread"]
