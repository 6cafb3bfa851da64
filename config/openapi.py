"""OpenAPI pieces shared by the apps: error shapes drf-standardized-errors lacks."""

from django.db import models
from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import serializers


class ErrorCode402Enum(models.TextChoices):
    INSUFFICIENT_TOKENS = "insufficient_tokens"


class Error402Serializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ErrorCode402Enum.choices)
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse402Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = Error402Serializer(many=True)  # type: ignore[assignment]
