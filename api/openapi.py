"""OpenAPI pieces shared by the apps: the schema class, error shapes, server-sent events.

The schema is read by client generators as much as by people, so it says
things the way generators read them: an operation anyone may call has no
security requirement at all, and an event stream is a string body (the
events are documented beside it, see `AutoSchema._get_response_for_code`).
"""

from typing import Any

from drf_spectacular.drainage import get_override
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers

from api.fields import WHITESPACE
from api.pagination import PAGE_SIZE_ERROR_CODES, CursorPagination

BODYLESS_METHODS = {"GET", "HEAD", "DELETE", "OPTIONS"}
# Any text without a NUL character, which DRF refuses in every CharField.
NO_NUL = r"^[^\x00]*$"
# ... and with a character that is not whitespace, for a field that strips
# it and refuses what is left blank. Whitespace is what str.strip() removes,
# spelled out: regex engines disagree on what \s means.
NOT_BLANK = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"
EVENT_STREAM = "text/event-stream"
# OpenAPI 3.2's name for the schema of each item of a streamed body; 3.0
# has no such field, so it travels as an extension (tests/fuzz reads it).
ITEM_SCHEMA = "x-itemSchema"
EVENT_STREAM_BODY = {
    "type": "string",
    "description": (
        "The raw `text/event-stream` body: events of `event:` and `data:` lines, each "
        "one described by this media type's `x-itemSchema`."
    ),
}


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
    - A text field in a request says it takes no NUL character (nor only
      whitespace, when it strips it and refuses blank text).
    - A field's own schema (extend_schema_field) keeps its minLength.
    - An event stream's body is a string (what a client gets to read); the
      schema its events follow moves to `x-itemSchema`.
    - Every operation in our error format may answer 503: each reads the
      database (api/exceptions.py).
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        if operation.get("security") == [{}]:
            operation["security"] = []
        responses = operation.get("responses", {})
        # A 500 in our format (the OpenAI-compatible operations have their own).
        if "500" in responses and "503" not in responses:
            responses["503"] = self._get_response_for_code(ErrorResponse503Serializer, "503")
        return operation

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: Any = None,
        direction: Any = "response",
    ) -> dict[str, Any]:
        response: dict[str, Any] = super()._get_response_for_code(  # type: ignore[no-untyped-call]
            serializer, status_code, media_types, direction
        )
        stream = response.get("content", {}).get(EVENT_STREAM)
        if stream is not None and "schema" in stream:
            stream[ITEM_SCHEMA] = stream.pop("schema")
            stream["schema"] = dict(EVENT_STREAM_BODY)
        return response

    def _get_extra_validation_errors(self) -> dict[str, set[str]]:
        errors: dict[str, set[str]] = super()._get_extra_validation_errors()
        paginator = self._get_paginator()  # type: ignore[no-untyped-call]
        paginated = isinstance(paginator, CursorPagination) and self._is_list_view()
        if self.method == "GET" and paginated:
            errors.setdefault("page_size", set()).update(PAGE_SIZE_ERROR_CODES)
        return errors

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )
        # DRF refuses NUL in any CharField (null_characters_not_allowed),
        # and blank text (once stripped) unless allow_blank.
        text = isinstance(field, serializers.CharField) and schema.get("type") == "string"
        if direction == "request" and text and not {"pattern", "format"} & set(schema):
            stripped = field.trim_whitespace and not field.allow_blank
            schema["pattern"] = NOT_BLANK if stripped else NO_NUL
        return schema

    def _get_serializer_field_meta(self, field: Any, direction: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(  # type: ignore[no-untyped-call]
            field, direction
        )
        # A field whose schema is given whole (extend_schema_field) keeps its
        # own minLength: drf-spectacular would set 1 for any non-blank field.
        override = get_override(field, "field")
        if isinstance(override, dict) and "minLength" in override:
            meta.pop("minLength", None)
        return meta

    def _reads_a_body(self) -> bool:
        return self.method not in BODYLESS_METHODS and self.get_request_serializer() is not None

    def _should_add_parse_error_response(self) -> bool:
        return self._reads_a_body() and super()._should_add_parse_error_response()

    def _should_add_http415_error_response(self) -> bool:
        return self._reads_a_body() and super()._should_add_http415_error_response()


def _error_response(status: int, codes: list[str], name: str = "") -> type[serializers.Serializer]:
    """The error body for a status whose errors carry one of `codes`."""
    kinds = ServerErrorEnum if status >= 500 else ClientErrorEnum
    return error_body(f"{status}{name}", codes, kinds.choices)


def error_body(name: str, codes: list[str], kinds: Any) -> type[serializers.Serializer]:
    """The error format, `{type, errors: [{code, detail, attr}]}`, as components
    `ErrorResponse<name>` and `Error<name>`, for errors carrying one of `codes`."""
    error = type(
        f"Error{name}Serializer",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=codes),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True),
        },
    )
    return type(
        f"ErrorResponse{name}Serializer",
        (serializers.Serializer,),
        {
            "type": serializers.ChoiceField(choices=kinds),
            "errors": error(many=True),
        },
    )


