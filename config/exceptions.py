"""The exception handler: every error leaves in the drf-standardized-errors shape."""

from drf_standardized_errors.handler import ExceptionHandler as StandardizedExceptionHandler
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import InvalidToken


class ExceptionHandler(StandardizedExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, InvalidToken) and isinstance(exc.detail, dict):
            # SimpleJWT's detail is a dict (detail, code, per-token-type
            # messages) that would be flattened into several errors; clients
            # need one error with the stable code `token_not_valid`.
            flat = exceptions.AuthenticationFailed(
                detail=str(exc.detail.get("detail", InvalidToken.default_detail)),
                code=InvalidToken.default_code,
            )
            flat.auth_header = getattr(exc, "auth_header", None)  # type: ignore[attr-defined]
            return flat
        return super().convert_known_exceptions(exc)
