"""The custom user, holding the token balance, and the ledger of every change to it."""

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import F
from uuid_utils.compat import uuid7

from users.usernames import username_fold, username_key, username_normalise


class BalanceNotWritable(Exception):
    """A balance was set on a User object: balances change only through users.ledger."""

    def __init__(self) -> None:
        super().__init__(
            "User.tokens changes only through users.ledger (tokens_adjust), "
            "which records the change in the ledger; save() does not write it."
        )


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> "User":
        """The account a log-in names, matched as uniqueness matches (username_key).

        Only accounts grandfathered as look-alikes (`lookalike`) share a key
        with another; each still logs in by its own spelling, and any other
        spelling of the key is the original account's.
        """
        candidates = list(self.filter(username_key=username_key(username or "")))
        if len(candidates) > 1:
            spelling = username_fold(username or "")
            candidates = [u for u in candidates if username_fold(u.username) == spelling] or [
                u for u in candidates if not u.lookalike
            ]
        if not candidates:
            raise self.model.DoesNotExist
        return candidates[0]


class User(AbstractUser):
    """A person with a token balance.

    `tokens` only changes through users.ledger, which writes one ledger row
    in the same transaction. `save()` never writes it, and refuses an object
    whose balance was changed by hand (BalanceNotWritable) rather than drop
    the change silently.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # 64-bit: no grant or adjustment can overflow it.
    tokens = models.BigIntegerField(default=0)
    # Derived from `username` on every save (users.usernames); its unique
    # index is what makes usernames unique in any letter case, width or
    # look-alike spelling.
    username_key = models.TextField(db_index=True, editable=False)
    # An account registered before look-alike names were refused whose name
    # looks like an older account's: it keeps its name and its log-in, and
    # the unique index leaves it out. Staff find them with the admin's filter.
    lookalike = models.BooleanField(default=False, editable=False)
    # Carried as a claim in every token issued to the user and compared with
    # this column on each request (the row is loaded anyway), so raising it
    # ends all of the user's tokens at once at no extra query.
    token_version = models.PositiveIntegerField(default=0, editable=False)

    # The API key this request was authenticated with (set on the request's
    # own User object by users.authentication), so that a chat's charge
    # counts against its spending caps; None for a log-in's access token.
    api_key: "ApiKey | None" = None

    objects: ClassVar[UserManager] = UserManager()
    # The API knows no e-mail; createsuperuser should not insist on one.
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tokens__gte=0), name="users_user_tokens_non_negative"
            ),
            models.UniqueConstraint(
                fields=["username_key"],
                condition=models.Q(lookalike=False),
                name="users_user_username_key_unique",
            ),
        ]

    @classmethod
    def normalize_username(cls, username: str) -> str:
        # Every path that stores a name (API, admin forms, createsuperuser)
        # calls this; like Django's, it leaves a value that is no string alone.
        return username_normalise(username) if isinstance(username, str) else username

    # The balance as last read from or written to the database: what `tokens`
    # may hold when the object is saved. A new User starts with none.
    _tokens_known = 0

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> "User":
        user = super().from_db(db, field_names, values)
        user._tokens_known = user.__dict__.get("tokens", 0)
        return user

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._tokens_known = self.__dict__.get("tokens", 0)

    def balance_observed(self, tokens: int) -> None:
        """Record a balance the ledger has just read or written for this user."""
        self.tokens = self._tokens_known = tokens

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Here rather than in a service, so that every path that saves a user
        # (API, admin, createsuperuser, changepassword, shell) keeps the rules.
        if self.__dict__.get("tokens", self._tokens_known) != self._tokens_known or "tokens" in (
            kwargs.get("update_fields") or ()
        ):
            raise BalanceNotWritable
        self.username_key = username_key(self.username)
        if not self._state.adding and kwargs.get("update_fields") is None:
            # A user object loaded before a chat must not write its stale
            # balance back: `tokens` changes only through the ledgered UPDATE
            # in users.ledger. Nor a stale token version, which
            # would bring revoked tokens back to life.
            kwargs["update_fields"] = _FIELDS_SAVE_WRITES
        # Django sets `_password` only when set_password() is called, not for
        # the hash upgrade at log-in; a new password by any path (API, admin,
        # changepassword) must end every session the old one opened.
        password_changed = getattr(self, "_password", None) is not None and not self._state.adding
        super().save(*args, **kwargs)
        if password_changed:
            self.end_all_sessions()

    def end_all_sessions(self) -> None:
        """Invalidate every access and refresh token issued to this user so far."""
        users = User.objects.filter(pk=self.pk)
        # In the database, not from this object: a concurrent bump must not be lost.
        users.update(token_version=F("token_version") + 1)
        self.token_version = users.values_list("token_version", flat=True).get()


_FIELDS_SAVE_WRITES = [
    field.name
    for field in User._meta.concrete_fields
    if not field.primary_key and field.name not in {"tokens", "token_version"}
]


class RevokedSession(models.Model):
    """A log-in session whose refresh tokens may no longer be used.

    Every refresh token carries its session's id (the `sid` claim, set at
    log-in and kept through rotation). A session is revoked when one of its
    refresh tokens is presented a second time, which means two parties hold
    copies, or when the user logs out.
    """

    sid = models.UUIDField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    revoked_at = models.DateTimeField(auto_now_add=True)
    # No refresh token of the session outlives this, so neither need the row.
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"session {self.sid} of {self.user_id}"


class TokenTransaction(models.Model):
    """One change to a balance. A user's transactions always sum to their balance.

    Written only by users.ledger, in the transaction that changes the balance.
    A chat's charge is linked from its exchange (Exchange.charge), so the
    ledger knows nothing of conversations.
    """

    class Kind(models.TextChoices):
        SIGNUP_GRANT = "signup_grant", "Signup grant"
        CHAT_CHARGE = "chat_charge", "Chat charge"
        REFUND = "refund", "Refund"
        # Per-token pricing: the part of a chat's reservation its reply did not use.
        USAGE_REFUND = "usage_refund", "Usage refund"
        ADMIN_ADJUSTMENT = "admin_adjustment", "Admin adjustment"
        ALLOWANCE = "allowance", "Monthly allowance"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_transactions")
    amount = models.BigIntegerField(help_text="Signed: negative for a charge.")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    balance_after = models.BigIntegerField()
    note = models.CharField(max_length=255, blank=True)
    # The API key a chat charge (or its refund) was made with: the refund
    # gives the key's spending cap back its room (users.keys.key_refund),
    # and the usage report can tell keys apart. Null for a log-in's charges.
    api_key = models.ForeignKey(
        "ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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


class ApiKey(models.Model):
    """A long-lived credential for integrators, shown once and stored as a hash.

    A key is `<KEY_PREFIX><lookup><secret>` (users.keys): `lookup` finds the
    row by a unique index, and the SHA-256 `digest` of the whole key proves
    it. An optional spending cap per UTC day and calendar month is kept by
    the `*_spent` counters, which users.keys changes only in the charge's own
    transaction. Revoking keeps the row (the ledger points to it).
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once a minute (users.keys._key_touch), not per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    daily_cap = models.BigIntegerField(null=True, blank=True)
    monthly_cap = models.BigIntegerField(null=True, blank=True)
    # Spent on `spent_day` (UTC) and in the month starting `spent_month`;
    # a counter whose date has passed counts as 0.
    spent_day = models.DateField(null=True, blank=True)
    spent_today = models.BigIntegerField(default=0)
    spent_month = models.DateField(null=True, blank=True)
    spent_this_month = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["user", "-id"], name="apikey_user_newest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(daily_cap__isnull=True) | models.Q(daily_cap__gt=0),
                name="apikey_daily_cap_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(monthly_cap__isnull=True) | models.Q(monthly_cap__gt=0),
                name="apikey_monthly_cap_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(spent_today__gte=0) & models.Q(spent_this_month__gte=0),
                name="apikey_spent_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"key {self.name} of {self.user_id}"


class MonthlyAllowance(models.Model):
    """One account's allowance for one calendar month (UTC), given at most once.

    The unique (user, month) row is what makes it once: every run and every
    copy of `grant_monthly_allowances` inserts it in the transaction that
    tops the balance up, and only one insert per month can commit. `amount`
    is what was added (0 when the balance already held the allowance; the
    month is spent all the same), with its ledger row in `entry`.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="monthly_allowances")
    month = models.DateField(help_text="The first day of the month (UTC).")
    amount = models.BigIntegerField()
    entry = models.OneToOneField(
        TokenTransaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="allowance_once_a_month"),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="allowance_amount_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"allowance {self.month:%Y-%m} of {self.user_id}: {self.amount}"
