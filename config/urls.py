"""Root URLs: the versioned API, its schema and docs, the admin, liveness and
readiness, the metrics."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from api.metrics import metrics_view
from api.views import ReadyzView, RedocView, SwaggerView, api_not_found, healthz
from conversations.openai_compat.views import UnknownURLView

api_v1 = [
    # Chat and balance first: the resolver tries patterns in order.
    path("", include("conversations.urls")),
    path("", include("users.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    # OpenAI's SDKs take base_url http://host/v1: outside the versioned API.
    path("v1/", include("conversations.openai_compat.urls")),
    # The base_url itself (a client that posts to it): OpenAI's 404, not a
    # redirect to /v1/ that an SDK would not follow.
    path("v1", UnknownURLView.as_view()),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    # Last: whatever else is under /api/ is a JSON 404, never an HTML page.
    # (?s): the rest of the path may hold a line break (%0A), which "." skips.
    re_path(r"^api/(?P<path>(?s:.*))$", api_not_found),
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("readyz/", ReadyzView.as_view(), name="readyz"),
    # Prometheus's default path; for METRICS_TOKEN's bearer only.
    path("metrics", metrics_view, name="metrics"),
]

# Django's own 400 and 500 (before any view): JSON under /api/ and /v1/.
handler400 = "conversations.openai_compat.errors.bad_request"
handler500 = "conversations.openai_compat.errors.server_error"
