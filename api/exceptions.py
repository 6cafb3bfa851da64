"""The exception handler: every error leaves in the drf-standardized-errors shape."""

from typing import Any

import structlog
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from drf_standardized_errors.handler import ExceptionHandler as StandardizedExceptionHandler
from rest_framework import exceptions, status

REQUEST_TOO_LARGE = "Request body too large"
SERVICE_UNAVAILABLE = (
    "Temporarily unavailable: a service this needs is not answering. Try again soon."
)
# How long a client should wait before retrying a 503 (Retry-After): a cache
# or database restart takes seconds.
RETRY_AFTER_SECONDS = 5
# The database cannot be reached or used for now (down, restarting, out of
# connections, locked too long), as opposed to refusing a query, which is a
# bug to see (no such table, a statement timeout, a deadlock): SQLite's
# messages, and PostgreSQL's SQLSTATE classes (connection exception,
# insufficient resources, operator intervention: shutting down, cannot
# connect now).
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)
_POSTGRES_UNAVAILABLE = ("08", "53", "57P")

logger = structlog.get_logger(__name__)


def error_body(*, status: int, code: object, detail: str) -> dict[str, Any]:
    """The error format's body, for an error written outside the exception
    handler (a stream's last event, Django's own 400 and 500)."""
    return {
        "type": "server_error" if status >= 500 else "client_error",
        "errors": [{"code": code, "detail": detail, "attr": None}],
    }


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = REQUEST_TOO_LARGE
    default_code = "request_too_large"


class ServiceUnavailable(exceptions.APIException):
    """A dependency (the cache, the database) is not answering: 503 with Retry-After."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    # The exception handler turns `wait` into Retry-After, as for 429.
    wait = RETRY_AFTER_SECONDS


class ExceptionHandler(StandardizedExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, RequestDataTooBig):
            # Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE; that is
            # the client's doing, not a server error.
            return RequestTooLarge()
        if database_unavailable(exc):
            # The class only: a driver's message may name hosts and users.
            cause = exc.__cause__ or exc
            logger.warning("database.unavailable", error=type(cause).__name__)
            return ServiceUnavailable()
        if isinstance(exc, exceptions.AuthenticationFailed) and isinstance(exc.detail, dict):
            # SimpleJWT's details are dicts (detail, code, per-token-type
            # messages) that would be flattened into several errors; clients
            # need one error with one stable code.
            flat = exceptions.AuthenticationFailed(
                str(exc.detail.get("detail", exc.default_detail)),
                code=str(exc.detail.get("code", exc.default_code)),
            )
            flat.auth_header = getattr(exc, "auth_header", None)  # type: ignore[attr-defined]
            return flat
        return super().convert_known_exceptions(exc)

    def report_exception(self, exc: exceptions.APIException, response: Any) -> None:
        # A dependency that is down is not a fault of the code: it is logged
        # as a warning where it is found, and must not reach error trackers
        # (got_request_exception) once per request, or per readiness probe.
        if isinstance(exc, ServiceUnavailable):
            return
        super().report_exception(exc, response)


def database_unavailable(error: BaseException) -> bool:
    """Whether a database error means the database is away or overloaded for now."""
    if isinstance(error, InterfaceError):
        return True  # a connection that was closed under us
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if type(cause).__module__.startswith("psycopg"):
        sqlstate = getattr(cause, "sqlstate", None)
        # No SQLSTATE: the client's own error (no connection, a pool timeout).
        return sqlstate is None or str(sqlstate).startswith(_POSTGRES_UNAVAILABLE)
    return str(error).lower().startswith(_SQLITE_UNAVAILABLE)
