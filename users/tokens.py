"""The JWTs this API issues: SimpleJWT's, with two claims of our own.

- `ver`: the user's `token_version` when the token was issued. Authentication
  compares it with the user row it loads anyway, so raising the version
  (log out everywhere, a new password) ends every token at no extra query.
- `sid`: the log-in session. Set at log-in and kept when a refresh token is
  rotated (and copied into each access token), it names the family of tokens
  descended from one log-in, which log-out and theft detection end at once
  (see users.sessions).

Tokens without these claims are refused.
"""

import uuid
from datetime import datetime
from typing import Any, TypeVar

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch
from uuid_utils.compat import uuid7

from users.models import User

VERSION_CLAIM = "ver"
SESSION_CLAIM = "sid"
_Token = TypeVar("_Token", bound=Token)


def _claims(user: User) -> dict[str, Any]:
    return {
        api_settings.USER_ID_CLAIM: str(user.pk),
        VERSION_CLAIM: user.token_version,
        SESSION_CLAIM: uuid7().hex,
    }


def _stamped(token: _Token, user: User) -> _Token:
    for claim, value in _claims(user).items():
        token[claim] = value
    return token


def refresh_token_record(token: RefreshToken, user: User) -> None:
    """Record an issued refresh token, as SimpleJWT's own for_user does, with its final claims."""
    OutstandingToken.objects.create(
        user=user,
        jti=token[api_settings.JTI_CLAIM],
        token=str(token),
        created_at=token.current_time,
        expires_at=datetime_from_epoch(token["exp"]),
    )


class _TimesInRange(Token):
    """A signed token whose expiry no date can hold (exp: 1e20) is a bad
    token (TokenError, then 401), not an OverflowError: SimpleJWT converts
    the claim to a datetime unguarded."""

    def check_exp(self, claim: str = "exp", current_time: datetime | None = None) -> None:
        try:
            super().check_exp(claim, current_time)
        except (OverflowError, OSError, ValueError) as exc:
            raise TokenError(f"Token '{claim}' claim is out of range") from exc


class SessionRefreshToken(_TimesInRange, RefreshToken):
    """A refresh token that starts a new session."""

    @classmethod
    def for_user(cls, user: User) -> "SessionRefreshToken":  # type: ignore[override]
        token = _stamped(cls(), user)
        refresh_token_record(token, user)
        return token

    def check_blacklist(self) -> None:
        # Whether the token was spent is decided by token_refresh's INSERT
        # into the blacklist. A lookup here would answer first and hide the
        # reuse, and reuse is what must revoke the session.
        return


class SessionAccessToken(_TimesInRange, AccessToken):
    """An access token (authentication reads them as this class); made on
    its own, for tools (benchmarks, tests) that need no refresh."""

    @classmethod
    def for_user(cls, user: User) -> "SessionAccessToken":  # type: ignore[override]
        return _stamped(cls(), user)


def token_session(token: Token) -> uuid.UUID | None:
    """The session id a token carries, or None if it carries none that is valid."""
    try:
        return uuid.UUID(str(token[SESSION_CLAIM]))
    except (KeyError, ValueError):
        return None
