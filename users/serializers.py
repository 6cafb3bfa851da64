"""Request and response shapes of the account endpoints."""

from datetime import datetime
from typing import Any

from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    get_default_password_validators,
    validate_password,
)
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import get_error_detail

from api.fields import (
    WHITESPACE,
    StrictCharField,
    StrictDateField,
    StrictDateTimeField,
    StrictIntegerField,
)
from users.exceptions import EXPIRY_IN_THE_PAST, USAGE_FROM_AFTER_TO, USAGE_RANGE_TOO_LONG
from users.keys import KEY_PREFIX
from users.models import ApiKey, User
from users.usernames import IGNORABLE_BMP

REGISTERED_MESSAGE = "User registered successfully"
# Long enough for any password manager; short enough that hashing stays cheap.
PASSWORD_MAX_CHARS = 256
USERNAME_MAX_CHARS = 150
# What the schema can say about a username as sent: no ASCII character but
# letters, digits and @ . + - _, and no whitespace inside it; around it,
# whitespace and invisible characters, which username_normalise drops. Which
# letters and digits of other scripts are allowed is judged on the normalised
# name: a JSON Schema pattern cannot name Unicode classes that every regex
# engine reads alike (nor characters past U+FFFF: ECMAScript without its
# u flag reads them as two).
_AROUND = WHITESPACE + IGNORABLE_BMP
_NOT_IN_NAME = r"\x00-\x2a\x2c\x2f\x3a-\x3f\x5b-\x5e\x60\x7b-\x7f" + WHITESPACE
USERNAME_PATTERN = rf"^[{_AROUND}]*[^{_NOT_IN_NAME}]+[{_AROUND}]*$"
PASSWORD_PATTERN = r"^[^\x00]*[^\x00\x30-\x39][^\x00]*$"  # noqa: S105 (a pattern)


