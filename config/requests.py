"""Typed access to the caller of an authenticated view."""

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from users.models import User


def authenticated_user(request: Request) -> User:
    """The User behind a request that passed IsAuthenticated."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated
    return user
