"""Which event loop is the server's, and what to close when it stops.

An ASGI server runs one event loop for the life of a worker process and
says so through the lifespan protocol (config/asgi.py). Clients whose
connections belong to a loop (the AI provider's) keep them open on that
loop, and are closed at shutdown; on any other loop (a test's, or the one a
WSGI server makes per request) they open and close per call.
"""

import asyncio
from collections.abc import Awaitable, Callable
from weakref import WeakKeyDictionary

_closers: "WeakKeyDictionary[asyncio.AbstractEventLoop, list[Callable[[], Awaitable[None]]]]" = (
    WeakKeyDictionary()
)


def serving() -> None:
    """Mark the running loop as the server's (at lifespan startup)."""
    _closers.setdefault(asyncio.get_running_loop(), [])


def is_serving(loop: asyncio.AbstractEventLoop) -> bool:
    return loop in _closers


def on_shutdown(loop: asyncio.AbstractEventLoop, close: Callable[[], Awaitable[None]]) -> None:
    """Call `close` when the server's `loop` shuts down."""
    _closers[loop].append(close)


async def shutdown() -> None:
    """Close what the running loop holds (at lifespan shutdown)."""
    for close in _closers.pop(asyncio.get_running_loop(), []):
        await close()
