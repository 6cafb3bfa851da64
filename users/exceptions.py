"""Account errors, each with a stable code."""

from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail

INSUFFICIENT_TOKENS = "Insufficient tokens"
USERNAME_TAKEN = "Username already exists"
INVALID_CREDENTIALS = "Invalid username or password"
WRONG_PASSWORD = "The current password is wrong"  # noqa: S105 (a message)
# Details of 401 token_not_valid (the code clients branch on stays the same).
REFRESH_TOKEN_REUSED = "Token was already used; its session has been ended"  # noqa: S105
SESSION_REVOKED = "Token belongs to a session that has ended"
API_KEY_NOT_VALID = "API key is not valid: unknown, revoked or expired"
# A 401 like any token that cannot be used here: these endpoints (keys,
# password, sessions) take only a log-in's access token.
API_KEY_NOT_ALLOWED = "API keys cannot manage keys, sessions or the password; log in"
USAGE_FROM_AFTER_TO = "`from` must not be after `to`"
USAGE_RANGE_TOO_LONG = "At most 366 days by day, or 120 months by month"
EXPIRY_IN_THE_PAST = "The expiry must be in the future"
SPENDING_CAP_REACHED = "This API key has reached its spending cap for the day or the month"


class UsernameTaken(exceptions.ValidationError):
    """Registration with a name that exists, in any letter case."""

    def __init__(self) -> None:
        super().__init__({"username": [ErrorDetail(USERNAME_TAKEN, code="unique")]})


class InvalidCredentials(exceptions.AuthenticationFailed):
    """A wrong password or an unknown username: deliberately indistinguishable."""

    default_detail = INVALID_CREDENTIALS
    default_code = "invalid_credentials"


class WrongPassword(exceptions.ValidationError):
    """A password change whose current password is wrong.

    400 on the field rather than 401: the caller's access token is fine, and
    clients take a 401 to mean "log in again".
    """

    def __init__(self) -> None:
        super().__init__({"old_password": [ErrorDetail(WRONG_PASSWORD, code="wrong_password")]})


class InsufficientTokens(exceptions.APIException):
    """The balance does not cover the cost: nothing was charged or saved."""

    status_code = 402
    default_detail = INSUFFICIENT_TOKENS
    default_code = "insufficient_tokens"


class SpendingCapReached(exceptions.APIException):
    """A chat would take an API key past its daily or monthly cap: nothing was
    charged or saved. 402 like a short balance (a retry does not help until
    the period turns), not 429, which clients retry."""

    status_code = 402
    default_detail = SPENDING_CAP_REACHED
    default_code = "spending_cap_reached"
