"""OpenAPI pieces shared by the apps: error shapes drf-standardized-errors lacks."""

from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import serializers


def _client_error_response(status: int, codes: list[str]) -> type[serializers.Serializer]:
    """The error body for a status whose errors carry one of `codes`."""
    error = type(
        f"Error{status}Serializer",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=codes),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True),
        },
    )
    return type(
        f"ErrorResponse{status}Serializer",
        (serializers.Serializer,),
        {
            "type": serializers.ChoiceField(choices=ClientErrorEnum.choices),
            "errors": error(many=True),
        },
    )


ErrorResponse402Serializer = _client_error_response(402, ["insufficient_tokens"])
ErrorResponse409Serializer = _client_error_response(409, ["idempotency_key_in_progress"])
ErrorResponse422Serializer = _client_error_response(422, ["idempotency_key_reused"])
