"""Cursor pagination for every list: a page costs the same however deep it is."""

import base64
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# The codes a bad `page_size` gets (400, `attr: "page_size"`), for the schema.
PAGE_SIZE_ERROR_CODES = ["invalid", "min_value", "max_value", "max_string_length"]
_INTEGER = re.compile(r"-?[0-9]+")
# What DRF writes in a cursor: its offset, direction and position.
_CURSOR_KEYS = {"o", "r", "p"}


class PageSizeField(serializers.IntegerField):
    """A whole number written in ASCII digits, as the schema's `integer` means.

    DRF's IntegerField also takes "1.0", " 5" and other scripts' digits.
    """

    def to_internal_value(self, data: Any) -> int:
        if not (isinstance(data, str) and _INTEGER.fullmatch(data)):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class CursorPagination(pagination.CursorPagination):
    """Newest first by id: ids are UUIDv7, so their order is creation order.

    A unique ordering key keeps cursors exact (no offset to skip ties), and
    the `(owner, id)` indexes make each page one index range scan.

    Each page gives the next and previous pages both as URLs (`next`,
    `previous`) and as bare cursors (`next_cursor`, `previous_cursor`) to
    send back as `?cursor=`. A `page_size` that is not a whole number from 1
    to `max_page_size` is a 400 on `page_size`, not quietly replaced.
    """

    ordering = "-id"
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    cursor_query_description = (
        "A page's `next_cursor` or `previous_cursor`; leave out for the first page."
    )
    page_size_query_description = "How many results a page holds."

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, OverflowError) as exc:
            # A well-formed cursor whose position is not a valid key
            # (tampered with by hand): the same answer as any bad cursor.
            raise NotFound(self.invalid_cursor_message) from exc

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        # DRF skips what is not base64 and ignores keys it does not know, so
        # "!!!" or base64 of "zzz" read as the first page: a cursor the server
        # never gave is a bad cursor, as the docs say. (One that decodes to
        # nothing stays the first page, as DRF has it.)
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded:
            try:
                decoded = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            except ValueError as exc:  # binascii.Error and UnicodeError are ValueErrors
                raise NotFound(self.invalid_cursor_message) from exc
            if not set(parse_qs(decoded, keep_blank_values=True)) <= _CURSOR_KEYS:
                raise NotFound(self.invalid_cursor_message)
        return super().decode_cursor(request)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return int(self.page_size)
        field = PageSizeField(min_value=1, max_value=self.max_page_size)
        try:
            return int(field.run_validation(raw))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({self.page_size_query_param: exc.detail}) from exc

    def get_paginated_response(self, data: Any) -> Response:
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        return Response(
            {
                "next": next_link,
                "previous": previous_link,
                "next_cursor": self._cursor_of(next_link),
                "previous_cursor": self._cursor_of(previous_link),
                "results": data,
            }
        )

    def _cursor_of(self, link: str | None) -> str | None:
        if link is None:
            return None
        return parse_qs(urlsplit(link).query)[self.cursor_query_param][0]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        cursor = {
            "type": "string",
            "nullable": True,
            "description": "Send as `?cursor=` for that page; null when there is none.",
            "example": "cD0yMDI2LTAxLTAx",
        }
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"] = {
            "next": paginated["properties"]["next"],
            "previous": paginated["properties"]["previous"],
            "next_cursor": dict(cursor),
            "previous_cursor": dict(cursor),
            "results": schema,
        }
        # Every member is always there (null when there is no such page).
        paginated["required"] = list(paginated["properties"])
        return paginated

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters


class RecentlyActiveCursorPagination(CursorPagination):
    """Most recently active first, for conversations."""

    ordering = ("-updated_at", "-id")  # type: ignore[assignment]  # DRF takes a tuple
