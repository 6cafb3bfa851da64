"""Refund chats whose request died between the charge and the reply.

Schedule it every minute or so: a server killed mid-request (a deploy, an
out-of-memory kill) leaves its charge reserved; this gives it back.
"""

from typing import Any

import structlog
from django.core.management.base import BaseCommand

from conversations.services.reservations import reservations_refund_expired


class Command(BaseCommand):
    help = (
        "Refund reservations older than CHAT_RESERVATION_EXPIRY_SECONDS "
        "(2 x AI_TIMEOUT_SECONDS + 60 by default) whose reply never came."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        refunded = reservations_refund_expired()
        # Each refund is logged as it is made (chat.refunded, its reason
        # "reservation expired"); this line says the run happened.
        structlog.get_logger(__name__).info("reservations.swept", refunded=refunded)
        self.stdout.write(f"Refunded {refunded} expired reservations.")
