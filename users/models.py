"""The custom user, holding the token balance."""

import unicodedata
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from uuid_utils.compat import uuid7


def username_key(username: str) -> str:
    """What makes two usernames the same: NFKC, then full Unicode case folding.

    Computed in Python because SQLite's LOWER() folds ASCII letters only:
    `Élodie` must block `élodie` on every database.
    """
    return unicodedata.normalize("NFKC", username).casefold()


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> "User":
        # Log-in ignores letter case, like the uniqueness rule, via the same key.
        return self.get(username_key=username_key(username or ""))


class User(AbstractUser):
    """A person with a token balance.

    `tokens` only changes through the services in conversations.services,
    each of which writes one ledger row in the same transaction.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # 64-bit: no grant or adjustment can overflow it.
    tokens = models.BigIntegerField(default=0)
    # Derived from `username` on every save; its unique index is what makes
    # usernames unique in any letter case.
    username_key = models.TextField(unique=True, editable=False)

    objects: ClassVar[UserManager] = UserManager()
    # The API knows no e-mail; createsuperuser should not insist on one.
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tokens__gte=0), name="users_user_tokens_non_negative"
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Here rather than in a service, so that every path that saves a user
        # (API, admin, createsuperuser, changepassword, shell) keeps both rules.
        self.username_key = username_key(self.username)
        if not self._state.adding and kwargs.get("update_fields") is None:
            # A user object loaded before a chat must not write its stale
            # balance back: `tokens` changes only through the ledgered UPDATE
            # in conversations.services.
            kwargs["update_fields"] = _FIELDS_SAVE_WRITES
        super().save(*args, **kwargs)


_FIELDS_SAVE_WRITES = [
    field.name
    for field in User._meta.concrete_fields
    if not field.primary_key and field.name != "tokens"
]
