"""What the shared cache raises when it cannot be reached.

Redis's errors, the database cache's (DatabaseError), and sockets'. Code that
can go on without the cache catches these; code that must not (the log-in
limits) turns them into 503 `service_unavailable`.
"""

from django.db import DatabaseError
from redis.exceptions import RedisError

CACHE_FAILURES = (RedisError, DatabaseError, OSError)
