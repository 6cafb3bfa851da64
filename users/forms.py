"""Admin forms."""

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import forms as auth_forms

from api.exceptions import RETRY_AFTER_SECONDS, ServiceUnavailable
from users.models import User
from users.throttling import login_form_throttle_wait
from users.usernames import username_key

# Generous; the 64-bit balance column is far beyond any sum of these.
MAX_ADJUSTMENT = 1_000_000_000


class TokenAdjustmentForm(forms.Form):
    amount = forms.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Tokens to add; negative to remove. Never takes a balance below zero.",
    )
    note = forms.CharField(max_length=255, help_text="Why: kept in the ledger.")

    def clean_amount(self) -> int:
        amount: int = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Enter a non-zero amount.")
        return amount


USERNAME_TAKEN_IN_ANY_CASE = (
    "A user with that username, or one that looks the same, already exists."
)


class UsernameKeyUniqueMixin(forms.ModelForm):
    """Usernames are unique in any letter case or look-alike spelling: say so on
    the form, not with a 500."""

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        instance: User = self.instance
        if instance.pk and instance.lookalike and username == instance.username:
            # A grandfathered look-alike keeps the name it has.
            return username
        clash = User.objects.filter(username_key=username_key(username), lookalike=False)
        if instance.pk:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise forms.ValidationError(USERNAME_TAKEN_IN_ANY_CASE, code="unique")
        # A look-alike renamed to a name of its own is an ordinary account again.
        instance.lookalike = False
        return username


# The admin picks the fields from its fieldsets; Meta only names the model.
class UserCreationForm(UsernameKeyUniqueMixin, auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("username",)


class UserChangeForm(UsernameKeyUniqueMixin, auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = ("username",)


LOGIN_UNAVAILABLE = "Log-in is unavailable for a moment. Try again in %(seconds)d seconds."
LOGIN_THROTTLED = (
    "Too many log-in attempts for this account or from this address. "
    "Try again in %(seconds)d seconds."
)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's log-in, within the API's log-in limits (users.throttling):
    the same budgets, per address and per account whatever the spelling."""

    # Seconds until the next attempt may be made, when this one was refused.
    retry_after: int | None = None
    # The limits could not be counted (the cache is down): refused, 503.
    unavailable = False

    def clean(self) -> dict[str, Any]:
        if self.request is not None:
            try:
                self.retry_after = login_form_throttle_wait(self.request)
            except ServiceUnavailable:
                # Fail closed, as the API's log-in does: no unlimited guessing.
                self.unavailable = True
                self.retry_after = RETRY_AFTER_SECONDS
                raise forms.ValidationError(
                    LOGIN_UNAVAILABLE, code="unavailable", params={"seconds": self.retry_after}
                ) from None
        if self.retry_after is not None:
            # Before the password is checked: over the limit, even the right one fails.
            raise forms.ValidationError(
                LOGIN_THROTTLED, code="throttled", params={"seconds": self.retry_after}
            )
        return super().clean()
