"""Reads of accounts."""

import uuid
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.expressions import Col

from users.models import ApiKey, User


def user_list() -> QuerySet[User]:
    return User.objects.all()


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys that are not revoked (expired ones included: their
    owner should see them lapse)."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def user_get_by_id(user_id: uuid.UUID) -> User | None:
    """The user with this id: the one query every authenticated request makes.

    The same row and object as `User.objects.filter(pk=...).first()`, from SQL
    written once and the database's value converters looked up once per
    connection: compiling the ORM query on every request cost eight times
    more than running it (see docs/performance.md).
    """
    database = connections[DEFAULT_DB_ALIAS]
    sql, converters = _user_by_id_reader(database)
    with database.cursor() as cursor:
        cursor.execute(sql, [User._meta.pk.get_db_prep_value(user_id, database)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, functions, column in converters:
        for convert in functions:
            values[position] = convert(values[position], column, database)
    return User.from_db(database.alias, _USER_FIELDS, values)


_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
_Converters = list[tuple[int, list[Callable[..., Any]], Col]]
_readers: "WeakKeyDictionary[BaseDatabaseWrapper, tuple[str, _Converters]]" = WeakKeyDictionary()


def _user_by_id_reader(database: BaseDatabaseWrapper) -> tuple[str, _Converters]:
    """The SELECT and, per column, the converters the ORM would apply to its value."""
    if database not in _readers:
        quote = database.ops.quote_name
        fields = User._meta.concrete_fields
        table, pk = quote(User._meta.db_table), quote(User._meta.pk.column)
        columns = ", ".join(quote(field.column) for field in fields)
        sql = f"SELECT {columns} FROM {table} WHERE {pk} = %s"  # noqa: S608 (names from _meta)
        converters = []
        for position, field in enumerate(fields):
            column = field.get_col(User._meta.db_table)
            functions = database.ops.get_db_converters(column) + column.get_db_converters(database)
            if functions:
                converters.append((position, functions, column))
        _readers[database] = (sql, converters)
    return _readers[database]
