"""Delete expired Idempotency-Keys. Schedule it (hourly is plenty)."""

from typing import Any

from django.core.management.base import BaseCommand

from conversations.services.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_SECONDS (default 24 hours)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_keys_purge()
        self.stdout.write(f"Deleted {deleted} expired idempotency keys.")
