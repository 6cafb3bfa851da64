"""Database connections while a chat waits on its model."""

from django.db import connection


def connection_release(*, remote: bool) -> None:
    """Give a pooled connection back to the pool while a remote model thinks.

    A few connections then serve hundreds of waiting requests. Persistent
    connections (SQLite, or no pool) stay with their thread, and so does one
    whose model answers at once (`remote` False, echo): borrowing it again
    would cost more.
    """
    pooled = getattr(connection, "pool", None) and not connection.in_atomic_block
    if pooled and remote:
        connection.close()
