"""The one module that changes a balance: every change is one atomic UPDATE of
the balance and one ledger row, in one transaction.

The UPDATE carries its own guard (`tokens >= <what is taken>`) and lets the
database compute the new value, so concurrent requests can neither overspend
nor lose a change, and each user's ledger always sums to their balance. A
database check constraint (`tokens >= 0`) backs the guard.

`tokens_adjust` may be called anywhere; a refused removal leaves the
caller's transaction usable. `ledger_record`, for the chat's hot path, joins
the caller's transaction without a savepoint: an error in it (a short
balance included) ends that transaction.
"""

import functools
import uuid
from functools import cache

from django.db import connection, transaction

from api import metrics
from users.exceptions import InsufficientTokens
from users.keys import key_refund, key_spend
from users.models import ApiKey, TokenTransaction, User


@transaction.atomic
def tokens_adjust(*, user: User, amount: int, kind: str, note: str = "") -> TokenTransaction:
    """Add (amount > 0) or remove (amount < 0) tokens, with its ledger row.

    `user` is updated in memory too. A removal larger than the balance
    raises InsufficientTokens and changes nothing.
    """
    entry = ledger_record(user_id=user.pk, amount=amount, kind=kind, note=note)
    user.balance_observed(entry.balance_after)
    return entry


@transaction.atomic(savepoint=False)
def ledger_record(
    *,
    user_id: uuid.UUID,
    amount: int,
    kind: str,
    note: str = "",
    api_key: ApiKey | None = None,
    refund_of: uuid.UUID | None = None,
) -> TokenTransaction:
    """Apply a signed change to a user's balance and write its ledger row.

    For callers that hold only the user's id (a chat's refund, the sweeper).
    A removal larger than the balance raises InsufficientTokens. A charge
    made with `api_key` counts against its spending caps (SpendingCapReached
    when it does not fit); a refund of the charge `refund_of` gives that
    key's caps their room back. Key before balance, in both: one lock order.
    """
    api_key_id = None
    if api_key is not None and amount < 0:
        key_spend(key=api_key, amount=-amount)
        api_key_id = api_key.pk
    if refund_of is not None and amount > 0:
        api_key_id = key_refund(charge_id=refund_of, amount=amount)
    balance_after = _balance_apply(user_id=user_id, amount=amount)
    entry = TokenTransaction.objects.create(
        user_id=user_id,
        amount=amount,
        kind=kind,
        balance_after=balance_after,
        note=note,
        api_key_id=api_key_id,
    )
    # Counted once the change is committed: a rolled-back charge never happened.
    transaction.on_commit(functools.partial(_tokens_counted, kind=kind, amount=amount))
    return entry


def _tokens_counted(*, kind: str, amount: int) -> None:
    if kind == TokenTransaction.Kind.CHAT_CHARGE:
        metrics.TOKENS_CHARGED.inc(-amount)
    elif kind in (TokenTransaction.Kind.REFUND, TokenTransaction.Kind.USAGE_REFUND):
        metrics.TOKENS_REFUNDED.inc(amount)
    elif amount > 0:
        metrics.TOKENS_GRANTED.labels(kind).inc(amount)
    elif amount < 0:
        metrics.TOKENS_REMOVED.labels(kind).inc(-amount)


def _balance_apply(*, user_id: uuid.UUID, amount: int) -> int:
    """Apply a signed change to the balance atomically; return the new balance.

    One statement does it all: the guard sits in the WHERE clause and the
    database computes the new value (what `filter(tokens__gte=...)
    .update(tokens=F("tokens") + amount)` compiles to). RETURNING hands back
    the new balance, where a follow-up SELECT would cost a round trip. No row
    updated means the balance was short.
    """
    pk = User._meta.pk.get_db_prep_value(user_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_balance_sql(connection.vendor), [amount, pk, max(-amount, 0)])
        row = cursor.fetchone()
    if row is None:
        raise InsufficientTokens
    return int(row[0])


@cache
def _balance_sql(vendor: str) -> str:
    # Written once, from the model's own names: compiling the equivalent ORM
    # update on every chat cost more than running it.
    quote = connection.ops.quote_name
    table, pk = quote(User._meta.db_table), quote(User._meta.pk.column)
    tokens = quote(User._meta.get_field("tokens").column)
    return (
        f"UPDATE {table} SET {tokens} = {tokens} + %s "  # noqa: S608 (names from _meta)
        f"WHERE {pk} = %s AND {tokens} >= %s RETURNING {tokens}"
    )
