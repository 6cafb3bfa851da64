"""Check the billing after a benchmark (run by bench/run.py, inside Django).

usage: python -m bench.check BALANCE [DONE_IDS_FILE]

Prints JSON about the benchmark users: exchanges stored (and how many are
still pending) and the tokens they cost, chat charges and both kinds of
refund in the ledger, tokens gone from their balances, whether every ledger
sums to its balance, and the pricing (CHAT_PRICING). A chat that failed keeps
its charge row and gains a `refund`, and its exchange is deleted. Under
per-token pricing a kept chat's charge is its reservation, and the part its
reply did not use comes back as a `usage_refund` (at most one a chat): its
exchange stays, costing the charge less that. Under flat pricing there is no
`usage_refund`.

DONE_IDS_FILE holds the exchange id of every streamed chat a client read to
`done`, one a line: each must be stored, complete, and paid for by exactly
one charge of its own: of its cost (flat), or of at least its cost (per-token:
the reservation, less the usage refund).
"""

import json
import sys
from typing import Any

import django
from django.apps import apps

if not apps.ready:  # run as a program; under pytest, Django is set up already
    django.setup()

from django.conf import settings
from django.db.models import Count, F, Q, Sum

from conversations.models import Exchange
from users.models import TokenTransaction, User

Kind = TokenTransaction.Kind


def main(balance: int, done_ids_file: str | None) -> None:
    done = None
    if done_ids_file:
        with open(done_ids_file) as lines:
            done = [line.strip() for line in lines if line.strip()]
    print(json.dumps(billing_report(balance, done)))


def billing_report(balance: int, done_ids: list[str] | None = None) -> dict[str, Any]:
    """The figures above for the users named bench*, each of whom was given `balance`."""
    users = User.objects.filter(username__startswith="bench")
    ledger = TokenTransaction.objects.filter(user__in=users)

    def kind(kind: str) -> dict[str, Any]:
        return ledger.filter(kind=kind).aggregate(total=Sum("amount"), count=Count("id"))

    charges, refunds = kind(Kind.CHAT_CHARGE), kind(Kind.REFUND)
    usage_refunds = kind(Kind.USAGE_REFUND)
    ledgers = users.annotate(ledger=Sum("token_transactions__amount"))
    exchanges = Exchange.objects.filter(user__in=users)
    report = {
        "pricing": settings.CHAT_PRICING,
        "exchanges": exchanges.count(),
        "exchanges_pending": exchanges.filter(status=Exchange.Status.PENDING).count(),
        "exchanges_cost": exchanges.aggregate(t=Sum("tokens_charged"))["t"] or 0,
        "charges": charges["count"],
        "tokens_charged": -(charges["total"] or 0),
        "refunds": refunds["count"],
        "tokens_refunded": refunds["total"] or 0,
        "usage_refunds": usage_refunds["count"],
        "tokens_usage_refunded": usage_refunds["total"] or 0,
        "tokens_spent": users.count() * balance - (users.aggregate(t=Sum("tokens"))["t"] or 0),
        "ledgers_match": not ledgers.filter(~Q(ledger=F("tokens"))).exists(),
    }
    if done_ids is not None:
        report["streamed_done"] = len(done_ids)
        report["streamed_done_charged_once"] = _charged_once(done_ids)
    return report


def _charged_once(ids: list[str]) -> int:
    """How many of `ids` name, once each, a complete exchange with a charge of its own.

    An exchange links one charge (a one-to-one field), so a complete exchange
    with a chat charge of its cost (flat), or of at least its cost (per-token:
    the charge is the reservation), was charged once; an id that came twice
    would be one charge for two answers.
    """
    if settings.CHAT_PRICING == "flat":
        paid = Q(charge__amount=-F("tokens_charged"))
    else:
        paid = Q(charge__amount__lte=-F("tokens_charged"))
    counts: dict[str, int] = {}
    for exchange_id in ids:
        counts[exchange_id] = counts.get(exchange_id, 0) + 1
    distinct, good = list(counts), 0
    for chunk in (distinct[i : i + 500] for i in range(0, len(distinct), 500)):
        good += sum(
            counts[str(exchange_id)] == 1
            for exchange_id in Exchange.objects.filter(
                paid,
                id__in=chunk,
                status=Exchange.Status.COMPLETE,
                charge__kind=Kind.CHAT_CHARGE,
            ).values_list("id", flat=True)
        )
    return good


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
