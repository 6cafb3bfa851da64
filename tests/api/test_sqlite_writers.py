"""SQLite's writers queue for their turn (api.sqlite), in threads and in processes.

The databases here have SQLite's own wait turned off (busy_timeout 0): a
writer that found the write lock taken would fail at once with "database is
locked". So every write that succeeds beside others waited in the queue.
"""

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.db.utils import load_backend

from api.sqlite.base import DatabaseWrapper

THREADS = 6
WRITES = 25


def settings_for(path: Path, *, timeout: float = 10) -> dict[str, Any]:
    """A SQLite database at `path` as config/settings opens one, but that never
    waits in SQLite's busy handler; `timeout` bounds the wait in the queue."""
    settings: dict[str, Any] = connections.configure_settings(
        {
            "default": {
                "ENGINE": "api.sqlite",
                "NAME": str(path),
                "OPTIONS": {
                    "transaction_mode": "IMMEDIATE",
                    "timeout": timeout,
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=0;",
                },
            }
        }
    )["default"]
    return settings


def open_database(settings: dict[str, Any]) -> DatabaseWrapper:
    wrapper: DatabaseWrapper = load_backend(settings["ENGINE"]).DatabaseWrapper(settings)
    return wrapper


def in_transaction(database: DatabaseWrapper, statements: Callable[[Any], None]) -> None:
    """BEGIN IMMEDIATE, the statements, COMMIT (ROLLBACK on error), as `atomic` runs them."""
    database.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    try:
        with database.cursor() as cursor:
            statements(cursor)
    except BaseException:
        database.rollback()
        raise
    else:
        database.commit()
    finally:
        database.set_autocommit(True)


def insert(value: int) -> Callable[[Any], None]:
    def statements(cursor: Any) -> None:
        cursor.execute("INSERT INTO writes (value) VALUES (%s)", [value])
        cursor.execute("UPDATE counter SET total = total + 1")

    return statements


@pytest.fixture
def database_path(tmp_path: Path, django_db_blocker: Any) -> Iterator[Path]:
    path = tmp_path / "writers.sqlite3"
    with django_db_blocker.unblock():
        database = open_database(settings_for(path))
        with database.cursor() as cursor:
            cursor.execute("CREATE TABLE writes (value INTEGER)")
            cursor.execute("CREATE TABLE counter (total INTEGER)")
            cursor.execute("INSERT INTO counter (total) VALUES (0)")
        database.close()
        yield path


def counts(path: Path) -> tuple[int, int]:
    database = open_database(settings_for(path))
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM writes")
            rows = cursor.fetchone()[0]
            cursor.execute("SELECT total FROM counter")
            total = cursor.fetchone()[0]
    finally:
        database.close()
    return rows, total


