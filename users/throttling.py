"""The accounts' rate limits: log-in, registration and password changes."""

from typing import Any

from rest_framework.request import Request

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
