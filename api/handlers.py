"""Django's ASGI handler for coroutine views, with their middleware on the event loop.

Django's own ASGI handler runs every hook of every MiddlewareMixin
middleware (security headers, the CSP, sessions, CSRF, messages, ...)
through `sync_to_async`: a hop to another thread and back for each hook,
about a dozen per request, and it gives each request a thread of its own
for them (asgiref's ThreadSensitiveContext). For a streamed chat those hops
and that thread cost more CPU than the chat's own database steps
(docs/performance.md). The hooks do no I/O for the requests that come here
(they set headers and lazy attributes; API views never touch the session),
so this handler calls them inline, on the loop. A hook that did reach the
database would raise SynchronousOnlyOperation rather than block the loop.

Only coroutine views come here (config/asgi.py); everything else goes
through Django's WSGI handler with the same middleware, run as Django
always runs it.
"""

from collections.abc import Awaitable, Callable
from typing import IO, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed, RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from api.request_body import body_read, scope_with_length

# Middleware that answers only for static files, which are never coroutine views.
STATIC_FILES_ONLY = {"whitenoise.middleware.WhiteNoiseMiddleware"}

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class CoroutineViewHandler(ASGIHandler):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Without asgiref's ThreadSensitiveContext: it would start a thread
        # per request for the few steps Django still runs through
        # sync_to_async (its signals, the response's close). Those share
        # asgiref's one thread instead.
        if scope["type"] != "http":
            raise ValueError(f"Only HTTP connections are handled here, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def read_body(self, receive: Any) -> IO[bytes]:
        # Not Django's: it reads the whole body first (api.request_body).
        body = await body_read(receive)
        if body is None:
            raise RequestAborted
        return body

    def create_request(self, scope: Any, body_file: IO[bytes]) -> Any:
        return super().create_request(scope_with_length(scope, body_file), body_file)

    async def listen_for_disconnect(self, receive: Any) -> None:
        # Past the part of an overlong body that was read, the rest may still
        # come (Django's would take it for an error): it is not kept.
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted

    def load_middleware(self, is_async: bool = True) -> None:
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        handler: Any = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]  # untyped in the stubs
        for path in reversed(settings.MIDDLEWARE):
            if path in STATIC_FILES_ONLY:
                continue
            middleware = import_string(path)
            if not getattr(middleware, "async_capable", False):
                raise ImproperlyConfigured(
                    f"{path} cannot run in async mode, which the coroutine views need "
                    "(api/handlers.py)."
                )
            try:
                instance = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, _inline(instance.process_view))
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(
                    _inline(instance.process_template_response)
                )
            if hasattr(instance, "process_exception"):
                # Django runs exception middleware synchronously, in a thread.
                self._exception_middleware.append(instance.process_exception)
            if isinstance(instance, MiddlewareMixin) and _hooks_only(middleware):
                instance = _InlineHooks(instance, handler)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class _InlineHooks:
    """A MiddlewareMixin's request and response hooks, called on the loop."""

    def __init__(self, middleware: MiddlewareMixin, get_response: GetResponse) -> None:
        self.process_request = getattr(middleware, "process_request", None)
        self.process_response = getattr(middleware, "process_response", None)
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if self.process_request else None
        response = response or await self.get_response(request)
        if self.process_response:
            response = self.process_response(request, response)
        return response


def _hooks_only(middleware: type) -> bool:
    # Its own __call__ (rather than MiddlewareMixin's) may do more than the hooks.
    return middleware.__call__ is MiddlewareMixin.__call__


def _inline(method: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    if iscoroutinefunction(method):
        return method

    async def call(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return call