def write_in_threads(path: Path, first: int) -> list[BaseException]:
    """THREADS threads, each with its connection, each writing WRITES times:
    in a transaction, and (every third write) one statement in autocommit."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(number: int) -> None:
        database = open_database(settings_for(path))
        try:
            start.wait()
            for i in range(WRITES):
                value = first + number * WRITES + i
                if i % 3 == 0:
                    with database.cursor() as cursor:
                        cursor.execute("INSERT INTO writes (value) VALUES (%s)", [value])
                        cursor.execute("UPDATE counter SET total = total + 1")
                else:
                    in_transaction(database, insert(value))
        except BaseException as error:
            errors.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_writers_in_threads_wait_for_their_turn_not_for_sqlite(database_path):
    errors = write_in_threads(database_path, first=0)

    assert errors == []
    assert counts(database_path) == (THREADS * WRITES, THREADS * WRITES)


def test_django_s_own_backend_fails_the_same_writers_at_once(database_path, monkeypatch):
    """The check above can fail: without the queue, SQLite refuses at once."""
    from django.db.backends.sqlite3 import base

    monkeypatch.setattr(
        "tests.api.test_sqlite_writers.open_database",
        lambda settings: base.DatabaseWrapper(settings),
    )

    errors = write_in_threads(database_path, first=0)

    assert errors
    assert all("database is locked" in str(error) for error in errors)


def _process_writes(path: str, first: int) -> None:
    errors = write_in_threads(Path(path), first)
    if errors:
        raise SystemExit(f"{len(errors)} writers failed: {errors[0]!r}")


def test_writers_in_processes_take_turns(database_path):
    # This process queues first, so the children are forked holding its
    # queue's open lock file: each must open its own, or flock lets all in.
    errors = write_in_threads(database_path, first=0)
    assert errors == []
    fork = multiprocessing.get_context("fork")
    processes = [
        fork.Process(target=_process_writes, args=(str(database_path), (n + 1) * 10_000))
        for n in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)

    assert [process.exitcode for process in processes] == [0, 0]
    assert counts(database_path) == (3 * THREADS * WRITES, 3 * THREADS * WRITES)


def test_a_writer_waits_no_longer_than_the_timeout(database_path):
    waiter = open_database(settings_for(database_path, timeout=0.3))
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        holder = open_database(settings_for(database_path))

        def statements(cursor: Any) -> None:
            cursor.execute("INSERT INTO writes (value) VALUES (1)")
            holding.set()
            done.wait(10)

        in_transaction(holder, statements)
        holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        began = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            in_transaction(waiter, insert(2))
        waited = time.monotonic() - began
        with (
            pytest.raises(OperationalError, match="database is locked"),
            waiter.cursor() as cursor,
        ):
            cursor.execute("INSERT INTO writes (value) VALUES (3)")
    finally:
        done.set()
        thread.join()

    assert 0.3 <= waited < 5
    # Once the holder has committed, the waiter's connection writes again.
    in_transaction(waiter, insert(4))
    waiter.close()
    assert counts(database_path) == (2, 1)


def test_a_failed_transaction_gives_its_turn_back(database_path):
    first = open_database(settings_for(database_path, timeout=0.3))
    second = open_database(settings_for(database_path, timeout=0.3))

    def fail(cursor: Any) -> None:
        cursor.execute("INSERT INTO writes (value) VALUES (1)")
        raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError):
        in_transaction(first, fail)
    in_transaction(second, insert(2))

    assert not first.holds_writer_turn
    first.close()
    second.close()
    assert counts(database_path) == (1, 1)


def test_a_connection_closed_in_a_transaction_gives_its_turn_back(database_path):
    first = open_database(settings_for(database_path, timeout=0.3))
    second = open_database(settings_for(database_path, timeout=0.3))
    first.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    assert first.holds_writer_turn

    first.close()
    in_transaction(second, insert(1))

    second.close()
    assert counts(database_path) == (1, 1)


def test_a_begin_that_sqlite_refuses_gives_its_turn_back(database_path):
    database = open_database(settings_for(database_path, timeout=0.3))
    with closing(sqlite3.connect(database_path, isolation_level=None)) as other_program:
        other_program.execute("BEGIN IMMEDIATE")  # not through the queue
        with pytest.raises(OperationalError, match="database is locked"):
            in_transaction(database, insert(1))
        other_program.execute("ROLLBACK")

    assert not database.holds_writer_turn
    in_transaction(database, insert(2))
    database.close()
    assert counts(database_path) == (1, 1)


def test_a_statement_returning_rows_keeps_the_turn_until_they_are_read(database_path):
    """SQLite commits such a statement, outside a transaction, once its rows
    are read: another writer must not be let in before."""
    first = open_database(settings_for(database_path))
    cursor = first.cursor()
    cursor.execute("INSERT INTO writes (value) VALUES (%s) RETURNING value", [1])
    wrote: list[BaseException | None] = []

    def write() -> None:
        second = open_database(settings_for(database_path))
        try:
            in_transaction(second, insert(2))
            wrote.append(None)
        except BaseException as error:
            wrote.append(error)
        finally:
            second.close()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    waited = not wrote
    assert cursor.fetchall() == [(1,)]
    cursor.close()
    thread.join(10)
    first.close()

    assert waited
    assert wrote == [None]
    assert counts(database_path) == (2, 1)
