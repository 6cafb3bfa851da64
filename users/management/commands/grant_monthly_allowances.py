"""Top each active account up to MONTHLY_ALLOWANCE, once per calendar month.

Schedule it daily (the README and docs/deployment.md show how): the first
run of a month gives the month's allowance, every other run of that month
gives nothing, and copies that overlap give it once between them.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from users.allowances import allowances_grant


class Command(BaseCommand):
    help = (
        "Top each active account up to MONTHLY_ALLOWANCE tokens, once per calendar "
        "month (UTC). Safe to run as often, and in as many copies, as you like."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        allowance = settings.MONTHLY_ALLOWANCE
        if allowance <= 0:
            self.stdout.write("MONTHLY_ALLOWANCE is 0: no allowance to grant.")
            return
        run = allowances_grant(allowance=allowance)
        self.stdout.write(
            f"Granted this month's allowance to {run.accounts} accounts ({run.tokens} tokens)."
        )
