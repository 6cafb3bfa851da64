"""Admin: balances are read-only and change only through a ledgered action;
the ledger itself is read-only."""

import structlog
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from users.exceptions import InsufficientTokens
from users.forms import TokenAdjustmentForm, UserChangeForm, UserCreationForm
from users.keys import key_revoke
from users.ledger import tokens_adjust
from users.models import ApiKey, MonthlyAllowance, TokenTransaction, User

logger = structlog.get_logger(__name__)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "tokens", "is_staff", "is_active", "date_joined")
    # Accounts whose names look like an older account's, from before such
    # names were refused (users/migrations/0004_username_lookalikes.py).
    list_filter = (*DjangoUserAdmin.list_filter, "lookalike")
    readonly_fields = ("tokens", "last_login", "date_joined")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Tokens", {"fields": ("tokens",)}),
    )
    actions = ("adjust_tokens",)
    form = UserChangeForm
    add_form = UserCreationForm

    @admin.action(description="Adjust token balance of selected users", permissions=["change"])
    def adjust_tokens(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> TemplateResponse | None:
        form = TokenAdjustmentForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for user in queryset:
                try:
                    tokens_adjust(
                        user=user,
                        amount=form.cleaned_data["amount"],
                        kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT,
                        note=form.cleaned_data["note"],
                    )
                except InsufficientTokens:
                    self.message_user(
                        request,
                        f"{user.username}: the balance ({user.tokens}) cannot go below zero; "
                        "left unchanged.",
                        messages.ERROR,
                    )
                else:
                    logger.info(
                        "admin.balance_adjusted",
                        admin_id=str(request.user.pk),
                        user_id=str(user.pk),
                        amount=form.cleaned_data["amount"],
                        balance_after=user.tokens,
                    )
                    self.message_user(
                        request, f"{user.username}: balance is now {user.tokens}.", messages.SUCCESS
                    )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust token balance",
            "opts": self.model._meta,
            "form": form,
            "users": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/users/user/adjust_tokens.html", context)


@admin.register(TokenTransaction)
class TokenTransactionAdmin(admin.ModelAdmin[TokenTransaction]):
    """The ledger is written by users.ledger only; the admin shows it."""

    list_display = ("created_at", "user", "kind", "amount", "balance_after", "note")
    list_filter = ("kind",)
    list_select_related = ("user",)
    search_fields = ("user__username",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Keys are created by their owners through the API and never shown again;
    staff see them (no secret is stored) and can revoke them, at once."""

    list_display = ("name", "user", "lookup", "created_at", "last_used_at", "expires_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("user__username", "lookup", "name")
    actions = ("revoke",)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} API keys.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in ApiKey._meta.fields]


@admin.register(MonthlyAllowance)
class MonthlyAllowanceAdmin(admin.ModelAdmin[MonthlyAllowance]):
    """Written by grant_monthly_allowances only; the admin shows it."""

    list_display = ("month", "user", "amount", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
