"""The admin site: Django's, with its log-in within the API's log-in limits."""

from http import HTTPStatus
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from users.forms import AdminLoginForm


class AdminSite(admin.AdminSite):
    """Installed as the default site (users.apps.AdminConfig), so every app's
    `admin.site` is this one. Over a log-in limit the log-in page answers 429
    with Retry-After, its form, and a message that says so; while the limits
    cannot be counted (the cache is down), 503 with Retry-After."""

    login_form = AdminLoginForm

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if isinstance(form, AdminLoginForm) and form.retry_after is not None:
            response.status_code = (
                HTTPStatus.SERVICE_UNAVAILABLE if form.unavailable else HTTPStatus.TOO_MANY_REQUESTS
            )
            response["Retry-After"] = str(form.retry_after)
        return response
