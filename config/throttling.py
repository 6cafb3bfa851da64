"""Rate limits, kept in Django's cache (one Redis shared by every server process
when REDIS_URL is set).

Rates come from DEFAULT_THROTTLE_RATES (THROTTLE_* in the environment) and
are read on every request, so a settings override in a test takes effect.
A client's address is the socket's unless NUM_PROXIES says how many proxies
in front of us append to X-Forwarded-For; nothing a client sends can change
which bucket it counts against.
"""

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from users.models import username_key


class RateThrottle(SimpleRateThrottle):
    """A throttle whose rate is looked up when it is used, by its scope."""

    def __init__(self) -> None:
        # DRF reads the rate here, from a copy of the settings taken at import.
        self.rate = str(api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)])
        super().__init__()

    def get_ident(self, request: Request) -> str:
        # DRF trusts the whole X-Forwarded-For header when NUM_PROXIES is
        # None, which lets a client pick its own address; never do that.
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return str(super().get_ident(request))

    def _cache_key(self, ident: str) -> str:
        # Hashed: the cache key stays short and printable whatever was sent.
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class LoginIPThrottle(RateThrottle):
    """Log-in attempts from one address (THROTTLE_LOGIN_IP)."""

    scope = "login_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self._cache_key(self.get_ident(request))


class LoginUsernameThrottle(RateThrottle):
    """Log-in attempts at one account from anywhere (THROTTLE_LOGIN_USERNAME).

    Keyed on the name as log-in matches it (NFKC, case-folded), so `Edward`
    and `EDWARD` share a budget, as they share an account.
    """

    scope = "login_username"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        data: Any = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str):
            # The serializer refuses the request; nothing to guess with.
            return None
        return self._cache_key(f"name:{username_key(username)}")


class PasswordChangeThrottle(RateThrottle):
    """Password changes by one account: guessing its current password with a
    stolen access token counts like guessing it at log-in
    (THROTTLE_LOGIN_USERNAME)."""

    scope = "login_username"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user is None:
            return None
        return self._cache_key(f"user:{request.user.pk}")


class RegisterThrottle(RateThrottle):
    """Registrations from one address (THROTTLE_REGISTER): each is a signup grant."""

    scope = "register"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self._cache_key(self.get_ident(request))


class ChatThrottle(RateThrottle):
    """Chat messages by one user (THROTTLE_CHAT)."""

    scope = "chat"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user is None:
            return None
        return self._cache_key(f"user:{request.user.pk}")
