"""Admin forms."""

from django import forms
from django.contrib.auth import forms as auth_forms

from users.models import User
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
