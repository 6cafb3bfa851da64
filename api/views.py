"""Views that belong to no app: health check, the JSON 404 for /api/, and the
docs pages."""

from csp.decorators import csp_update
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response


def healthz(request: HttpRequest) -> JsonResponse:
    """200 once the database answers a query, 503 while it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


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
