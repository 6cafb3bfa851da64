"""Conversations, the exchanges in them, and the token ledger.

Ids are UUIDv7: opaque to clients, and ordered by creation time, so "newest
first" is `ORDER BY id DESC` over a `(owner, id)` index.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from uuid_utils.compat import uuid7


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


class TokenTransaction(models.Model):
    """One change to a balance. A user's transactions always sum to their balance."""

    class Kind(models.TextChoices):
        SIGNUP_GRANT = "signup_grant", "Signup grant"
        CHAT_CHARGE = "chat_charge", "Chat charge"
        REFUND = "refund", "Refund"
        ADMIN_ADJUSTMENT = "admin_adjustment", "Admin adjustment"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_transactions"
    )
    amount = models.BigIntegerField(help_text="Signed: negative for a charge.")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    balance_after = models.BigIntegerField()
    # The ledger outlives a deleted conversation: the charge still happened.
    exchange = models.ForeignKey(
        Exchange,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="token_transactions",
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-id"], name="tokentx_user_newest_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="tokentx_amount_non_zero"),
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0), name="tokentx_balance_after_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for a chat request, and the response it got.

    `response_status` is null while a request holding the key is running.
    The response is stored in the same transaction as the charge, and only by
    the request whose `claim` is still current, so a key is completed exactly
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
    response_status = models.PositiveSmallIntegerField(null=True)
    # The JSON as sent, text rather than jsonb: a replay has the same bytes.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key
