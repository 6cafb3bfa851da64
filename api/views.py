"""Views that belong to no app: liveness and readiness, the JSON 404 for
/api/, Django's 400 and 500 in the API's error format, and the docs pages."""

import structlog
from csp.decorators import csp_update
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import defaults
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import ErrorDetail, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.cache import CACHE_FAILURES
from api.exceptions import ServiceUnavailable, error_body
from api.openapi import ErrorResponse503Serializer

logger = structlog.get_logger(__name__)

BAD_REQUEST = ("bad_request", "Bad request.")
SERVER_ERROR = ("error", "A server error occurred.")
DATABASE_UNAVAILABLE = "The database does not answer."
CACHE_UNAVAILABLE = "The cache does not answer."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 for a request refused before any view saw it (a Host not
    in ALLOWED_HOSTS): the API's error format under /api/, else Django's page."""
    if _under_api(request):
        return _error(400, *BAD_REQUEST)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 for an error no view answered (in a middleware), as bad_request."""
    if _under_api(request):
        return _error(500, *SERVER_ERROR)
    return defaults.server_error(request)


def _under_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(status=status, code=code, detail=detail), status=status)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 while the process answers. Checks no dependency, so a
    database or Redis outage does not get every process restarted."""
    return JsonResponse({"status": "ok"})


class ReadinessSerializer(serializers.Serializer[dict[str, str]]):
    """Always `ok` in each: a failure is a 503 error instead."""

    status = serializers.CharField()
    database = serializers.CharField()
    cache = serializers.CharField()


class ReadyzView(APIView):
    """Readiness, for load balancers: 200 when the database answers a query
    and the cache a write and a read; otherwise 503 `service_unavailable`,
    one error for each that failed, its `attr` naming it (`database`,
    `cache`), with Retry-After. Not authenticated, not rate limited."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    @extend_schema(
        tags=["health"],
        summary="Readiness",
        responses={200: ReadinessSerializer, 503: ErrorResponse503Serializer},
    )
    def get(self, request: Request) -> Response:
        failed = {
            name: [ErrorDetail(message, code="service_unavailable")]
            for name, message, answers in (
                ("database", DATABASE_UNAVAILABLE, _database_answers),
                ("cache", CACHE_UNAVAILABLE, _cache_answers),
            )
            if not answers()
        }
        if failed:
            raise ServiceUnavailable(failed)
        return Response(ReadinessSerializer({"status": "ok", "database": "ok", "cache": "ok"}).data)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (DatabaseError, OSError) as error:
        logger.warning("readiness.failed", dependency="database", error=type(error).__name__)
        return False
    return True


def _cache_answers() -> bool:
    try:
        cache.set("readyz", True, timeout=10)
        return cache.get("readyz") is not None
    except CACHE_FAILURES as error:
        logger.warning("readiness.failed", dependency="cache", error=type(error).__name__)
        return False


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def api_not_found(request: Request, path: str = "") -> Response:
    """Any unknown /api/ path: a 404 in the API's error format, even with DEBUG on."""
    raise NotFound()


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI, with the same Cross-Origin-Opener-Policy as every other page,
    and its inline script and style allowed by nonce (api/csp.py)."""

    template_name = "api/swagger_ui.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        # drf-spectacular relaxes it for Swagger UI's OAuth2 pop-up; this API
        # has no OAuth2 flow, and the page holds the bearer token.
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response


# What ReDoc's page needs beyond the pages' policy (api/csp.py), for the
# bundle of drf-spectacular-sidecar 2026.10.1 (tests/config/test_browser.py
# fails if an update changes it): the two styles it writes as it loads, before
# it is given the nonce (an empty one and its scrollbar's), by hash; and the
# logo its sidebar always shows, from Redocly's site (offline, ReDoc hides it).
REDOC_CSP = {
    "style-src": [
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    ],
    "img-src": ["https://cdn.redoc.ly"],
}


@method_decorator(csp_update(REDOC_CSP), name="get")
class RedocView(SpectacularRedocView):
    """ReDoc, without web fonts from other sites, under the pages' policy."""

    template_name = "api/redoc.html"
