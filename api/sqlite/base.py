"""The SQLite backend whose writers queue (api.sqlite.writers).

A connection holds its process's turn from BEGIN to COMMIT or ROLLBACK
(every `atomic` block: BEGIN IMMEDIATE takes SQLite's write lock up front),
and, outside a transaction, for one statement that writes.
"""

import os
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base

from api.sqlite.writers import WriterQueue, writer_queue

# What a statement that changes the database starts with.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
# sqlite3's own default busy timeout, when OPTIONS gives none.
_DEFAULT_TIMEOUT_SECONDS = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_writer_turn = False
        self._writers: tuple[tuple[int, str], WriterQueue] | None = None

    @property
    def writers(self) -> WriterQueue:
        # This process's (the server forks its workers) for this database
        # (the tests' differs from the one named in settings).
        key = (os.getpid(), str(self.settings_dict["NAME"]))
        if self._writers is None or self._writers[0] != key:
            path = None if self.is_in_memory_db() else Path(key[1]).resolve()
            self._writers = (key, writer_queue(path))
        return self._writers[1]

    def writer_turn_take(self) -> None:
        if not self.holds_writer_turn:
            timeout = self.settings_dict["OPTIONS"].get("timeout", _DEFAULT_TIMEOUT_SECONDS)
            self.writers.acquire(float(timeout))
            self.holds_writer_turn = True

    def writer_turn_give(self) -> None:
        if self.holds_writer_turn:
            self.holds_writer_turn = False
            self.writers.release()

    def create_cursor(self, name: str | None = None) -> "QueuedCursor":
        cursor: QueuedCursor = self.connection.cursor(factory=QueuedCursor)
        cursor.wrapper = self
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        self.writer_turn_take()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in django-stubs
        except BaseException:
            self.writer_turn_give()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # not in django-stubs
        finally:
            # Even when COMMIT failed: SQLite's lock still guards the open
            # transaction, which Django rolls back next.
            self.writer_turn_give()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # not in django-stubs
        finally:
            self.writer_turn_give()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # not in django-stubs
        finally:
            self.writer_turn_give()


class QueuedCursor(base.SQLiteCursorWrapper):
    """A statement that writes outside a transaction waits for its turn too."""

    wrapper: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if not self._queues(query):
            return super().execute(query, params)
        self.wrapper.writer_turn_take()
        try:
            return super().execute(query, params)
        finally:
            self.wrapper.writer_turn_give()

    def executemany(self, query: str, param_list: Any) -> Any:
        if not self._queues(query):
            return super().executemany(query, param_list)
        self.wrapper.writer_turn_take()
        try:
            return super().executemany(query, param_list)
        finally:
            self.wrapper.writer_turn_give()

    def _queues(self, query: str) -> bool:
        return (
            not self.wrapper.holds_writer_turn
            and not self.connection.in_transaction
            and query.lstrip()[:7].upper().startswith(_WRITES)
        )
