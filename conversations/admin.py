"""Admin: conversations and their exchanges, read-only (the ledger is in users.admin)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from conversations.models import Conversation, Exchange


class ReadOnlyAdminMixin:
    """History is written by the services only; the admin shows it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ExchangeInline(ReadOnlyAdminMixin, admin.TabularInline[Exchange, Conversation]):
    model = Exchange
    fields = ("created_at", "message", "response", "tokens_charged")
    readonly_fields = fields
    ordering = ("id",)
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Conversation]):
    list_display = ("title", "user", "created_at", "updated_at")
    list_select_related = ("user",)
    search_fields = ("title", "user__username")
    inlines = (ExchangeInline,)
