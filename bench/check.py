"""Check the billing after a benchmark (run by bench/run.py, inside Django).

usage: python -m bench.check BALANCE [DONE_IDS_FILE]

Prints JSON about the benchmark users: exchanges stored (and how many are
still pending), chat charges and refunds in the ledger, tokens gone from
their balances, and whether every ledger sums to its balance. A chat that
failed keeps its charge row and gains a refund, and its exchange is deleted.

DONE_IDS_FILE holds the exchange id of every streamed chat a client read to
`done`, one a line: each must be stored, complete, and paid for by exactly
one charge of its own.
"""

import json
import sys

import django

django.setup()

from django.db.models import Count, F, Q, Sum  # noqa: E402

from conversations.models import Exchange  # noqa: E402
from users.models import TokenTransaction, User  # noqa: E402

Kind = TokenTransaction.Kind


def main(balance: int, done_ids_file: str | None) -> None:
    users = User.objects.filter(username__startswith="bench")
    ledger = TokenTransaction.objects.filter(user__in=users)
    charges = ledger.filter(kind=Kind.CHAT_CHARGE).aggregate(total=Sum("amount"), count=Count("id"))
    refunds = ledger.filter(kind=Kind.REFUND).aggregate(total=Sum("amount"), count=Count("id"))
    ledgers = users.annotate(ledger=Sum("token_transactions__amount"))
    exchanges = Exchange.objects.filter(user__in=users)
    report = {
        "exchanges": exchanges.count(),
        "exchanges_pending": exchanges.filter(status=Exchange.Status.PENDING).count(),
        "charges": charges["count"],
        "tokens_charged": -(charges["total"] or 0),
        "refunds": refunds["count"],
        "tokens_refunded": refunds["total"] or 0,
        "tokens_spent": users.count() * balance - (users.aggregate(t=Sum("tokens"))["t"] or 0),
        "ledgers_match": not ledgers.filter(~Q(ledger=F("tokens"))).exists(),
    }
    if done_ids_file:
        with open(done_ids_file) as lines:
            done = [line.strip() for line in lines if line.strip()]
        report["streamed_done"] = len(done)
        report["streamed_done_charged_once"] = _charged_once(done)
    print(json.dumps(report))


def _charged_once(ids: list[str]) -> int:
    """How many of `ids` name, once each, a complete exchange with a charge of its own.

    An exchange links one charge (a one-to-one field), so a complete exchange
    with a chat charge of its cost was charged once; an id that came twice
    would be one charge for two answers.
    """
    counts: dict[str, int] = {}
    for exchange_id in ids:
        counts[exchange_id] = counts.get(exchange_id, 0) + 1
    distinct, good = list(counts), 0
    for chunk in (distinct[i : i + 500] for i in range(0, len(distinct), 500)):
        good += sum(
            counts[str(exchange_id)] == 1
            for exchange_id in Exchange.objects.filter(
                id__in=chunk,
                status=Exchange.Status.COMPLETE,
                charge__kind=Kind.CHAT_CHARGE,
                charge__amount=-F("tokens_charged"),
            ).values_list("id", flat=True)
        )
    return good


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
