"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, for /v1/.

The project's exception handler runs first (statuses, Retry-After,
WWW-Authenticate, a failing dependency's 503 all stay as they are); only its
body is rewritten, so the two APIs never disagree on what went wrong.
"""

from collections.abc import Callable
from typing import Any, cast

from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.settings import api_settings

NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY

# OpenAI's own `type` and `code` for the statuses its SDKs turn into their
# error classes; every other error keeps our code (provider_error, …).
_BY_STATUS: dict[int, tuple[str, str]] = {
    401: ("invalid_request_error", "invalid_api_key"),
    # OpenAI answers an exhausted quota with 429; we keep 402 (a retry does
    # not help), with OpenAI's type and code so clients recognise it.
    402: ("insufficient_quota", "insufficient_quota"),
    429: ("requests", "rate_limit_exceeded"),
}


def openai_error(
    *, status: int, code: str | None, message: str, param: str | None = None
) -> dict[str, Any]:
    kind, known_code = _BY_STATUS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", code or "")
    )
    return {
        "error": {
            "message": f"{param}: {message}" if param else message,
            "type": kind,
            "param": param,
            "code": known_code or None,
        }
    }


def api_exception_error(error: APIException) -> dict[str, Any]:
    """An error raised mid-stream, as the body of its last chunk."""
    codes = error.get_codes()
    return openai_error(
        status=error.status_code,
        code=codes if isinstance(codes, str) else None,
        message=str(error.detail),
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    handler = cast(Callable[[Exception, dict[str, Any]], Response | None], _project_handler())
    response = handler(exc, context)
    if response is None or not isinstance(response.data, dict):
        return response
    first = (response.data.get("errors") or [{}])[0]
    # Our format names a list's own errors `<field>.non_field_errors`;
    # OpenAI's `param` is the field.
    param = str(first.get("attr") or "").removesuffix(NON_FIELD_ERRORS).removesuffix(".")
    response.data = openai_error(
        status=response.status_code,
        code=first.get("code"),
        message=str(first.get("detail", "")),
        param=param or None,
    )
    return response


def _project_handler() -> object:
    # DRF's settings resolve the dotted path; its stubs type it a str.
    return api_settings.EXCEPTION_HANDLER


class OpenAIErrors:
    """A view mixin: errors in OpenAI's shape."""

    def get_exception_handler(self) -> Any:
        return exception_handler
