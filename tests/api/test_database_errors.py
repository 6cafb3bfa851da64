"""Which database errors mean "away for now" (503) and which are bugs (500):
api.exceptions.database_unavailable, judged on errors the real drivers raise."""

import os
import socket
import sqlite3
from contextlib import closing

import psycopg
import pytest
from django.db import DatabaseError
from django.db.utils import DatabaseErrorWrapper

from api.exceptions import database_unavailable
from api.sqlite.writers import WriterQueue
from tests.postgres_available import answers, server_url

# The PostgreSQL server, whichever leg of the suite this is (as `make test`).
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/chat_api")


class _Driver:
    """What DatabaseErrorWrapper needs to turn a driver's error into Django's."""

    def __init__(self, module: object) -> None:
        self.Database = module


def django_error(module: object, error: Exception) -> DatabaseError:
    """`error` as Django raises it: its own class of the same name, from the driver's."""
    try:
        with DatabaseErrorWrapper(_Driver(module)):
            raise error
    except DatabaseError as wrapped:
        return wrapped
    raise AssertionError("not wrapped")


def sqlite_error(sql: str) -> DatabaseError:
    with closing(sqlite3.connect(":memory:")) as database:
        try:
            database.execute(sql)
        except sqlite3.Error as error:
            return django_error(sqlite3, error)
    raise AssertionError(f"{sql!r} did not fail")


def test_sqlite_locked_is_unavailable(tmp_path):
    path = tmp_path / "db.sqlite3"
    with (
        closing(sqlite3.connect(path, isolation_level=None)) as holder,
        closing(sqlite3.connect(path, timeout=0)) as other,
    ):
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("BEGIN IMMEDIATE")

    assert database_unavailable(django_error(sqlite3, locked.value))


def test_the_writers_queue_timing_out_is_unavailable(tmp_path):
    queue, other = WriterQueue(tmp_path / "db.sqlite3"), WriterQueue(tmp_path / "db.sqlite3")
    queue.acquire(1)
    try:
        with pytest.raises(DatabaseError) as timed_out:
            other.acquire(0.05)
    finally:
        queue.release()

    assert database_unavailable(timed_out.value)


def test_sqlite_unable_to_open_is_unavailable(tmp_path):
    with pytest.raises(sqlite3.OperationalError) as error:
        sqlite3.connect(tmp_path / "missing" / "db.sqlite3")

    assert database_unavailable(django_error(sqlite3, error.value))


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM no_such_table", "SELEKT 1", "CREATE TABLE t (a); CREATE TABLE t (a)"],
)
def test_sqlite_bugs_are_not(sql):
    assert not database_unavailable(sqlite_error(sql))


def test_postgres_unreachable_is_unavailable():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(psycopg.OperationalError) as error:
        psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", connect_timeout=3)

    assert database_unavailable(django_error(psycopg, error.value))


def test_postgres_statement_timeout_is_not():
    if not answers(POSTGRES_URL):
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    with psycopg.connect(server_url(POSTGRES_URL)) as database:
        database.execute("SET statement_timeout = 1")
        with pytest.raises(psycopg.OperationalError) as error:
            database.execute("SELECT pg_sleep(1)")

    assert error.value.sqlstate == "57014"  # query_canceled: an operational error, ours
    assert not database_unavailable(django_error(psycopg, error.value))
