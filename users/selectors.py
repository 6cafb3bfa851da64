"""Reads of accounts."""

import uuid
from functools import cache

from django.db import connection
from django.db.models import QuerySet

from users.models import User


def user_list() -> QuerySet[User]:
    return User.objects.all()


def user_get_by_id(user_id: uuid.UUID) -> User | None:
    """The user with this id: the one query every authenticated request makes.

    The same row and object as `User.objects.filter(pk=...).first()`, from SQL
    written once: compiling the ORM query on every request cost more than
    running it.
    """
    pk = User._meta.pk.get_db_prep_value(user_id, connection)
    return next(iter(User.objects.raw(_user_by_id_sql(connection.vendor), [pk])), None)


@cache
def _user_by_id_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in User._meta.concrete_fields)
    table, pk = quote(User._meta.db_table), quote(User._meta.pk.column)
    return f"SELECT {columns} FROM {table} WHERE {pk} = %s"  # noqa: S608 (names from _meta)
