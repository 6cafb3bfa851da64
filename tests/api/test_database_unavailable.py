"""A database that cannot be reached or used gets 503 `service_unavailable`
with Retry-After (api/exceptions.py), not 500, and nothing changes.

Against a real server and a real database made unusable: on SQLite, another
program holding the write lock longer than the server's busy timeout; on
PostgreSQL, the database refusing connections and the server's dropped.
"""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings

from tests.factories import DEFAULT_PASSWORD
from tests.server import HTTPResult, LiveServer, live_server

ENV = {"SQLITE_BUSY_TIMEOUT_SECONDS": "1", "DATABASE_POOL_TIMEOUT_SECONDS": "2"}


@contextmanager
def database_unusable(database_url: str) -> Iterator[None]:
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(urlsplit(database_url).path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # the write lock, held by another program
            try:
                yield
            finally:
                other.execute("ROLLBACK")
        return
    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [name],
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def assert_unavailable(result: HTTPResult) -> None:
    assert result.status == HTTPStatus.SERVICE_UNAVAILABLE, result
    assert [error["code"] for error in result.body["errors"]] == ["service_unavailable"]
    assert result.headers["Retry-After"] == "5"


def requests_until_answered(server: LiveServer, token: str) -> int:
    """Once the database is back, how many requests until one is answered: on
    PostgreSQL a pooled connection that the database dropped fails its first
    query (503) and is discarded."""
    for attempt in range(1, 21):
        if server.request("GET", "/api/v1/balance/", token=token).status == HTTPStatus.OK:
            return attempt
        time.sleep(0.25)
    return attempt


def balance_and_ledger(server: LiveServer, token: str) -> tuple[int, int]:
    balance = server.request("GET", "/api/v1/balance/", token=token).body["tokens"]
    return balance, len(server.all_pages("/api/v1/transactions/", token))


@pytest.mark.live_server_process
def test_a_chat_the_database_cannot_take_gets_503_and_changes_nothing(tmp_path: Path) -> None:
    with live_server(tmp_path, workers=1, threads=2, env=ENV) as server:
        token = server.login("edward", DEFAULT_PASSWORD)
        with database_unusable(server.database_url):
            chat = server.request("POST", "/api/v1/chat/", {"message": "Hello"}, token=token)
            streamed = server.request(
                "POST", "/api/v1/chat/", {"message": "Hello", "stream": True}, token=token
            )
        back_after = requests_until_answered(server, token)
        after = balance_and_ledger(server, token)
        # Once the database is back, so is the service.
        again = server.request("POST", "/api/v1/chat/", {"message": "Hello"}, token=token)

    assert_unavailable(chat)
    assert_unavailable(streamed)
    assert after == (settings.SIGNUP_TOKENS, 1)
    assert back_after <= 3
    assert again.status == HTTPStatus.CREATED


@pytest.mark.live_server_process
def test_reads_answer_as_the_database_does(tmp_path: Path) -> None:
    with live_server(tmp_path, workers=1, threads=2, env=ENV) as server:
        token = server.login("edward", DEFAULT_PASSWORD)
        key = server.request("POST", "/api/v1/keys/", {"name": "k"}, token).body["key"]
        # Used once: its last use is recorded now, not during the outage.
        assert server.request("GET", "/v1/models", token=key).status == HTTPStatus.OK
        with database_unusable(server.database_url):
            balance = server.request("GET", "/api/v1/balance/", token=token)
            models = server.request("GET", "/v1/models", token=key)

    if server.database_url.startswith("sqlite"):
        # WAL: readers go on beside a writer that holds the lock.
        assert balance.status == HTTPStatus.OK
        assert balance.body["tokens"] == settings.SIGNUP_TOKENS
        assert models.status == HTTPStatus.OK
    else:
        assert_unavailable(balance)
        # The OpenAI-compatible endpoints say it in OpenAI's error format.
        assert models.status == HTTPStatus.SERVICE_UNAVAILABLE
        assert models.body["error"]["type"] == "server_error"
        assert models.headers["Retry-After"] == "5"
