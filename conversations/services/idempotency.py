"""Idempotent retries: the same Idempotency-Key and body get the first result again.

Mobile clients on bad networks retry. A retried chat must not be charged
twice, even when the retry arrives while the first request is still running,
in another server process. The key row is claimed by an INSERT (the unique
index on (user, key) lets exactly one request win), and the chat's result is
stored in the same transaction as the reply, only by the request that still
holds the key. A replay is that result, marked `replayed`: the view renders
it as it rendered the first, byte for byte.
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.fields import WHITESPACE
from conversations.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from conversations.models import Exchange, IdempotencyKey
from conversations.services.reservations import ChatResult
from users.models import User

KEY_MAX_CHARS = 255
# No whitespace at either end: HTTP strips it from a header's value, so such
# a key is not the one that would arrive (and spaces alone arrive as none).
KEY_PATTERN = f"^[^{WHITESPACE}](.*[^{WHITESPACE}])?$"
# The same rule, read here as the schema states it (DOTALL: a character
# inside the key may be any).
KEY_FORM = re.compile(KEY_PATTERN, re.S)


@dataclass(frozen=True)
class IdempotencyRequest:
    """A client's key and the fingerprint of the request that came with it."""

    key: str
    fingerprint: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.key) <= KEY_MAX_CHARS or not KEY_FORM.fullmatch(self.key):
            raise IdempotencyKeyInvalid


@dataclass(frozen=True)
class IdempotencyClaim:
    """This request holds the key: its result is stored only while it still does."""

    row: IdempotencyKey

    def store(self, result: ChatResult) -> None:
        """Keep the result for replays; call it in the transaction that commits the
        chat. IdempotencyKeyInProgress when a retry has taken the key over
        meanwhile, which rolls that transaction back: only one request's chat counts."""
        if not self._mine().update(result=json.dumps(_snapshot(result))):
            raise IdempotencyKeyInProgress

    def _mine(self) -> Any:
        return IdempotencyKey.objects.filter(pk=self.row.pk, claim=self.row.claim, result=None)


def request_fingerprint(data: Any) -> str:
    """SHA-256 of the body as parsed JSON: key order and spacing do not matter."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def idempotency_claim(*, user: User, request: IdempotencyRequest) -> IdempotencyClaim | ChatResult:
    """Take the key for this request, or the result of the request that took it first.

    IdempotencyKeyReused when the key came with another body;
    IdempotencyKeyInProgress while the first request is still running.
    """
    ttl = timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    # A key released or expired between our INSERT and SELECT: try again,
    # a bounded number of times.
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user=user, key=request.key, fingerprint=request.fingerprint, created_at=now
                )
            return IdempotencyClaim(row)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=request.key).first()
        if existing is None:
            continue
        if existing.created_at < now - ttl:
            existing.delete()
            continue
        if existing.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused
        if existing.result is None:
            return IdempotencyClaim(_take_over_stale(existing, now))
        return _replay(existing.result)
    raise IdempotencyKeyInProgress


def idempotency_release(*, claim: IdempotencyClaim) -> None:
    """The request failed: let a retry run it again (unless a retry already took the key)."""
    claim._mine().delete()


def idempotency_keys_purge() -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL_SECONDS; return how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _take_over_stale(existing: IdempotencyKey, now: datetime) -> IdempotencyKey:
    """A claim older than IDEMPOTENCY_LOCK_SECONDS: its request died, or is slow.

    Either way the retry takes the key with a new claim. A dead request's
    charge is refunded by the reservation sweeper; a slow one will find its
    claim gone when it tries to store its result, and refund its charge.
    Only one retry can replace the claim it read.
    """
    lock = timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    if existing.created_at >= now - lock:
        raise IdempotencyKeyInProgress
    new_claim = uuid.uuid4()
    taken = IdempotencyKey.objects.filter(pk=existing.pk, result=None, claim=existing.claim).update(
        claim=new_claim, created_at=now
    )
    if not taken:
        raise IdempotencyKeyInProgress
    existing.claim, existing.created_at = new_claim, now
    return existing


# The exchange's fields a result is rendered from: kept as they were, so a
# replay is the same answer even if the exchange has been deleted since.
SNAPSHOT_FIELDS = (
    "id",
    "conversation_id",
    "message",
    "response",
    "status",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "tokens_charged",
)


def _snapshot(result: ChatResult) -> dict[str, Any]:
    exchange = result.exchange
    fields = {name: getattr(exchange, name) for name in SNAPSHOT_FIELDS}
    fields["id"], fields["conversation_id"] = str(exchange.id), str(exchange.conversation_id)
    fields["created_at"] = exchange.created_at.isoformat()
    return {"exchange": fields, "remaining_tokens": result.remaining_tokens}


def _replay(stored: str) -> ChatResult:
    snapshot = json.loads(stored)
    fields = snapshot["exchange"]
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return ChatResult(
        exchange=Exchange(**fields), remaining_tokens=snapshot["remaining_tokens"], replayed=True
    )
