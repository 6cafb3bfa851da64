"""Admin forms."""

from django import forms

# Generous, but far from the integer column's limit.
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
