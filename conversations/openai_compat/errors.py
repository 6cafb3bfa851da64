"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, for /v1/.

The project's exception handler runs first (statuses, Retry-After,
WWW-Authenticate, a failing dependency's 503 all stay as they are); only its
body is rewritten, so the two APIs never disagree on what went wrong. Django's
own 400 and 500, for requests that no view answered, take the same shape
(`bad_request`, `server_error`).
"""

from collections.abc import Callable
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException, MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from api import views
from api.views import BAD_REQUEST, SERVER_ERROR

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


# OpenAI's words for a path it does not serve (its own end with a link to its
# docs), so that people who search for the message find the cause: a
# base_url without /v1, or /v1 twice.
UNKNOWN_URL = "Unknown request URL: {method} {path}. Check it for typos; /api/docs/ lists the API."


class UnknownURL(APIException):
    """A path under /v1/ that nothing serves: OpenAI's 404 `unknown_url`."""

    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "Unknown request URL"
    default_code = "unknown_url"

    def __init__(self, *, method: str, path: str) -> None:
        super().__init__(UNKNOWN_URL.format(method=method, path=path))


class OpenAIErrors(APIView):
    """A view mixin: errors in OpenAI's shape.

    A method the path does not serve is 405 before the credentials are
    looked at, as an unknown path is 404 without them: what exists under
    /v1/ is public (schema.yml), and a client with the wrong method learns
    that, not that it lacks a key.
    """

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method not in self.allowed_methods:
            raise MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (config/urls.py's handler400): OpenAI's shape under /v1/,
    the rest of the site's (api.views) elsewhere."""
    return _page(400, *BAD_REQUEST) if _under_v1(request) else views.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 (handler500), as bad_request."""
    return _page(500, *SERVER_ERROR) if _under_v1(request) else views.server_error(request)


def _page(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(openai_error(status=status, code=code, message=message), status=status)


def _under_v1(request: HttpRequest) -> bool:
    return request.path == "/v1" or request.path.startswith("/v1/")
