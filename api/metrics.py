"""Prometheus metrics: what they are, and `/metrics`, where they are read.

Under gunicorn every worker process counts in files of its own, in
PROMETHEUS_MULTIPROC_DIR (config/gunicorn.py sets it up), and a scrape, which
any one worker answers, adds up the files of all of them: prometheus-client's
multiprocess mode. Without it (`make run`, the tests' own process) the
metrics live in the process.

`/metrics` answers only to `Authorization: Bearer <METRICS_TOKEN>`; without
METRICS_TOKEN it does not exist (404). docs/operations.md lists every metric
with its meaning and what to alert on.
"""

import asyncio
import hmac
import os

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

NAMESPACE = "chat_api"
# Seconds, for replies that may take up to AI_TIMEOUT_SECONDS (60 by default).
PROVIDER_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)
FIRST_PIECE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
# How often each worker samples its database pool.
POOL_SAMPLE_SECONDS = 5.0

# --- HTTP (api.middleware) ---------------------------------------------------

HTTP_REQUESTS = Counter(
    "http_requests",
    "Requests answered, by URL route, method and status.",
    ["route", "method", "status"],
    namespace=NAMESPACE,
)
HTTP_REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request (for a stream: to its headers), by URL route and method.",
    ["route", "method"],
    namespace=NAMESPACE,
)

# --- Chats (conversations.services) --------------------------------------------

CHATS = Counter(
    "chats",
    "Chats by how they ended: completed, incomplete (the client left a stream "
    "midway; charged), refunded, insufficient_tokens (402, never charged).",
    ["outcome"],
    namespace=NAMESPACE,
)
REFUNDS = Counter(
    "chat_refunds",
    "Refunded chats by reason: provider_error, provider_timeout, client_left, "
    "reservation_expired, other.",
    ["reason"],
    namespace=NAMESPACE,
)
STREAMS_IN_FLIGHT = Gauge(
    "streams_in_flight",
    "Streamed chats being sent right now, over all worker processes.",
    multiprocess_mode="livesum",
    namespace=NAMESPACE,
)

# --- Tokens (users.ledger) -----------------------------------------------------

TOKENS_CHARGED = Counter("tokens_charged", "Tokens charged for chats.", namespace=NAMESPACE)
TOKENS_REFUNDED = Counter(
    "tokens_refunded",
    "Tokens given back: chats that failed, reservations' unused part.",
    namespace=NAMESPACE,
)
TOKENS_GRANTED = Counter(
    "tokens_granted",
    "Tokens given to accounts, by kind: signup_grant, admin_adjustment.",
    ["kind"],
    namespace=NAMESPACE,
)
TOKENS_REMOVED = Counter(
    "tokens_removed",
    "Tokens taken from accounts other than by chats, by kind: admin_adjustment.",
    ["kind"],
    namespace=NAMESPACE,
)

# --- The AI provider (conversations.services.chat) ------------------------------

PROVIDER_SECONDS = Histogram(
    "provider_request_duration_seconds",
    "Time the model took for a whole reply, by provider and outcome: ok, "
    "provider_error, provider_timeout, cancelled (the client left).",
    ["provider", "outcome"],
    buckets=PROVIDER_BUCKETS,
    namespace=NAMESPACE,
)
PROVIDER_FIRST_PIECE_SECONDS = Histogram(
    "provider_first_piece_seconds",
    "Streamed chats: time from asking the model to its first piece of text.",
    ["provider"],
    buckets=FIRST_PIECE_BUCKETS,
    namespace=NAMESPACE,
)
PROVIDER_ERRORS = Counter(
    "provider_errors",
    "Failed calls to the model, by provider and code: provider_error, provider_timeout.",
    ["provider", "code"],
    namespace=NAMESPACE,
)

# --- Rate limits (api.throttling) ---------------------------------------------

THROTTLED = Counter(
    "throttled_requests",
    "Requests refused by a rate limit (429), by its scope.",
    ["scope"],
    namespace=NAMESPACE,
)
THROTTLE_SKIPPED = Counter(
    "throttle_skipped",
    "Requests let through unthrottled because the cache could not be reached, by scope.",
    ["scope"],
    namespace=NAMESPACE,
)

# --- The database pool -----------------------------------------------------------

DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "PostgreSQL pool connections lent out, over all worker processes (sampled "
    f"every {POOL_SAMPLE_SECONDS:g} s).",
    multiprocess_mode="livesum",
    namespace=NAMESPACE,
)
DB_POOL_WAITING = Gauge(
    "db_pool_requests_waiting",
    "Requests waiting for a pool connection, over all worker processes (sampled).",
    multiprocess_mode="livesum",
    namespace=NAMESPACE,
)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus's text format, for METRICS_TOKEN's bearer only."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponseNotFound()
    given = request.META.get("HTTP_AUTHORIZATION", "")
    expected = f"Bearer {token}"
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def database_pool_sample() -> None:
    """Record this process's share of the database pool (PostgreSQL with a pool)."""
    pool = getattr(connections[DEFAULT_ALIAS], "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    DB_POOL_IN_USE.set(stats.get("pool_size", 0) - stats.get("pool_available", 0))
    DB_POOL_WAITING.set(stats.get("requests_waiting", 0))


async def database_pool_sampling() -> None:
    """Sample the pool every POOL_SAMPLE_SECONDS, for the life of the server's loop."""
    while True:
        database_pool_sample()
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


DEFAULT_ALIAS = "default"
