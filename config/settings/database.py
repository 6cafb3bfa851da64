"""The database and its connections, and the cache."""

from config.settings.environment import BASE_DIR, DEBUG, env, refuse_to_start

# --- Database ---------------------------------------------------------------

# An empty DATABASE_URL counts as unset: the SQLite file.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# The health check replaces a connection the database has dropped.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
# PostgreSQL: a pool per server process. A server holds hundreds of threads
# (each waiting seconds on the AI); a connection each would exhaust the
# database's max_connections, so threads borrow one for their queries and give
# it back while the model is thinking. DATABASE_POOL_MAX_SIZE=0 turns the pool
# off for persistent connections, one per thread, kept DATABASE_CONN_MAX_AGE.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": env.int("DATABASE_POOL_TIMEOUT_SECONDS", default=30),
    }
else:
    # Persistent connections (one per server thread) save a connect per request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with a queue for writers: SQLite's own wait sleeps
    # up to 100 ms between tries (api/sqlite/writers.py).
    DATABASES["default"]["ENGINE"] = "api.sqlite"
    # The tests' database in memory, as Django has it for SQLite; said
    # outright, for pytest-django knows SQLite only by Django's ENGINE name.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", ":memory:")
    # Concurrent writers wait for each other instead of failing with
    # "database is locked": WAL lets readers run beside the writer, and
    # BEGIN IMMEDIATE takes the write lock up front, so the busy timeout
    # applies (a deferred transaction that upgrades to a write cannot wait).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------

# The rate limits live in the cache, so every server process must see the
# same one:
# - REDIS_URL: one Redis shared by every process and machine;
# - otherwise, with DEBUG off: a table in the database (created by
#   `manage.py createcachetable`), shared by every process;
# - with DEBUG on (`make run`, one process): each process's own memory.
REDIS_URL = env.str("REDIS_URL", default="")
# The longest wait for Redis to connect or answer: past it the request goes
# on without the cache, or gets 503 where it cannot (docs/deployment.md).
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)
if REDIS_TIMEOUT_SECONDS <= 0:
    refuse_to_start("REDIS_TIMEOUT_SECONDS must be more than 0.")
CACHE_TABLE = "django_cache"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
elif not DEBUG:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
