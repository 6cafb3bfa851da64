"""Reads of accounts."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, DateField, Model, Q, QuerySet, Sum
from django.db.models.expressions import Col
from django.db.models.functions import Trunc

from users.models import ApiKey, RevokedSession, TokenTransaction, User

_CHARGE = Q(kind=TokenTransaction.Kind.CHAT_CHARGE)
# A failed chat's refund and, under per-token pricing, a reservation's unused part.
_REFUND = Q(kind__in=[TokenTransaction.Kind.REFUND, TokenTransaction.Kind.USAGE_REFUND])


@dataclass(frozen=True)
class UsagePeriod:
    """What chats cost in one day or month: tokens charged, refunded, the net, and
    how many chats were charged (a refunded one included: its tokens are in
    `refunded`)."""

    period: date
    charged: int = 0
    refunded: int = 0
    chats: int = 0

    @property
    def net(self) -> int:
        return self.charged - self.refunded


@dataclass(frozen=True)
class UsageReport:
    start: date
    end: date
    group: str
    periods: list[UsagePeriod]

    @property
    def totals(self) -> dict[str, int]:
        return {
            name: sum(getattr(period, name) for period in self.periods)
            for name in ("charged", "refunded", "net", "chats")
        }


def usage_report(*, user: User, start: date, end: date, group: str) -> UsageReport:
    """The user's chat spending from `start` to `end` (UTC dates, both
    included), one UsagePeriod per day or month (`group`), empty ones too.

    Summed in the database from the ledger, in one aggregate query.
    """
    rows = TokenTransaction.objects.filter(
        _CHARGE | _REFUND, user=user, created_at__gte=datetime.combine(start, time.min, UTC)
    )
    if end < date.max:
        rows = rows.filter(created_at__lt=datetime.combine(end + timedelta(days=1), time.min, UTC))
    sums = (
        rows.annotate(period=Trunc("created_at", group, output_field=DateField(), tzinfo=UTC))
        .values("period")
        .annotate(
            charged=Sum("amount", filter=_CHARGE),
            refunded=Sum("amount", filter=_REFUND),
            chats=Count("id", filter=_CHARGE),
        )
        .order_by("period")
    )
    found = {
        row["period"]: UsagePeriod(
            period=row["period"],
            charged=-(row["charged"] or 0),
            refunded=row["refunded"] or 0,
            chats=row["chats"],
        )
        for row in sums
    }
    periods = [found.get(period, UsagePeriod(period)) for period in _periods(start, end, group)]
    return UsageReport(start=start, end=end, group=group, periods=periods)


def _periods(start: date, end: date, group: str) -> list[date]:
    if group == "day":
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    months = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        if month.month == 12:
            if month.year == date.max.year:
                break
            month = month.replace(year=month.year + 1, month=1)
        else:
            month = month.replace(month=month.month + 1)
    return months


def user_list() -> QuerySet[User]:
    return User.objects.all()


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys that are not revoked (expired ones included: their
    owner should see them lapse)."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def user_get_by_id(user_id: uuid.UUID) -> User | None:
    """The user with this id: the same row and object as
    `User.objects.filter(pk=...).first()`, from SQL written once and the
    database's value converters looked up once per connection: compiling
    the ORM query on every request cost eight times more than running it
    (see docs/performance.md)."""
    database = connections[DEFAULT_DB_ALIAS]
    sql, converters = _user_by_id_reader(database)
    with database.cursor() as cursor:
        cursor.execute(sql, [User._meta.pk.get_db_prep_value(user_id, database)])
        row = cursor.fetchone()
    if row is None:
        return None
    return User.from_db(database.alias, _USER_FIELDS, _converted(row, converters, database))


def user_get_for_session(user_id: uuid.UUID, session: uuid.UUID) -> tuple[User, bool] | None:
    """The user with this id, as user_get_by_id reads it, and whether the log-in
    session `session` has ended (users.sessions): the one query every request
    authenticated by an access token makes.

    The session's end is an EXISTS on RevokedSession's primary key in the
    same statement: as current as the database, with no cache to keep in
    step and no round trip of its own.
    """
    database = connections[DEFAULT_DB_ALIAS]
    sql, converters = _user_for_session_reader(database)
    with database.cursor() as cursor:
        cursor.execute(
            sql,
            [
                RevokedSession._meta.pk.get_db_prep_value(session, database),
                User._meta.pk.get_db_prep_value(user_id, database),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    *columns, ended = row
    user = User.from_db(database.alias, _USER_FIELDS, _converted(columns, converters, database))
    return user, bool(ended)


def api_key_get_by_lookup(lookup: str) -> ApiKey | None:
    """The key with this lookup, its user loaded with it: one query, the one
    every request authenticated by a key makes.

    Written once and read as user_get_by_id is (compiling the ORM's query
    cost fifteen times more than running it); `key.user` is the same object
    `select_related("user")` would give.
    """
    database = connections[DEFAULT_DB_ALIAS]
    sql, converters = _api_key_by_lookup_reader(database)
    with database.cursor() as cursor:
        cursor.execute(sql, [lookup])
        row = cursor.fetchone()
    if row is None:
        return None
    values = _converted(row, converters, database)
    key = ApiKey.from_db(database.alias, _KEY_FIELDS, values[: len(_KEY_FIELDS)])
    key.user = User.from_db(database.alias, _USER_FIELDS, values[len(_KEY_FIELDS) :])
    return key


_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
_KEY_FIELDS = [field.attname for field in ApiKey._meta.concrete_fields]
_Converters = list[tuple[int, list[Callable[..., Any]], Col]]
_Reader = tuple[str, _Converters]
_readers: "WeakKeyDictionary[BaseDatabaseWrapper, _Reader]" = WeakKeyDictionary()
_key_readers: "WeakKeyDictionary[BaseDatabaseWrapper, _Reader]" = WeakKeyDictionary()
_session_readers: "WeakKeyDictionary[BaseDatabaseWrapper, _Reader]" = WeakKeyDictionary()


def _user_by_id_reader(database: BaseDatabaseWrapper) -> _Reader:
    """The SELECT and, per column, the converters the ORM would apply to its value."""
    if database not in _readers:
        _readers[database] = (_user_select(database), _converters(database, User))
    return _readers[database]


def _user_for_session_reader(database: BaseDatabaseWrapper) -> _Reader:
    """user_get_by_id's SELECT, with whether the session has ended as a last column."""
    if database not in _session_readers:
        quote = database.ops.quote_name
        revoked = quote(RevokedSession._meta.db_table)
        sid = quote(RevokedSession._meta.pk.column)
        ended = f"EXISTS (SELECT 1 FROM {revoked} WHERE {revoked}.{sid} = %s)"  # noqa: S608
        _session_readers[database] = (_user_select(database, ended), _converters(database, User))
    return _session_readers[database]


