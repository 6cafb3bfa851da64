"""Request and response shapes of the account endpoints."""

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from api.fields import StrictCharField
from users.models import User

REGISTERED_MESSAGE = "User registered successfully"
# Long enough for any password manager; short enough that hashing stays cheap.
PASSWORD_MAX_CHARS = 256
USERNAME_MAX_CHARS = 150


class UsernameField(StrictCharField):
    """A username as it will be stored (users.usernames.username_normalise)
    before it is validated.

    Normalising can lengthen a name or change its characters, so the length
    and character rules must see the normalised form (as Django's own
    UsernameField does).
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


class RegisterInputSerializer(serializers.Serializer):
    username = UsernameField(
        max_length=USERNAME_MAX_CHARS,
        help_text=(
            "Letters (any script), digits and @ . + - _; unique in any letter case, "
            "width or look-alike spelling (`admin` with a Cyrillic a is `admin`)."
        ),
    )
    password = StrictCharField(max_length=PASSWORD_MAX_CHARS, trim_whitespace=False)

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
    new_password = StrictCharField(max_length=PASSWORD_MAX_CHARS, trim_whitespace=False)

    def validate_new_password(self, value: str) -> str:
        try:
            validate_password(value, user=self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from exc
        return value
