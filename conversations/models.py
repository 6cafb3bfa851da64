"""Conversations, the exchanges in them, and idempotency keys for chats.

Ids are UUIDv7: opaque to clients, and ordered by creation time, so "newest
first" is `ORDER BY id DESC` over a `(owner, id)` index.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from uuid_utils.compat import uuid7

from users.models import TokenTransaction


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every exchange: lists show the most recently active first.
    updated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["user", "-updated_at", "-id"], name="conversation_user_recent_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Exchange(models.Model):
    """One message and the AI's reply: what one charge bought.

    It is written when the charge is reserved, `pending`, before the model is
    asked, and becomes `complete` with the reply. A streamed reply the client
    walked away from is kept as far as it got, `incomplete`. A failed one is
    deleted and its charge refunded: history shows only the first two.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETE = "complete", "Complete"
        INCOMPLETE = "incomplete", "Incomplete"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="exchanges"
    )
    # Denormalised from the conversation so that a user's history is one
    # index range scan, with no join.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchanges"
    )
    message = models.TextField()
    response = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    tokens_charged = models.PositiveIntegerField()
    # The ledger row that paid for it. RESTRICT: a charge outlives neither
    # its user nor (deleted with the user) this exchange, and is never
    # deleted on its own while the exchange exists.
    charge = models.OneToOneField(
        TokenTransaction, on_delete=models.RESTRICT, null=True, related_name="exchange"
    )
    # What the provider reported: the model that answered and its own token
    # counts (not our billing tokens); null when the provider does not say.
    model = models.CharField(max_length=255, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-id"], name="exchange_user_newest_idx"),
            models.Index(fields=["conversation", "-id"], name="exchange_conv_newest_idx"),
            # The sweeper's scan for abandoned reservations: only pending rows.
            models.Index(
                fields=["created_at"],
                name="exchange_pending_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return self.message[:50]


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for a chat request, and the response it got.

    `result` is null while a request holding the key is running. The chat's
    result is stored in the same transaction as its reply, and only by the
    request whose `claim` is still current, so a key is completed exactly
    when one charge is committed.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    # SHA-256 of the request body: the same key must come with the same body.
    fingerprint = models.CharField(max_length=64)
    # Who holds the key: a retry that takes over a stale claim replaces it, and
    # the request it replaced can then neither store a response nor charge.
    claim = models.UUIDField(default=uuid.uuid4)
    # The chat's result (the exchange as it was, and the balance after it) as
    # JSON text (services.idempotency): a replay renders the same bytes.
    result = models.TextField(null=True)  # noqa: DJ001 (null: still running; "" is no result)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key
