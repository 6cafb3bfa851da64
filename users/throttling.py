"""The accounts' rate limits: log-in, registration and password changes."""

import math
from typing import Any

from django.http import HttpRequest
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.views import APIView

from api.throttling import AddressRateThrottle, RateThrottle, UserRateThrottle
from users.usernames import username_key


class LoginIPThrottle(AddressRateThrottle):
    """Log-in attempts from one address (THROTTLE_LOGIN_IP)."""

    scope = "login_ip"


class LoginUsernameThrottle(RateThrottle):
    """Log-in attempts at one account from anywhere (THROTTLE_LOGIN_USERNAME).

    Keyed on the name as log-in matches it (users.usernames.username_key), so
    `Edward`, ` EDWARD`, `Edward` in full-width letters or with a zero-width
    space, or with a Cyrillic E, share a budget, as they share an account.
    """

    scope = "login_username"

    def identity(self, request: Request) -> str | None:
        data: Any = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str):
            # The serializer refuses the request; nothing to guess with.
            return None
        return f"name:{username_key(username)}"


class PasswordChangeThrottle(UserRateThrottle):
    """Password changes by one account: guessing its current password with a
    stolen access token counts like guessing it at log-in
    (THROTTLE_LOGIN_USERNAME)."""

    scope = "login_username"


class RegisterThrottle(AddressRateThrottle):
    """Registrations from one address (THROTTLE_REGISTER): each is a signup grant."""

    scope = "register"


def login_form_throttle_wait(request: HttpRequest) -> int | None:
    """Count a log-in posted by a form (the admin's) as the API counts its own.

    The same throttles, so the same budgets: per address, and per account
    whatever the spelling, and counted as DRF counts. Returns None while
    within both limits, else the seconds until an attempt may be made again.
    """
    form = Request(request, parsers=[FormParser(), MultiPartParser()])
    waits = [
        throttle.wait()
        for throttle in (LoginIPThrottle(), LoginUsernameThrottle())
        if not throttle.allow_request(form, APIView())
    ]
    if not waits:
        return None
    return max(1, math.ceil(max(wait or 0 for wait in waits)))
