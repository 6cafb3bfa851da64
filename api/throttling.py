"""Rate limits, kept in Django's cache (one Redis shared by every server process
when REDIS_URL is set).

Rates come from DEFAULT_THROTTLE_RATES (THROTTLE_* in the environment) and
are read on every request, so a settings override in a test takes effect.
A client's address is the socket's unless NUM_PROXIES says how many proxies
in front of us append to X-Forwarded-For; nothing a client sends can change
which bucket it counts against.

A throttle says only whom a request counts against (`identity`); how that
becomes a cache key is decided here, once.
"""

import hashlib

import structlog
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from api import metrics

logger = structlog.get_logger(__name__)


class RateThrottle(SimpleRateThrottle):
    """A throttle whose rate is looked up by its scope when it is used."""

    def __init__(self) -> None:
        # DRF reads the rate here, from a copy of the settings taken at import.
        self.rate = str(api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)])
        super().__init__()

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
