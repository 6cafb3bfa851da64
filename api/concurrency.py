"""Synchronous steps (the database, the cache) from async code.

On the server's event loop (api.lifespan) a step runs on a fixed pool of
SYNC_THREADS threads, which keep their database connections from one step
to the next, as the threads of a WSGI server do: no thread is started and
no connection opened per request. A pooled PostgreSQL connection goes back
to its pool after each step, so no thread keeps one while a chat waits on
its model. On any other loop (a test's, or the one a WSGI server makes per
request) a step runs as asgiref's sync_to_async runs it: in the thread that
serves the request, inside its transaction.

When the server stops, requests still running are cancelled, and those that
hold money settle it in a last step (a refund, a partial reply kept): the
server waits for those steps (`steps_finished`) before its loop ends, or
they would be dropped from the pool's queue with the loop.
"""

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from api import lifespan

logger = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# The steps under way on the server's loop.
_running: set["asyncio.Future[Any]"] = set()


async def in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    loop = asyncio.get_running_loop()
    if not lifespan.is_serving(loop):
        return await sync_to_async(function)(*args, **kwargs)
    context = contextvars.copy_context()
    step = functools.partial(context.run, _step, function, *args, **kwargs)
    future = loop.run_in_executor(_threads(), step)
    _running.add(future)
    future.add_done_callback(_running.discard)
    return await future


async def steps_finished(*, timeout: float) -> None:
    """Wait until the steps under way, and those they lead to, have finished.

    Each round first lets the requests just cancelled run up to their next
    step (a few turns of the loop), so that a settle which follows another
    step is waited for too.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for _ in range(_TURNS):
            await asyncio.sleep(0)
        if not _running:
            return
        left = deadline - loop.time()
        if left <= 0:
            logger.warning("shutdown.steps_unfinished", steps=len(_running))
            return
        await asyncio.wait(set(_running), timeout=left)


# Turns of the loop a cancelled request may take between two of its steps.
_TURNS = 5


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


__all__ = ["in_thread", "steps_finished"]
