"""Delete revoked sessions whose refresh tokens have all expired. Schedule it
(daily is plenty), beside SimpleJWT's `flushexpiredtokens`."""

from typing import Any

from django.core.management.base import BaseCommand

from users.services import revoked_sessions_purge


class Command(BaseCommand):
    help = "Delete revoked sessions none of whose refresh tokens can still be presented."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = revoked_sessions_purge()
        self.stdout.write(f"Deleted {deleted} expired revoked sessions.")
