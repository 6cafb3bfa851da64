"""Seed a benchmark database (run by bench/run.py, inside Django).

usage: python -m bench.seed USERS BALANCE TOKENS_FILE [--history FILE] [--keys FILE]

Creates USERS users holding BALANCE tokens (each with its ledger row) and
writes their access tokens, one per line; given --keys, an API key for each
of them (users.keys, as POST /api/v1/keys/ makes it), in the same order;
given --history, two history users with 1,000 and 1,000,000 stored
exchanges, whose tokens go there.
"""

import argparse

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from conversations.models import Conversation, Exchange  # noqa: E402
from users.keys import key_create  # noqa: E402
from users.ledger import tokens_adjust  # noqa: E402
from users.models import TokenTransaction, User  # noqa: E402
from users.tokens import SessionAccessToken  # noqa: E402

HISTORY_SIZES = (1_000, 1_000_000)


def seed_users(count: int, balance: int) -> list[User]:
    users = []
    for i in range(count):
        user = User(username=f"bench{i}")
        user.set_unusable_password()
        with transaction.atomic():
            user.save()
            tokens_adjust(
                user=user, amount=balance, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT, note="bench"
            )
        users.append(user)
    return users


def seed_history(size: int) -> str:
    """A user with `size` exchanges in one conversation, inserted by the database itself.

    Read-only data for the history page: these exchanges have no charges.
    """
    user = User(username=f"history{size}")
    user.set_unusable_password()
    user.save()
    conversation = Conversation.objects.create(user=user, title="history")
    pk = User._meta.pk
    user_id = pk.get_db_prep_value(user.pk, connection)
    conversation_id = Conversation._meta.pk.get_db_prep_value(conversation.pk, connection)
    table = Exchange._meta.db_table
    columns = (
        "id, conversation_id, user_id, message, response, tokens_charged, created_at, status, model"
    )
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} ({columns}) "  # noqa: S608 (our own names)
            "SELECT (lpad(to_hex(%s), 8, '0') || lpad(to_hex(x), 24, '0'))::uuid, "
            "%s, %s, 'm' || x, 'r' || x, 100, now(), 'complete', 'seed' "
            "FROM generate_series(1, %s) AS x"
        )
    else:
        sql = (
            f"INSERT INTO {table} ({columns}) "  # noqa: S608 (our own names)
            "WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < %s) "
            "SELECT printf('%%08x%%024x', %s, x), %s, %s, 'm' || x, 'r' || x, 100, "
            "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'), 'complete', 'seed' FROM seq"
        )
    # Ids: the size, then a counter; unique across both history users.
    params = (
        [size, conversation_id, user_id, size]
        if connection.vendor == "postgresql"
        else [size, size, conversation_id, user_id]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    # Settle the database after a million-row insert, so the measurements do
    # not pay for it: PostgreSQL's vacuum (autovacuum would otherwise run it
    # during the measurements) and statistics, or SQLite's WAL folded back.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return str(SessionAccessToken.for_user(user))


def main(args: argparse.Namespace) -> None:
    users = seed_users(args.users, args.balance)
    _write(args.tokens_file, [str(SessionAccessToken.for_user(user)) for user in users])
    if args.keys:
        _write(args.keys, [key_create(user=user, name="bench").secret for user in users])
    if args.history:
        _write(args.history, [seed_history(size) for size in HISTORY_SIZES])


def _write(path: str, lines: list[str]) -> None:
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", type=int)
    parser.add_argument("balance", type=int)
    parser.add_argument("tokens_file", help="the users' access tokens go here, one a line")
    parser.add_argument("--keys", help="an API key per user goes here, one a line")
    parser.add_argument("--history", help="the history users' access tokens go here")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
