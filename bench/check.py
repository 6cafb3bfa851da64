"""Check the billing after a benchmark (run by bench/run.py, inside Django).

usage: python -m bench.check BALANCE

Prints JSON about the benchmark users: exchanges stored, chat charges in the
ledger, tokens gone from their balances, and whether every ledger sums to
its balance.
"""

import json
import sys

import django

django.setup()

from django.db.models import Count, F, Q, Sum  # noqa: E402

from conversations.models import Exchange  # noqa: E402
from users.models import TokenTransaction, User  # noqa: E402


def main(balance: int) -> None:
    users = User.objects.filter(username__startswith="bench")
    charges = TokenTransaction.objects.filter(user__in=users, kind="chat_charge").aggregate(
        total=Sum("amount"), count=Count("id")
    )
    ledgers = users.annotate(ledger=Sum("token_transactions__amount"))
    report = {
        "exchanges": Exchange.objects.filter(user__in=users).count(),
        "charges": charges["count"],
        "tokens_charged": -(charges["total"] or 0),
        "tokens_spent": users.count() * balance - (users.aggregate(t=Sum("tokens"))["t"] or 0),
        "ledgers_match": not ledgers.filter(~Q(ledger=F("tokens"))).exists(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(int(sys.argv[1]))
