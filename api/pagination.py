"""Cursor pagination for every list: a page costs the same however deep it is."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView


class CursorPagination(pagination.CursorPagination):
    """Newest first by id: ids are UUIDv7, so their order is creation order.

    A unique ordering key keeps cursors exact (no offset to skip ties), and
    the `(owner, id)` indexes make each page one index range scan.
    """

    ordering = "-id"
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, OverflowError) as exc:
            # A well-formed cursor whose position is not a valid key
            # (tampered with by hand): the same answer as any bad cursor.
            raise NotFound(self.invalid_cursor_message) from exc


class RecentlyActiveCursorPagination(CursorPagination):
    """Most recently active first, for conversations."""

    ordering = ("-updated_at", "-id")  # type: ignore[assignment]  # DRF takes a tuple
