"""Writes for accounts: registration, log-in, token refresh and log-out."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from conversations.models import TokenTransaction
from conversations.services import tokens_adjust
from users.exceptions import InvalidCredentials, UsernameTaken
from users.models import User
from users.selectors import user_get_by_id


@dataclass(frozen=True)
class LoginResult:
    user: User
    refresh: RefreshToken

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
    return LoginResult(user=user, refresh=RefreshToken.for_user(user))


def user_logout(*, user: User, refresh: str) -> None:
    """Blacklist one of the caller's refresh tokens."""
    token = _refresh_token(refresh)
    if token.get(jwt_settings.USER_ID_CLAIM) != str(user.pk):
        raise InvalidToken("Token does not belong to this user")
    token.blacklist()


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: a new pair, and the presented token spent.

    Spending is one INSERT into the blacklist, whose unique index lets only
    one of several simultaneous refreshes with the same token win; the others
    get 401, so a copied refresh token cannot fork a session.
    """
    token = _refresh_token(refresh)
    user = _token_user(token)
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
            OutstandingToken.objects.create(
                user=user,
                jti=token[jwt_settings.JTI_CLAIM],
                token=str(token),
                created_at=token.current_time,
                expires_at=datetime_from_epoch(token["exp"]),
            )
    except IntegrityError as exc:
        raise InvalidToken("Token is blacklisted") from exc
    return {"access": str(token.access_token), "refresh": str(token)}


def _refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidToken(exc.args[0]) from exc


def _token_user(token: RefreshToken) -> User:
    """The token's user, who must still exist and be active."""
    try:
        user_id = uuid.UUID(str(token.get(jwt_settings.USER_ID_CLAIM)))
    except ValueError as exc:
        raise InvalidToken("Token contained no recognizable user identification") from exc
    user = user_get_by_id(user_id)
    if user is None or not user.is_active:
        raise InvalidToken("Token does not belong to an active user")
    return user
