"""OpenAPI pieces shared by the apps: the schema class and error shapes."""

from typing import Any

from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers

from api.pagination import PAGE_SIZE_ERROR_CODES, CursorPagination

BODYLESS_METHODS = {"GET", "HEAD", "DELETE", "OPTIONS"}


class AutoSchema(StandardizedErrorsAutoSchema):
    """drf-standardized-errors' schema, adjusted for this API and for client generators.

    - No body errors on operations that read no body. Its defaults document
      a parse error and a 415 on every operation; ours only read a body on
      POST, and only when they declare one (DRF parses the body when a view
      reads it, so a POST without one never answers 400 or 415 for it).
    - A list's 400 names `page_size` with its codes (api/pagination.py).
    - `security: []` on public operations, not drf-spectacular's `[{}]`
      ("no credentials, optionally"), which generators read as "needs
      authentication".
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is not None and operation.get("security") == [{}]:
            operation["security"] = []
        return operation

    def _get_extra_validation_errors(self) -> dict[str, set[str]]:
        errors: dict[str, set[str]] = super()._get_extra_validation_errors()
        paginator = self._get_paginator()  # type: ignore[no-untyped-call]
        paginated = isinstance(paginator, CursorPagination) and self._is_list_view()
        if self.method == "GET" and paginated:
            errors.setdefault("page_size", set()).update(PAGE_SIZE_ERROR_CODES)
        return errors

    def _reads_a_body(self) -> bool:
        return self.method not in BODYLESS_METHODS and self.get_request_serializer() is not None

    def _should_add_parse_error_response(self) -> bool:
        return self._reads_a_body() and super()._should_add_parse_error_response()

    def _should_add_http415_error_response(self) -> bool:
        return self._reads_a_body() and super()._should_add_http415_error_response()


def _error_response(status: int, codes: list[str], name: str = "") -> type[serializers.Serializer]:
    """The error body for a status whose errors carry one of `codes`."""
    kinds = ServerErrorEnum if status >= 500 else ClientErrorEnum
    error = type(
        f"Error{status}{name}Serializer",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=codes),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True),
        },
    )
    return type(
        f"ErrorResponse{status}{name}Serializer",
        (serializers.Serializer,),
        {
            "type": serializers.ChoiceField(choices=kinds.choices),
            "errors": error(many=True),
        },
    )


ErrorResponse402Serializer = _error_response(402, ["insufficient_tokens"])
ErrorResponse409Serializer = _error_response(409, ["idempotency_key_in_progress"])
ErrorResponse409ConversationSerializer = _error_response(409, ["conversation_busy"], "Conversation")
ErrorResponse422Serializer = _error_response(422, ["idempotency_key_reused"])
ErrorResponse502Serializer = _error_response(502, ["provider_error"])
ErrorResponse504Serializer = _error_response(504, ["provider_timeout"])
# 401s: what authenticated operations answer, and what the two public
# token operations answer instead.
ErrorResponse401Serializer = _error_response(401, ["not_authenticated", "token_not_valid"])
ErrorResponse401LoginSerializer = _error_response(401, ["invalid_credentials"], "Login")
ErrorResponse401TokenSerializer = _error_response(401, ["token_not_valid"], "Token")
