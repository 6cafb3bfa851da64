"""Authentication: JWT access tokens with a cheaper user lookup, and API keys."""

import uuid

import structlog
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, AUTH_HEADER_TYPES
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from users.exceptions import API_KEY_NOT_ALLOWED, API_KEY_NOT_VALID, SESSION_REVOKED
from users.keys import is_api_key, key_check
from users.models import ApiKey, User
from users.selectors import user_get_for_session
from users.tokens import VERSION_CLAIM, token_session


class JWTAuthentication(SimpleJWTAuthentication):
    """SimpleJWT's authentication, with a cheaper user lookup, revocation by
    user (the token version, on the row loaded anyway) and by session (read
    in the same query: see user_get_for_session), and one error code,
    `token_not_valid`, for every token that cannot be used."""

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        try:
            user_id = uuid.UUID(str(validated_token[api_settings.USER_ID_CLAIM]))
        except (KeyError, ValueError) as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        session = token_session(validated_token)
        if session is None:
            raise InvalidToken("Token has no session")
        found = user_get_for_session(user_id, session)
        # A deleted or deactivated user's tokens are simply no longer valid.
        if found is None or not found[0].is_active:
            raise InvalidToken("Token does not belong to an active user")
        user, session_ended = found
        # The user logged out everywhere or changed the password since.
        if validated_token.get(VERSION_CLAIM) != user.token_version:
            raise InvalidToken("Token has been revoked")
        # The session logged out, or had a refresh token stolen, since.
        if session_ended:
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
        raw = super().get_raw_token(header)
        # Where API keys are not accepted (managing keys, the password,
        # sessions): a clear refusal, not "this JWT is malformed".
        if raw is not None and is_api_key(raw.decode("latin-1")):
            raise InvalidToken(API_KEY_NOT_ALLOWED)
        return raw


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer chatkey_…`: an API key (users.keys), checked in
    one query, the user's row joined in, as many as a JWT costs. Anything
    else in the header is left to the next authenticator (the JWT's).

    A key is not a log-in session: log-out everywhere and a password change
    leave it working (docs/security.md#api-keys says why); revoking it, its
    expiry or the account's deactivation end it at once.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0] not in AUTH_HEADER_TYPE_BYTES:
            return None
        token = parts[1].decode("latin-1")
        if not is_api_key(token):
            return None
        key = key_check(token)
        if key is None:
            raise AuthenticationFailed(API_KEY_NOT_VALID, code="token_not_valid")
        user = key.user
        user.api_key = key
        return user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{AUTH_HEADER_TYPES[0]} realm="api"'


# The endpoints an API key may call list this (chat, balance, history,
# ledger, usage); every other endpoint takes a log-in's access token only.
KEY_OR_JWT = (ApiKeyAuthentication, JWTAuthentication)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Documents API keys as a bearer scheme of their own (`apiKeyAuth`)."""

    target_class = "users.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key (`chatkey_…`, from `POST /api/v1/keys/`), sent as "
                "`Authorization: Bearer <key>`."
            ),
        }


class JWTAuthenticationScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    """Documents our subclass as the same bearer scheme (`jwtAuth`) in OpenAPI."""

    target_class = "users.authentication.JWTAuthentication"


def authenticated_user(request: Request) -> User:
    """The User behind a request that passed IsAuthenticated."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated
    return user
