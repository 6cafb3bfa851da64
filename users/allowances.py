"""The monthly allowance: each active account topped up to MONTHLY_ALLOWANCE
once per calendar month (UTC), by `manage.py grant_monthly_allowances`.

Once, however often the command runs and however many copies run at once:
an account's month is claimed by inserting its MonthlyAllowance row, whose
unique (user, month) index lets exactly one insert commit, in the same
transaction as the top-up and its ledger row. A copy that loses the race
gets an IntegrityError (on PostgreSQL after waiting for the winner's
commit; on SQLite, whose writers take turns, at once) and rolls back its
whole attempt, top-up included. A run that dies half-way leaves finished
accounts finished; the next run does the rest.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from users.ledger import ledger_record
from users.models import MonthlyAllowance, TokenTransaction, User


@dataclass(frozen=True)
class AllowanceRun:
    # Accounts whose month this run claimed, and the tokens it added.
    accounts: int = 0
    tokens: int = 0


def allowances_grant(*, allowance: int, month: date | None = None) -> AllowanceRun:
    """Top every active account up to `allowance` for `month` (default: this
    UTC month), skipping accounts whose month is already claimed."""
    if allowance <= 0:
        return AllowanceRun()
    month = (month or timezone.now().date()).replace(day=1)
    pending = (
        User.objects.filter(is_active=True)
        .exclude(monthly_allowances__month=month)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    accounts = tokens = 0
    for user_id in pending.iterator():
        granted = allowance_grant(user_id=user_id, allowance=allowance, month=month)
        if granted is not None:
            accounts += 1
            tokens += granted.amount
    return AllowanceRun(accounts=accounts, tokens=tokens)


def allowance_grant(*, user_id: uuid.UUID, allowance: int, month: date) -> MonthlyAllowance | None:
    """Claim the account's month and top it up; None if the month was claimed already."""
    try:
        with transaction.atomic():
            claim = MonthlyAllowance.objects.create(user_id=user_id, month=month, amount=0)
            # The balance under the row lock, so "up to" is exact (SQLite's
            # writers already take turns).
            balance = (
                User.objects.select_for_update().filter(pk=user_id).values_list("tokens", flat=True)
            )
            missing = allowance - balance.get()
            if missing > 0:
                claim.entry = ledger_record(
                    user_id=claim.user_id,
                    amount=missing,
                    kind=TokenTransaction.Kind.ALLOWANCE,
                    note=f"{month:%Y-%m}",
                )
                claim.amount = missing
                claim.save(update_fields=["entry", "amount"])
    except IntegrityError:
        return None
    return claim
