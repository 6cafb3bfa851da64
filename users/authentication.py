"""JWT authentication with a cheaper user lookup."""

import uuid

import structlog
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from users.exceptions import SESSION_REVOKED
from users.models import User
from users.selectors import user_get_by_id
from users.sessions import session_is_revoked
from users.tokens import VERSION_CLAIM, token_session


class JWTAuthentication(SimpleJWTAuthentication):
    """SimpleJWT's authentication, with a cheaper user lookup (see user_get_by_id),
    revocation by user (the token version, on the row loaded anyway) and by
    session (the shared cache: see users.sessions), and one error code,
    `token_not_valid`, for every token that cannot be used."""

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        try:
            user_id = uuid.UUID(str(validated_token[api_settings.USER_ID_CLAIM]))
        except (KeyError, ValueError) as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        user = user_get_by_id(user_id)
        # A deleted or deactivated user's tokens are simply no longer valid.
        if user is None or not user.is_active:
            raise InvalidToken("Token does not belong to an active user")
        # The user logged out everywhere or changed the password since.
        if validated_token.get(VERSION_CLAIM) != user.token_version:
            raise InvalidToken("Token has been revoked")
        # The session logged out, or had a refresh token stolen, since.
        session = token_session(validated_token)
        if session is None:
            raise InvalidToken("Token has no session")
        if session_is_revoked(session):
            raise InvalidToken(SESSION_REVOKED)
        # The lines logged for the rest of the request name the user.
        structlog.contextvars.bind_contextvars(user_id=str(user.pk))
        return user

    def get_raw_token(self, header: bytes) -> bytes | None:
        # "Bearer" with no token, or with several: a bad token, not a new kind
        # of error for clients to handle.
        parts = header.split()
        if parts and parts[0] in AUTH_HEADER_TYPE_BYTES and len(parts) != 2:
            raise InvalidToken("Authorization header must be 'Bearer <token>'")
        return super().get_raw_token(header)


class JWTAuthenticationScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """Documents our subclass as the same bearer scheme (`jwtAuth`) in OpenAPI."""

    target_class = "users.authentication.JWTAuthentication"


def authenticated_user(request: Request) -> User:
    """The User behind a request that passed IsAuthenticated."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated
    return user
