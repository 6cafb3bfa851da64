"""DRF views whose handlers are coroutines, for endpoints that wait on the network.

DRF's APIView is synchronous. This one keeps all of DRF's machinery (the
authenticators, throttles and permissions of `initial`, the exception
handler, content negotiation, the schema), runs `initial` in a thread
(api.concurrency) because it reads the database and the cache, and awaits
the handler on the event loop, so a request waiting seconds on another
server holds no thread.
"""

from typing import Any

from django.http.response import HttpResponseBase
from rest_framework.request import Request
from rest_framework.views import APIView

from api.concurrency import in_thread


class AsyncAPIView(APIView):
    # Django serves the view as a coroutine (DRF's own `options` is sync,
    # which would otherwise make Django refuse the mix).
    view_is_async = True

    async def dispatch(  # type: ignore[override]
        self, request: Any, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            await in_thread(self.initial, drf_request, *args, **kwargs)
            response = await self._handle(drf_request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        # DRF types it Response; it finalizes any HttpResponseBase (a stream).
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)  # type: ignore[arg-type]
        return self.response

    async def _handle(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        method = (request.method or "").lower()
        handler = getattr(self, method, None) if method in self.http_method_names else None
        if handler is None:
            handler = self.http_method_not_allowed
        result = handler(request, *args, **kwargs)
        if hasattr(result, "__await__"):
            result = await result
        return result
