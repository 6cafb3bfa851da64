"""Writes for accounts: registration, log-in, token refresh, log-out and passwords."""

import uuid
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from users.exceptions import (
    REFRESH_TOKEN_REUSED,
    SESSION_REVOKED,
    InvalidCredentials,
    UsernameTaken,
    WrongPassword,
)
from users.ledger import tokens_adjust
from users.models import RevokedSession, TokenTransaction, User
from users.selectors import user_get_by_id
from users.sessions import session_revoke
from users.tokens import (
    VERSION_CLAIM,
    SessionRefreshToken,
    refresh_token_record,
    token_session,
)

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LoginResult:
    user: User
    refresh: SessionRefreshToken

    @property
    def access(self) -> str:
        return str(self.refresh.access_token)


def user_register(*, username: str, password: str) -> User:
    """Create an account holding the signup grant (SIGNUP_TOKENS) in its ledger.

    Raises UsernameTaken when the name exists in any letter case.
    """
    user = User(username=User.normalize_username(username))
    # Hash before the transaction: the slow part should not hold a write lock.
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            if settings.SIGNUP_TOKENS:
                tokens_adjust(
                    user=user,
                    amount=settings.SIGNUP_TOKENS,
                    kind=TokenTransaction.Kind.SIGNUP_GRANT,
                )
    except IntegrityError as exc:
        # The case-insensitive unique index decides, so two registrations
        # racing for one name cannot both win.
        raise UsernameTaken from exc
    return user


def user_login(*, username: str, password: str) -> LoginResult:
    """Check the credentials and issue a refresh/access pair.

    Unknown users, wrong passwords and inactive accounts all raise the same
    InvalidCredentials (Django's backend hashes even for unknown names).
    """
    user = authenticate(username=username, password=password)
    if not isinstance(user, User):
        raise InvalidCredentials
    update_last_login(User, user)
    return LoginResult(user=user, refresh=SessionRefreshToken.for_user(user))


def user_logout(*, user: User, refresh: str) -> None:
    """End the session one of the caller's refresh tokens belongs to.

    Every access and refresh token of that session stops working at once;
    the user's other sessions go on (see users.sessions).
    """
    token = _refresh_token(refresh)
    if token.get(jwt_settings.USER_ID_CLAIM) != str(user.pk):
        raise InvalidToken("Token does not belong to this user")
    session = _session_of(token)
    if RevokedSession.objects.filter(sid=session).exists():
        raise InvalidToken(SESSION_REVOKED)
    session_revoke(user=user, session=session)


def user_logout_all(*, user: User) -> None:
    """End every session of the user: all access and refresh tokens, at once."""
    user.end_all_sessions()


def user_password_change(*, user: User, old_password: str, new_password: str) -> LoginResult:
    """Set a new password, ending every token issued so far; returns a new pair.

    The caller stays logged in with the new pair (a new session); every other
    session, a thief's included, ends. `new_password` must have passed the
    password validators. Raises WrongPassword when `old_password` is wrong.
    """
    if not user.check_password(old_password):
        raise WrongPassword
    user.set_password(new_password)
    # User.save raises the token version when the password changes.
    user.save(update_fields=["password"])
    return LoginResult(user=user, refresh=SessionRefreshToken.for_user(user))


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: a new pair, and the presented token spent.

    Spending is one INSERT into the blacklist, whose unique index lets only
    one of several simultaneous refreshes with the same token win; the others
    get 401, so a copied refresh token cannot fork a session.

    Presenting a token that was already spent means two parties hold copies
    of it, and we cannot tell the thief from the owner: the whole session
    (every access and refresh token descended from the same log-in) is
    revoked, and the owner logs in again.
    """
    token = _refresh_token(refresh)
    user = _token_user(token)
    session = _session_of(token)
    if RevokedSession.objects.filter(sid=session).exists():
        raise InvalidToken(SESSION_REVOKED)
    jti = token[jwt_settings.JTI_CLAIM]
    try:
        with transaction.atomic():
            spent, _ = OutstandingToken.objects.get_or_create(
                jti=jti,
                defaults={
                    "user": user,
                    "token": refresh,
                    "expires_at": datetime_from_epoch(token["exp"]),
                },
            )
            BlacklistedToken.objects.create(token=spent)
            token.set_jti()
            token.set_exp()
            token.set_iat()
            refresh_token_record(token, user)
    except IntegrityError as exc:
        session_revoke(user=user, session=session)
        # Two parties held the same refresh token: one of them stole it.
        logger.warning(
            "auth.refresh_token_reused", user_id=str(user.pk), revoked_session=session.hex
        )
        raise InvalidToken(REFRESH_TOKEN_REUSED) from exc
    return {"access": str(token.access_token), "refresh": str(token)}


def revoked_sessions_purge() -> int:
    """Delete the revoked sessions none of whose tokens can be presented any more."""
    deleted, _ = RevokedSession.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def _refresh_token(raw: str) -> SessionRefreshToken:
    try:
        return SessionRefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidToken(exc.args[0]) from exc


def _session_of(token: SessionRefreshToken) -> uuid.UUID:
    session = token_session(token)
    if session is None:
        raise InvalidToken("Token has no session")
    return session


def _token_user(token: SessionRefreshToken) -> User:
    """The token's user, who must still exist and be active."""
    try:
        user_id = uuid.UUID(str(token.get(jwt_settings.USER_ID_CLAIM)))
    except ValueError as exc:
        raise InvalidToken("Token contained no recognizable user identification") from exc
    user = user_get_by_id(user_id)
    if user is None or not user.is_active:
        raise InvalidToken("Token does not belong to an active user")
    if token.get(VERSION_CLAIM) != user.token_version:
        raise InvalidToken("Token has been revoked")
    return user
