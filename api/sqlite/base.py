"""The SQLite backend whose writers queue (api.sqlite.writers).

A connection holds its process's turn from BEGIN to COMMIT or ROLLBACK
(every `atomic` block: BEGIN IMMEDIATE takes SQLite's write lock up front),
and, outside a transaction, for one statement that writes, until its cursor
is closed: a statement that returns rows (INSERT ... RETURNING) holds
SQLite's lock until they have been read.
"""

from collections.abc import Callable
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
        # The queue whose turn this connection holds, if it holds one, and
        # which of its turns that is.
        self._turn: WriterQueue | None = None
        self._turns = 0

    @property
    def holds_writer_turn(self) -> bool:
        return self._turn is not None

    def writer_turn_take(self) -> int:
        """Take a turn, unless this connection holds one; which turn it holds."""
        if self._turn is None:
            timeout = self.settings_dict["OPTIONS"].get("timeout", _DEFAULT_TIMEOUT_SECONDS)
            name = str(self.settings_dict["NAME"])
            queue = writer_queue(name, in_memory=self.is_in_memory_db())
            queue.acquire(float(timeout))
            self._turn = queue
            self._turns += 1
        return self._turns

    def writer_turn_give(self, turn: int | None = None) -> None:
        """Give the turn back (only if it is still `turn`, when given)."""
        if turn is not None and turn != self._turns:
            return
        # The queue it was taken from, whatever happened since (a fork, the
        # tests' database replacing the one named in settings).
        queue, self._turn = self._turn, None
        if queue is not None:
            queue.release()

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
    # The connection's turn this cursor took, while it holds it.
    _turn: int | None = None

    def execute(self, query: str, params: Any = None) -> Any:
        return self._queued(super().execute, query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        return self._queued(super().executemany, query, param_list)

    def _queued(self, run: Callable[[str, Any], Any], query: str, arguments: Any) -> Any:
        if not self._queues(query):
            return run(query, arguments)
        self._take_turn()
        try:
            result = run(query, arguments)
        except BaseException:
            self._give_turn()
            raise
        self._statement_run()
        return result

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_turn()

    def _queues(self, query: str) -> bool:
        return (
            not self.wrapper.holds_writer_turn
            and not self.connection.in_transaction
            and query.lstrip()[:7].upper().startswith(_WRITES)
        )

    def _take_turn(self) -> None:
        self._turn = self.wrapper.writer_turn_take()

    def _statement_run(self) -> None:
        # Without rows to read, the statement has run to its end and
        # committed; with them (RETURNING), it ends when they are read, which
        # Django does before it closes the cursor.
        if self.description is None:
            self._give_turn()

    def _give_turn(self) -> None:
        # Not a later turn of the connection's (a transaction begun since).
        if self._turn is not None:
            turn, self._turn = self._turn, None
            self.wrapper.writer_turn_give(turn)
