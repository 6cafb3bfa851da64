"""Counting requests in fixed windows, atomically, where every server process
sees the count.

A window opens with the first request counted against a limit and lasts the
limit's period; every request adds one with a single atomic step, and the
throttle compares the count it gets back with the limit. Parallel requests
each get a count of their own, so exactly `limit` of them pass whatever the
timing. (DRF's own throttle reads a history, then writes it back: requests in
between all read the same history and all pass.)

Where the count lives follows the cache:

- Redis (REDIS_URL), or the in-process cache of `make run` and the tests:
  `add` (SET NX with the window's expiry) then `incr` (INCR);
- the database cache (production without REDIS_URL): its `incr` is a read
  then a write, so the counts live in a table of their own (RateWindow),
  counted by one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`.

A fixed window lets a client that spends its whole budget at the end of one
window spend it again at the start of the next: at most twice the limit in
one period, never more.
"""

import random
import time

from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection

from api.models import RateWindow

# One hit in this many also deletes the windows that have ended.
_PURGE_ONE_IN = 200


def window_hit(bucket: str, period: int) -> int:
    """Count one request in the bucket's current window; the count, this one included."""
    if isinstance(caches["default"], DatabaseCache):
        return _table_hit(bucket, period)
    return _cache_hit(bucket, period)


def window_resets_in(bucket: str, period: int) -> float:
    """Seconds until the bucket's current window ends (at most `period`)."""
    now = time.time()
    if isinstance(caches["default"], DatabaseCache):
        expires_at = (
            RateWindow.objects.filter(bucket=bucket).values_list("expires_at", flat=True).first()
        )
    else:
        started = cache.get(_start_key(bucket))
        expires_at = None if started is None else started + period
    if expires_at is None:
        return float(period)
    return min(float(period), max(0.0, expires_at - now))


def _cache_hit(bucket: str, period: int) -> int:
    for _attempt in range(3):
        if cache.add(bucket, 0, timeout=period):
            cache.set(_start_key(bucket), time.time(), timeout=period)
        try:
            count = int(cache.incr(bucket))
        except ValueError:
            # The window ended between add and incr: open the next one.
            continue
        if count == 1:
            # If the window ended between Django's existence check and
            # Redis's INCR, INCR made a key without expiry; give it one.
            cache.touch(bucket, timeout=period)
        return count
    raise RuntimeError(
        "The cache keeps no counts (a dummy cache?): rate limits need one that does."
    )


def _start_key(bucket: str) -> str:
    return f"{bucket}:start"


def _table_hit(bucket: str, period: int) -> int:
    now = time.time()
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    with connection.cursor() as cursor:
        # One statement: the row is locked from the conflict to the update,
        # so concurrent requests are counted one after the other.
        cursor.execute(
            f"""
            INSERT INTO {table} (bucket, count, expires_at) VALUES (%s, 1, %s)
            ON CONFLICT (bucket) DO UPDATE SET
                count = CASE WHEN {table}.expires_at <= %s THEN 1
                             ELSE {table}.count + 1 END,
                expires_at = CASE WHEN {table}.expires_at <= %s THEN excluded.expires_at
                                  ELSE {table}.expires_at END
            RETURNING count
            """,  # noqa: S608 (the table name is ours; values are parameters)
            [bucket, now + period, now, now],
        )
        row = cursor.fetchone()
    if random.randrange(_PURGE_ONE_IN) == 0:  # noqa: S311 (not for security)
        RateWindow.objects.filter(expires_at__lt=now).delete()
    return int(row[0])
