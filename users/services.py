"""Writes for accounts: registration, log-in, token refresh and log-out."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from conversations.models import TokenTransaction
from conversations.services import tokens_adjust
from users.exceptions import InvalidCredentials, UsernameTaken
from users.models import User


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
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidToken(exc.args[0]) from exc
    if token.get(jwt_settings.USER_ID_CLAIM) != str(user.pk):
        raise InvalidToken("Token does not belong to this user")
    token.blacklist()


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: a new pair, and the presented one blacklisted."""
    # simplejwt's serializer holds the rotation rules; we only map its
    # failures (including a token whose user is gone) to a 401.
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except TokenError as exc:
        raise InvalidToken(exc.args[0]) from exc
    except User.DoesNotExist as exc:
        raise InvalidToken("User not found") from exc
    return dict(serializer.validated_data)
