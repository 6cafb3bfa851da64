"""Reads of accounts."""

from django.db.models import QuerySet

from users.models import User


def user_list() -> QuerySet[User]:
    return User.objects.all()
