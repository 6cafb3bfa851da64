"""Account errors, each with a stable code."""

from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail

USERNAME_TAKEN = "Username already exists"
INVALID_CREDENTIALS = "Invalid username or password"


class UsernameTaken(exceptions.ValidationError):
    """Registration with a name that exists, in any letter case."""

    def __init__(self) -> None:
        super().__init__({"username": [ErrorDetail(USERNAME_TAKEN, code="unique")]})


class InvalidCredentials(exceptions.AuthenticationFailed):
    """A wrong password or an unknown username: deliberately indistinguishable."""

    default_detail = INVALID_CREDENTIALS
    default_code = "invalid_credentials"
