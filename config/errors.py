"""Django's own 400 and 500, for requests that failed before any view could
answer them: a Host header not in ALLOWED_HOSTS, an error in a middleware.

Under /api/ they answer in the API's error format and under /v1/ in
OpenAI's, as everything else there does; elsewhere (the admin, the pages),
Django's own page.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from conversations.openai_compat.errors import openai_error

BAD_REQUEST = ("bad_request", "Bad request.")
SERVER_ERROR = ("error", "A server error occurred.")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _json(request, 400, *BAD_REQUEST) or defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return _json(request, 500, *SERVER_ERROR) or defaults.server_error(request)


def _json(request: HttpRequest, status: int, code: str, detail: str) -> JsonResponse | None:
    body: dict[str, Any]
    if request.path.startswith("/api/"):
        body = {
            "type": "server_error" if status >= 500 else "client_error",
            "errors": [{"code": code, "detail": detail, "attr": None}],
        }
    elif request.path == "/v1" or request.path.startswith("/v1/"):
        body = openai_error(status=status, code=code, message=detail)
    else:
        return None
    return JsonResponse(body, status=status)