def _user_select(database: BaseDatabaseWrapper, *extra: str) -> str:
    """SELECT every User column (then `extra` ones) of the row with a given id."""
    quote = database.ops.quote_name
    table, pk = quote(User._meta.db_table), quote(User._meta.pk.column)
    columns = ", ".join([*_columns(database, User), *extra])
    return f"SELECT {columns} FROM {table} WHERE {pk} = %s"  # noqa: S608 (names from _meta)


def _api_key_by_lookup_reader(database: BaseDatabaseWrapper) -> _Reader:
    """The key's and its user's columns, joined, and their converters."""
    if database not in _key_readers:
        quote = database.ops.quote_name
        keys, users = quote(ApiKey._meta.db_table), quote(User._meta.db_table)
        columns = ", ".join([*_columns(database, ApiKey), *_columns(database, User)])
        user_id = quote(ApiKey._meta.get_field("user").column)
        lookup = quote(ApiKey._meta.get_field("lookup").column)
        sql = (
            f"SELECT {columns} FROM {keys} INNER JOIN {users} "  # noqa: S608 (names from _meta)
            f"ON {keys}.{user_id} = {users}.{quote(User._meta.pk.column)} "
            f"WHERE {keys}.{lookup} = %s"
        )
        converters = _converters(database, ApiKey) + _converters(
            database, User, offset=len(_KEY_FIELDS)
        )
        _key_readers[database] = (sql, converters)
    return _key_readers[database]


def _columns(database: BaseDatabaseWrapper, model: type[Model]) -> list[str]:
    table = database.ops.quote_name(model._meta.db_table)
    return [f"{table}.{database.ops.quote_name(f.column)}" for f in model._meta.concrete_fields]


def _converters(database: BaseDatabaseWrapper, model: type[Model], offset: int = 0) -> _Converters:
    converters = []
    for position, field in enumerate(model._meta.concrete_fields, start=offset):
        column = field.get_col(model._meta.db_table)
        functions = database.ops.get_db_converters(column) + column.get_db_converters(database)
        if functions:
            converters.append((position, functions, column))
    return converters


def _converted(
    row: Sequence[Any], converters: _Converters, database: BaseDatabaseWrapper
) -> list[Any]:
    values = list(row)
    for position, functions, column in converters:
        for convert in functions:
            values[position] = convert(values[position], column, database)
    return values
