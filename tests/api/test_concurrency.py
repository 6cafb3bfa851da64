"""api.concurrency: where an async view's synchronous steps run."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync

from api import lifespan
from api.concurrency import in_thread


def thread_name() -> str:
    return threading.current_thread().name


def test_on_the_servers_loop_a_step_runs_on_the_pool_of_threads():
    async def serve() -> list[str]:
        lifespan.serving()
        try:
            return [await in_thread(thread_name) for _ in range(3)]
        finally:
            await lifespan.shutdown()

    names = asyncio.run(serve())

    assert all(name.startswith("sync-step") for name in names)


def test_elsewhere_a_step_runs_in_the_thread_that_serves_the_request():
    # async_to_sync brings thread-sensitive work back to its caller: the
    # test's thread, with the test's database connection and transaction.
    assert async_to_sync(in_thread)(thread_name) == threading.current_thread().name


def test_the_step_returns_its_value_and_raises_its_error():
    async def serve() -> int:
        lifespan.serving()
        try:
            assert await in_thread(int, "7") == 7
            return await in_thread(int, "x")
        finally:
            await lifespan.shutdown()

    with pytest.raises(ValueError, match="invalid literal"):
        asyncio.run(serve())
