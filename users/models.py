"""The custom user, holding the token balance."""

from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from uuid_utils.compat import uuid7


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> "User":
        # Log-in is case-insensitive, like the uniqueness rule. Both sides go
        # through the database's LOWER, the function the unique index is built
        # on, so the lookup uses that index and agrees with it on every name.
        return self.alias(username_lower=Lower("username")).get(
            username_lower=Lower(models.Value(username or ""))
        )


class User(AbstractUser):
    """A person with a token balance.

    `tokens` only changes through the services in conversations.services,
    each of which writes one ledger row in the same transaction.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tokens = models.IntegerField(default=0)

    objects: ClassVar[UserManager] = UserManager()
    # The API knows no e-mail; createsuperuser should not insist on one.
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tokens__gte=0), name="users_user_tokens_non_negative"
            ),
            models.UniqueConstraint(Lower("username"), name="users_user_username_ci_unique"),
        ]
