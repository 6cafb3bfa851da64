"""One writer at a time on a SQLite database, handed over at once.

SQLite lets one connection write at a time. A connection that finds the
write lock taken waits in SQLite's busy handler, which sleeps 1, 2, 5, 10 ...
up to 100 ms between tries: the lock is freed in a millisecond, but the
writers waiting for it are asleep. With a server's threads and processes
all writing (a chat writes its rate limit's count without Redis, its
reservation and its settlement), the database
sat idle most of the time its writers waited (docs/performance.md).

So writers queue before they ask SQLite: on a lock of their process, then,
one per process, on an advisory lock (flock) on a file beside the
database's. Each is passed on as soon as it is freed. SQLite's own lock
still guards the data, and a writer that does not queue (the sqlite3 shell,
another program) is waited for as before: the queue only decides who asks
next, so it can make a writer wait but never lets two write at once.

The wait for the queue is bounded by the connection's busy timeout, after
which it fails as SQLite's own wait does: OperationalError, "database is
locked".
"""

import fcntl
import os
import threading
import time
from pathlib import Path

from django.db import OperationalError

# The longest pause between two tries for another process's turn: the
# handover is at most this late (SQLite's own pause grows to 100 ms).
_MAX_PAUSE_SECONDS = 0.001
_FIRST_PAUSE_SECONDS = 0.00005


class WriterQueue:
    """The queue of one process's writers to one database file (`path`, or
    None for an in-memory database, which only this process sees)."""

    def __init__(self, path: Path | None) -> None:
        self._turn = threading.Lock()
        # Opened by the process that uses it: a file opened before a fork
        # would be shared with the children, and flock would let them all in.
        self._file = (
            None if path is None else os.open(_lock_path(path), os.O_RDONLY | os.O_CREAT, 0o644)
        )

    def acquire(self, timeout: float) -> None:
        """Wait for this process's turn, then for the database's.

        OperationalError after `timeout` seconds, as SQLite's own wait fails."""
        deadline = time.monotonic() + timeout
        if not self._turn.acquire(timeout=max(timeout, 0)):
            raise OperationalError("database is locked")
        if self._file is None:
            return
        try:
            _database_turn(self._file, deadline)
        except BaseException:
            self._turn.release()
            raise

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._turn.release()


def writer_queue(name: str, *, in_memory: bool) -> WriterQueue:
    """This process's queue for the database `name` (a file's path, or an
    in-memory database's name)."""
    key = (os.getpid(), name)
    queue = _queues.get(key)
    if queue is None:
        with _queues_lock:
            if key not in _queues:
                _queues[key] = WriterQueue(None if in_memory else Path(name).resolve())
            queue = _queues[key]
    return queue


def _database_turn(file: int, deadline: float) -> None:
    """The lock on `file`, waited for in short pauses (a blocking flock could
    not give up at the deadline)."""
    pause = _FIRST_PAUSE_SECONDS
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError("database is locked") from None
            time.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE_SECONDS)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + "-writers")


_queues: dict[tuple[int, str], WriterQueue] = {}
_queues_lock = threading.Lock()
