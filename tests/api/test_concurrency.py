"""api.concurrency: where an async view's synchronous steps run."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import async_to_sync

from api import lifespan
from api.concurrency import in_thread, steps_finished


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


def test_stopping_waits_for_the_steps_under_way_and_those_they_lead_to():
    finished = []

    async def settle() -> None:
        # A cancelled request's last steps: shielded, one after the other.
        await asyncio.shield(in_thread(time.sleep, 0.2))
        finished.append("first")
        await in_thread(time.sleep, 0.2)
        finished.append("second")

    async def serve() -> None:
        lifespan.serving()
        try:
            task = asyncio.ensure_future(settle())
            await asyncio.sleep(0.05)
            await steps_finished(timeout=5)
            assert finished == ["first", "second"]
            await task
        finally:
            await lifespan.shutdown()

    asyncio.run(serve())


def test_stopping_waits_no_longer_than_it_is_told():
    async def serve() -> float:
        lifespan.serving()
        try:
            step = asyncio.ensure_future(in_thread(time.sleep, 1))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await steps_finished(timeout=0.1)
            waited = time.monotonic() - started
            await step
            return waited
        finally:
            await lifespan.shutdown()

    assert asyncio.run(serve()) < 0.9