def _password_min_length() -> int:
    for validator in get_default_password_validators():
        if isinstance(validator, MinimumLengthValidator):
            return int(validator.min_length)
    return 1


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": USERNAME_MAX_CHARS,
        "pattern": USERNAME_PATTERN,
    }
)
class UsernameField(StrictCharField):
    """A username as it will be stored (users.usernames.username_normalise)
    before it is validated.

    Normalising can lengthen a name or change its characters, so the length
    and character rules must see the normalised form (as Django's own
    UsernameField does). The name as sent is held to the schema's maxLength
    too, as every StrictCharField's is: a client that checks it is never
    refused a name the schema allows, nor allowed one it refuses
    (USERNAME_PATTERN is drawn so that every name it refuses is refused here
    too).
    """

    def to_internal_value(self, data: Any) -> str:
        return User.normalize_username(super().to_internal_value(data))

    def run_validators(self, value: Any) -> None:
        super().run_validators(value)
        # Here rather than in `validators`, where the schema would publish its
        # regex as an ASCII-only pattern (\w is ASCII in ECMAScript).
        try:
            UnicodeUsernameValidator()(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from exc


@extend_schema_field(
    {
        "type": "string",
        "minLength": _password_min_length(),
        "maxLength": PASSWORD_MAX_CHARS,
        # Not digits alone (one character at least that is not 0-9), and no
        # NUL, which no CharField takes.
        "pattern": PASSWORD_PATTERN,
    }
)
class NewPasswordField(StrictCharField):
    """A password being chosen, as AUTH_PASSWORD_VALIDATORS will judge it.

    The schema states the rules it can (its length, not digits alone); the
    validators also refuse common passwords and ones too like the username,
    which no schema can say. Their errors keep their own codes
    (`password_too_short`, …), so the field sets no length of its own but
    the maximum.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=PASSWORD_MAX_CHARS, trim_whitespace=False, **kwargs)


class RegisterInputSerializer(serializers.Serializer):
    username = UsernameField(
        max_length=USERNAME_MAX_CHARS,
        help_text=(
            "Letters and digits of any script, and @ . + - _ (no other ASCII character); "
            "whitespace and invisible characters around it are dropped; unique in any "
            "letter case, width or look-alike spelling (`admin` with a Cyrillic a is `admin`)."
        ),
    )
    password = NewPasswordField(
        help_text=(
            f"At least {_password_min_length()} characters, not digits alone, not a common "
            "password, not too like the username."
        )
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            validate_password(attrs["password"], user=User(username=attrs["username"]))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": get_error_detail(exc)}) from exc
        return attrs


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "tokens", "date_joined"]
        read_only_fields = fields


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "tokens"]
        read_only_fields = fields


class RegisterOutputSerializer(UserSummarySerializer):
    message = serializers.SerializerMethodField()

    class Meta(UserSummarySerializer.Meta):
        fields = [*UserSummarySerializer.Meta.fields, "message"]
        read_only_fields = fields

    def get_message(self, user: User) -> str:
        return REGISTERED_MESSAGE


class LoginInputSerializer(serializers.Serializer):
    username = StrictCharField(max_length=USERNAME_MAX_CHARS)
    password = StrictCharField(max_length=PASSWORD_MAX_CHARS, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    """What log-in, refresh and password change return: a new pair."""

    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(help_text="Exchange at /auth/refresh/ for a new pair.")
    token_type = serializers.CharField(help_text='Always "Bearer".')
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class LoginOutputSerializer(TokenPairSerializer):
    user = UserSummarySerializer()


class RefreshInputSerializer(serializers.Serializer):
    refresh = StrictCharField()


class PasswordChangeInputSerializer(serializers.Serializer):
    """Needs the caller as `context["user"]`: the validators compare the new
    password with the username."""

    old_password = StrictCharField(max_length=PASSWORD_MAX_CHARS, trim_whitespace=False)
    new_password = NewPasswordField(help_text="The same rules as at registration.")

    def validate_new_password(self, value: str) -> str:
        try:
            validate_password(value, user=self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from exc
        return value


# A cap above any balance the ledger could reach is no cap; the bound keeps
# the counters' arithmetic far from 64-bit overflow.
SPENDING_CAP_MAX = 10**15
KEY_NAME_MAX_CHARS = 100


class ApiKeyCreateInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=KEY_NAME_MAX_CHARS, help_text="What the key is for.")
    expires_at = StrictDateTimeField(
        required=False,
        allow_null=True,
        help_text="When the key stops working (in the future); leave out for never.",
    )
    daily_cap = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=SPENDING_CAP_MAX,
        help_text="The most tokens chats made with this key may cost per UTC day.",
    )
    monthly_cap = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=SPENDING_CAP_MAX,
        help_text="The most tokens chats made with this key may cost per calendar month (UTC).",
    )

    def validate_expires_at(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError(EXPIRY_IN_THE_PAST, code="expires_in_the_past")
        return value


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    prefix = serializers.SerializerMethodField(
        help_text="The key's first characters, to tell keys apart (the rest is never shown)."
    )
    spent_today = serializers.SerializerMethodField(
        help_text="Tokens spent with this key today (UTC); counted only when it has a cap."
    )
    spent_this_month = serializers.SerializerMethodField(
        help_text="Tokens spent with this key this month (UTC); counted only when it has a cap."
    )

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "daily_cap",
            "monthly_cap",
            "spent_today",
            "spent_this_month",
        ]
        read_only_fields = fields

    def get_prefix(self, key: ApiKey) -> str:
        return KEY_PREFIX + key.lookup

    def get_spent_today(self, key: ApiKey) -> int:
        return key.spent_today if key.spent_day == timezone.now().date() else 0

    def get_spent_this_month(self, key: ApiKey) -> int:
        month = timezone.now().date().replace(day=1)
        return key.spent_this_month if key.spent_month == month else 0


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField(
        help_text="The key itself, shown this once: keep it secret. Send it as "
        "`Authorization: Bearer <key>`."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = ["key", *ApiKeySerializer.Meta.fields]
        read_only_fields = fields

    def get_key(self, key: ApiKey) -> str:
        return str(self.context["secret"])


USAGE_MAX_DAYS = 366
USAGE_MAX_MONTHS = 120


class UsageQuerySerializer(serializers.Serializer):
    """`?from=&to=&group=`: UTC dates, both included."""

    group = serializers.ChoiceField(
        choices=["day", "month"],
        required=False,
        default="day",
        help_text="A row per day or per calendar month.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword: no class attribute can carry the name.
        return {
            "from": StrictDateField(
                required=False,
                help_text=(
                    "First day (UTC), included. Default: the first of `to`'s month "
                    "(`group=day`) or year (`group=month`)."
                ),
            ),
            "to": StrictDateField(
                required=False, help_text="Last day (UTC), included. Default: today."
            ),
            **super().get_fields(),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or timezone.now().date()
        group = attrs["group"]
        default_start = end.replace(day=1) if group == "day" else end.replace(month=1, day=1)
        start = attrs.get("from") or default_start
        if start > end:
            raise serializers.ValidationError(
                {"from": [ErrorDetail(USAGE_FROM_AFTER_TO, code="after_to")]}
            )
        days = (end - start).days + 1
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        if (group == "day" and days > USAGE_MAX_DAYS) or months > USAGE_MAX_MONTHS:
            raise serializers.ValidationError(
                {"from": [ErrorDetail(USAGE_RANGE_TOO_LONG, code="range_too_long")]}
            )
        return {"start": start, "end": end, "group": group}


class UsageReportTotalsSerializer(serializers.Serializer):
    charged = serializers.IntegerField(help_text="Tokens charged for chats.")
    refunded = serializers.IntegerField(help_text="Tokens given back for chats that failed.")
    net = serializers.IntegerField(help_text="`charged` minus `refunded`: what chats cost.")
    chats = serializers.IntegerField(help_text="Chats charged (refunded ones included).")


class UsageReportPeriodSerializer(UsageReportTotalsSerializer):
    period = serializers.DateField(help_text="The day, or the first day of the month (UTC).")


class UsageReportSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=["day", "month"])
    totals = UsageReportTotalsSerializer()
    periods = UsageReportPeriodSerializer(many=True, help_text="Every day or month of the range.")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateField(source="start"),
            "to": serializers.DateField(source="end"),
            **super().get_fields(),
        }
