"""Every request's id, its log line and its HTTP metrics, in one middleware.

The first middleware, so it sees every answer, those of the middleware below
it included (a redirect, a CORS preflight). It runs on both paths of
config/asgi.py without a thread hop: synchronously for the views behind the
WSGI handler, on the event loop for the chat.

- The request id: a valid incoming `X-Request-ID` (1 to 128 visible ASCII
  characters) is kept, otherwise one is made. It is bound to the logging
  context, so every line logged while serving the request carries it (the
  chat's steps in threads too: api.concurrency copies the context), and is
  sent back in the response's `X-Request-ID`.
- One `request` line per request: method, route (the URL pattern, never the
  path or its query string), status, duration and the user, once known.
- The same as metrics (api.metrics): requests by route, method and status,
  and their latency.

A streamed response is timed to its headers; the stream itself is measured
by the chat's own events and metrics.
"""

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
import uuid_utils
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

from api import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
# Any other method is counted as "other": a client cannot add label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

logger = structlog.get_logger("api.request")


def current_request_id() -> str | None:
    """The id of the request being served, if any (for calls to other servers)."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def request_id_from(header: str | None) -> str:
    """The request's id: the client's, if valid, else a new one."""
    if header is not None and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid_utils.uuid4().hex


class RequestMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        started = _begin(request)
        try:
            response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
            _end(request, response, started)
        finally:
            if not isinstance(request, ASGIRequest):
                # A WSGI server's thread goes on to other work: the request's
                # context ends here. Behind Django's ASGI handler (the chat),
                # this runs in a thread whose context asgiref carries back to
                # the request's task, where a stream still needs it; each such
                # request has a context of its own.
                structlog.contextvars.clear_contextvars()
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = _begin(request)
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        _end(request, response, started)
        return response


def _begin(request: HttpRequest) -> float:
    request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
    # A thread serves many requests: nothing of the last one may stay bound.
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    request.request_id = request_id  # type: ignore[attr-defined]
    return time.perf_counter()


def _end(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    duration = time.perf_counter() - started
    response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
    match = request.resolver_match
    route = match.route if match is not None else UNMATCHED_ROUTE
    method = request.method if request.method in METHODS else "other"
    status = response.status_code
    metrics.HTTP_REQUESTS.labels(route, method, status).inc()
    metrics.HTTP_REQUEST_SECONDS.labels(route, method).observe(duration)
    log = logger.error if status >= 500 else logger.info
    log(
        "request",
        method=method,
        route=route,
        status=status,
        duration_ms=round(duration * 1000, 2),
        user_id=_user_id(request),
    )


def _user_id(request: HttpRequest) -> str | None:
    # The user DRF authenticated (it sets request.user); Django's lazy
    # session user is not loaded for this, which could cost a query.
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:  # type: ignore[attr-defined]
        return None
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)
