"""The fuzzed server's database, read and set up behind the API's back."""

import sqlite3

import psycopg


def query(database_url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement (placeholders written %s) and return its rows, committed."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            return connection.execute(sql.replace("%s", "?"), params).fetchall()
    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []
