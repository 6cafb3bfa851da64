"""Idempotent retries: the same Idempotency-Key and body get the first response again.

Mobile clients on bad networks retry. A retried chat must not be charged
twice, even when the retry arrives while the first request is still running,
in another server process. The key row is claimed by an INSERT (the unique
index on (user, key) lets exactly one request win), and the response is
stored in the same transaction as the reply, only by the request that still
holds the key.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from conversations.models import IdempotencyKey
from users.models import User

KEY_MAX_CHARS = 255


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool


def idempotency_key_validate(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX_CHARS:
        raise IdempotencyKeyInvalid
    return key


def request_fingerprint(data: Any) -> str:
    """SHA-256 of the body as parsed JSON: key order and spacing do not matter."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


Store = Callable[[int, Any], None]


def idempotent_call(
    *, user: User, key: str, fingerprint: str, call: Callable[[Store], tuple[int, Any]]
) -> StoredResponse:
    """Run `call` once per (user, key); later calls get its stored response.

    `call` returns (status, body), and must call the `store` it is given with
    them inside the transaction that commits its work (the chat's reply):
    `store` raises IdempotencyKeyInProgress when a retry has taken the key
    over meanwhile, which rolls that work back, so only one request's work
    counts. If `call` raises, the key is released and the error propagates:
    a retry runs again.
    """
    claim = _claim(user=user, key=key, fingerprint=fingerprint)
    if isinstance(claim, StoredResponse):
        return claim
    mine = IdempotencyKey.objects.filter(pk=claim.pk, claim=claim.claim, response_status=None)

    def store(status: int, body: Any) -> None:
        if not mine.update(response_status=status, response_body=json.dumps(body)):
            raise IdempotencyKeyInProgress

    try:
        status, body = call(store)
    except BaseException:
        mine.delete()
        raise
    return StoredResponse(status=status, body=body, replayed=False)


def idempotency_keys_purge() -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL_SECONDS; return how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _claim(*, user: User, key: str, fingerprint: str) -> IdempotencyKey | StoredResponse:
    """Take the key for this request, or answer from the request that holds it."""
    ttl = timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    # A key released or expired between our INSERT and SELECT: try again,
    # a bounded number of times.
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, created_at=now
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:
            continue
        if existing.created_at < now - ttl:
            existing.delete()
            continue
        return _answer_from(existing, fingerprint=fingerprint, now=now)
    raise IdempotencyKeyInProgress


def _answer_from(
    existing: IdempotencyKey, *, fingerprint: str, now: datetime
) -> IdempotencyKey | StoredResponse:
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused
    if existing.response_status is None:
        return _take_over_stale(existing, now)
    return StoredResponse(
        status=existing.response_status, body=json.loads(existing.response_body), replayed=True
    )


def _take_over_stale(existing: IdempotencyKey, now: datetime) -> IdempotencyKey:
    """A claim older than IDEMPOTENCY_LOCK_SECONDS: its request died, or is slow.

    Either way the retry takes the key with a new claim. A dead request's
    charge is refunded by the reservation sweeper; a slow one will find its
    claim gone when it tries to store its response, and refund its charge.
    Only one retry can replace the claim it read.
    """
    lock = timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    if existing.created_at >= now - lock:
        raise IdempotencyKeyInProgress
    new_claim = uuid.uuid4()
    taken = IdempotencyKey.objects.filter(
        pk=existing.pk, response_status=None, claim=existing.claim
    ).update(claim=new_claim, created_at=now)
    if not taken:
        raise IdempotencyKeyInProgress
    existing.claim, existing.created_at = new_claim, now
    return existing