ErrorResponse402Serializer = _error_response(402, ["insufficient_tokens", "spending_cap_reached"])
ErrorResponse409Serializer = _error_response(409, ["idempotency_key_in_progress"])
ErrorResponse409ConversationSerializer = _error_response(409, ["conversation_busy"], "Conversation")
ErrorResponse422Serializer = _error_response(422, ["idempotency_key_reused"])
ErrorResponse502Serializer = _error_response(502, ["provider_error"])
ErrorResponse504Serializer = _error_response(504, ["provider_timeout"])
# A dependency is down: the log-in operations (their limits cannot be
# counted) and readiness (one error per dependency, `attr` naming it).
ErrorResponse503Serializer = _error_response(503, ["service_unavailable"])
# 401s: what authenticated operations answer, and what the two public
# token operations answer instead.
ErrorResponse401Serializer = _error_response(401, ["not_authenticated", "token_not_valid"])
ErrorResponse401LoginSerializer = _error_response(401, ["invalid_credentials"], "Login")
ErrorResponse401TokenSerializer = _error_response(401, ["token_not_valid"], "Token")


# --- Server-sent events -----------------------------------------------------


class EventNameField(serializers.CharField):
    """A server-sent event's `event` line, always `name`. For the schema only."""

    def __init__(self, *, name: str, **kwargs: Any) -> None:
        self.name = name
        super().__init__(**kwargs)


class EventDataField(serializers.CharField):
    """A server-sent event's `data` line: JSON shaped like `payload`. For the schema only."""

    def __init__(self, *, payload: type[serializers.Serializer], **kwargs: Any) -> None:
        self.payload = payload
        super().__init__(**kwargs)


# drf-spectacular's extension base is untyped; subclassing it registers one.
class EventNameFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = EventNameField

    def map_serializer_field(self, auto_schema: SpectacularAutoSchema, direction: Any) -> Any:
        return {"type": "string", "enum": [self.target.name]}


class EventDataFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """A string (an event's data is text), its JSON's schema a named component.

    JSON Schema's `contentMediaType` and `contentSchema` say that, but
    OpenAPI 3.0 has neither, so they travel as extensions (tests/fuzz
    checks each event's data against them).
    """

    target_class = EventDataField

    def map_serializer_field(self, auto_schema: SpectacularAutoSchema, direction: Any) -> Any:
        payload = auto_schema.resolve_serializer(self.target.payload, direction)
        return {
            "type": "string",
            "x-contentMediaType": "application/json",
            "x-contentSchema": payload.ref,
        }


def server_sent_event(
    prefix: str, name: str, payload: type[serializers.Serializer], description: str
) -> type[serializers.Serializer]:
    """The schema of one kind of server-sent event: `event: <name>`, then
    `data: <payload as JSON>`. Named `<prefix><Name>Event` in the schema."""

    def get_fields(self: serializers.Serializer) -> dict[str, serializers.Field]:
        # Built here because a field named "data" would hide Serializer.data.
        return {
            "event": EventNameField(name=name),
            "data": EventDataField(payload=payload, help_text=description),
        }

    return type(
        f"{prefix}{name.capitalize()}EventSerializer",
        (serializers.Serializer,),
        {"get_fields": get_fields, "__doc__": f"`event: {name}`: {description}"},
    )
