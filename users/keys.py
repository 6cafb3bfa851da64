"""API keys: minting, checking, revoking, and their spending caps.

A key is `chatkey_` + a 12-character lookup + 43 characters of secret (32
random bytes, base64url). Only the lookup and the SHA-256 of the whole key
are stored: the lookup finds the row through a unique index, the digest
proves the key.

Why SHA-256 and not a password hash: a slow, salted hash (PBKDF2, Argon2)
makes guessing a *low-entropy* secret from a stolen hash expensive, and
salting stops one guess from testing many rows. A key carries 256 random
bits: no guess list exists, no two keys share a secret, and a stolen
digest cannot be reversed at any hashing speed. A slow hash would only add
tens of milliseconds to every request. The comparison is constant-time.

Spending caps (tokens per UTC day and per calendar month) are counters on
the key's row, moved only inside the ledger's transaction: `key_spend` is
one UPDATE whose WHERE clause holds the cap check, run in the charge's own
transaction before the balance changes, so concurrent chats can never
spend past a cap and a refused charge leaves nothing behind; `key_refund`
gives a refunded charge's tokens back to the counters of the day and month
the charge was made in (not to today's, if the day has turned since).
"""

import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import BigIntegerField, Case, F, Q, Value, When
from django.db.models.functions import Greatest
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from users.exceptions import SpendingCapReached
from users.models import ApiKey, TokenTransaction, User
from users.selectors import api_key_get_by_lookup

KEY_PREFIX = "chatkey_"
LOOKUP_CHARS = 12
SECRET_BYTES = 32
# token_urlsafe(32): 43 characters, no padding.
KEY_CHARS = len(KEY_PREFIX) + LOOKUP_CHARS + 43
_LOOKUP_ALPHABET = string.ascii_lowercase + string.digits
# last_used_at is written at most this often, so most requests write nothing.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    """A key just created: `secret` is the key itself, shown this once."""

    key: ApiKey
    secret: str


def key_create(
    *,
    user: User,
    name: str,
    expires_at: datetime | None = None,
    daily_cap: int | None = None,
    monthly_cap: int | None = None,
) -> NewKey:
    """Mint a key for the user; the returned secret is never stored or shown again."""
    lookup = "".join(secrets.choice(_LOOKUP_ALPHABET) for _ in range(LOOKUP_CHARS))
    secret = KEY_PREFIX + lookup + secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey.objects.create(
        user=user,
        name=name,
        lookup=lookup,
        digest=_digest(secret),
        expires_at=expires_at,
        daily_cap=daily_cap,
        monthly_cap=monthly_cap,
    )
    return NewKey(key=key, secret=secret)


def key_revoke(*, key: ApiKey) -> None:
    """Revoke a key: the next request that presents it is refused."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def is_api_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (rather than a JWT)."""
    return token.startswith(KEY_PREFIX)


def key_check(token: str) -> ApiKey | None:
    """The usable key `token` is, with its user loaded: one query. None for a
    malformed, unknown, revoked or expired key, or an inactive user's."""
    if len(token) != KEY_CHARS or not token.isascii():
        return None
    lookup = token[len(KEY_PREFIX) : len(KEY_PREFIX) + LOOKUP_CHARS]
    key = api_key_get_by_lookup(lookup)
    if key is None or not hmac.compare_digest(key.digest, _digest(token)):
        return None
    now = timezone.now()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if not key.user.is_active:
        return None
    _key_touch(key=key, now=now)
    return key


def key_spend(*, key: ApiKey, amount: int) -> None:
    """Count a charge against the key's caps, or raise SpendingCapReached.

    Call only inside the charge's transaction (users.ledger does): the
    counters then move if and only if the charge commits. A key without
    caps keeps no counters and costs no query.
    """
    if key.daily_cap is None and key.monthly_cap is None:
        return
    today = timezone.now().date()
    month = today.replace(day=1)
    day_spent = _spent_in(field="spent_today", period="spent_day", start=today)
    month_spent = _spent_in(field="spent_this_month", period="spent_month", start=month)
    fits: list[LessThanOrEqual] = []
    if key.daily_cap is not None:
        fits.append(LessThanOrEqual(day_spent + amount, F("daily_cap")))
    if key.monthly_cap is not None:
        fits.append(LessThanOrEqual(month_spent + amount, F("monthly_cap")))
    # In SET, every column reads its value from before the UPDATE.
    updated = ApiKey.objects.filter(*fits, pk=key.pk).update(
        spent_day=today,
        spent_today=day_spent + amount,
        spent_month=month,
        spent_this_month=month_spent + amount,
    )
    if not updated:
        raise SpendingCapReached


def key_refund(*, charge_id: uuid.UUID, amount: int) -> uuid.UUID | None:
    """Give a refunded charge's tokens back to its key's caps; the key's id,
    or None for a charge made without a key. Inside the refund's transaction."""
    charge = (
        TokenTransaction.objects.filter(pk=charge_id, api_key__isnull=False)
        .values("api_key_id", "created_at")
        .first()
    )
    if charge is None:
        return None
    day = charge["created_at"].astimezone(UTC).date()
    ApiKey.objects.filter(pk=charge["api_key_id"]).update(
        spent_today=_given_back(field="spent_today", period="spent_day", start=day, amount=amount),
        spent_this_month=_given_back(
            field="spent_this_month", period="spent_month", start=day.replace(day=1), amount=amount
        ),
    )
    key_id: uuid.UUID = charge["api_key_id"]
    return key_id


def _spent_in(*, field: str, period: str, start: object) -> Case:
    """What the counter `field` holds for the period beginning `start` (0 if it
    counts an earlier one)."""
    return Case(
        When(**{period: start}, then=F(field)),
        default=Value(0),
        output_field=BigIntegerField(),
    )


def _given_back(*, field: str, period: str, start: object, amount: int) -> Case:
    # Never below 0: a charge made a hair before midnight may be counted
    # in the day after it, by the clock of its ledger row.
    return Case(
        When(**{period: start}, then=Greatest(F(field) - amount, Value(0))),
        default=F(field),
        output_field=BigIntegerField(),
    )


def _key_touch(*, key: ApiKey, now: datetime) -> None:
    """Record the key's use, at most once per LAST_USED_PRECISION."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
