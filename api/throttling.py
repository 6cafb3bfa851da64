"""Rate limits, counted where every server process sees the count (api.rate_windows:
Redis with REDIS_URL, else the database in production).

Rates come from DEFAULT_THROTTLE_RATES (THROTTLE_* in the environment) and
are read on every request, so a settings override in a test takes effect.
A client's address is the socket's unless NUM_PROXIES says how many proxies
in front of us append to X-Forwarded-For; nothing a client sends can change
which bucket it counts against.

A throttle says only whom a request counts against (`identity`); how that
becomes a bucket is decided here, once.

When the counts cannot be reached (Redis down), a throttle either refuses
the request, 503 `service_unavailable` with Retry-After (the default: the
log-in limits are what stands between an attacker and password guessing), or,
with `skip_when_cache_fails`, lets it through and says so in the log
(`throttle_skipped_cache_unavailable`).
"""

import hashlib

import structlog
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from api import metrics
from api.cache import CACHE_FAILURES
from api.exceptions import ServiceUnavailable
from api.rate_windows import window_hit, window_resets_in

logger = structlog.get_logger(__name__)


def throttle_skipped_cache_unavailable(scope: str) -> None:
    """A request passed its `scope` limit unchecked because the cache is unavailable."""
    metrics.THROTTLE_SKIPPED.labels(scope).inc()
    logger.warning("throttle.skipped", scope=scope, reason="cache_unavailable")


class RateThrottle(SimpleRateThrottle):
    """A throttle whose rate is looked up by its scope when it is used, counted
    atomically in a fixed window (api.rate_windows)."""

    # True: while the cache is unreachable, requests pass unchecked (logged);
    # False: they get 503 service_unavailable.
    skip_when_cache_fails = False
    # Not DRF's "throttle_%(scope)s_%(ident)s": those keys hold DRF's request
    # histories, which a counter cannot count on (servers of the previous
    # release may still write them during a deploy).
    cache_format = "rate:%(scope)s:%(ident)s"

    def __init__(self) -> None:
        # DRF reads the rate here, from a copy of the settings taken at import.
        self.rate = str(api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)])
        super().__init__()
        self.retry_after: float | None = None

    def identity(self, request: Request) -> str | None:
        """Whom the request counts against; None: it is not throttled here."""
        raise NotImplementedError

    def throttle_failure(self) -> bool:
        # Counted and logged by scope only: whom it counts against is a
        # client's address or a username, which a log line has no need of.
        metrics.THROTTLED.labels(self.scope).inc()
        logger.info("throttled", scope=self.scope)
        return False

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        ident = self.identity(request)
        if ident is None:
            return None
        # Hashed: the cache key stays short and printable whatever was sent.
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}

    def allow_request(self, request: Request, view: APIView) -> bool:
        bucket = self.get_cache_key(request, view)
        if bucket is None:
            return True
        limit, period = self.parse_rate(self.rate)
        if limit is None or period is None:
            return True
        try:
            if window_hit(bucket, period) <= limit:
                return True
            self.retry_after = window_resets_in(bucket, period)
        except CACHE_FAILURES as error:
            if not self.skip_when_cache_fails:
                logger.warning(
                    "throttle.unavailable",
                    scope=self.scope,
                    error=type(error).__name__,
                    outcome="refused",
                )
                raise ServiceUnavailable from None
            throttle_skipped_cache_unavailable(str(self.scope))
            return True
        return self.throttle_failure()

    def wait(self) -> float | None:
        # Retry-After is whole seconds, and 0 would say "now".
        return None if self.retry_after is None else max(1.0, self.retry_after)

    def get_ident(self, request: Request) -> str:
        # DRF trusts the whole X-Forwarded-For header when NUM_PROXIES is
        # None, which lets a client pick its own address; never do that.
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return str(super().get_ident(request))


class AddressRateThrottle(RateThrottle):
    """Counts requests from one client address."""

    def identity(self, request: Request) -> str:
        return self.get_ident(request)


class UserRateThrottle(RateThrottle):
    """Counts requests by one authenticated user."""

    def identity(self, request: Request) -> str | None:
        if request.user is None:
            return None
        return f"user:{request.user.pk}"
