"""What browsers are told: CORS only for the listed origins, security headers on
every response, HSTS and secure admin cookies over HTTPS."""

from http import HTTPStatus

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.server import manage

pytestmark = pytest.mark.django_db

LISTED = "https://app.example.com"
UNLISTED = "https://evil.example.net"
BALANCE_URL = reverse("balance")
CHAT_URL = reverse("chat")


@pytest.fixture
def listed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [LISTED]


def preflight(origin: str, path: str = CHAT_URL):
    return APIClient().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )


@pytest.mark.usefixtures("listed_origin")
def test_a_listed_origin_may_read_the_api(auth_client):
    response = auth_client.get(BALANCE_URL, HTTP_ORIGIN=LISTED)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Access-Control-Allow-Origin"] == LISTED
    assert "Access-Control-Allow-Credentials" not in response.headers
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert "retry-after" in exposed
    assert "idempotent-replayed" in exposed


@pytest.mark.usefixtures("listed_origin")
def test_an_unlisted_origin_gets_no_cors_headers(auth_client):
    response = auth_client.get(BALANCE_URL, HTTP_ORIGIN=UNLISTED)

    assert response.status_code == HTTPStatus.OK
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.usefixtures("listed_origin")
def test_a_listed_origins_preflight_allows_the_api_headers():
    response = preflight(LISTED)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Access-Control-Allow-Origin"] == LISTED
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.usefixtures("listed_origin")
def test_an_unlisted_origins_preflight_is_not_allowed():
    response = preflight(UNLISTED)

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


def test_no_origin_is_allowed_by_default(auth_client):
    # tests/settings.py leaves CORS_ALLOWED_ORIGINS to the environment's default.
    response = auth_client.get(BALANCE_URL, HTTP_ORIGIN=LISTED)

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in preflight(LISTED).headers


@pytest.mark.usefixtures("listed_origin")
def test_cors_covers_the_api_only(admin_client):
    response = admin_client.get(reverse("admin:index"), HTTP_ORIGIN=LISTED)

    assert response.status_code == HTTPStatus.OK
    assert "Access-Control-Allow-Origin" not in response.headers


def test_allowed_origins_come_from_the_environment():
    probe = "from django.conf import settings\nprint(settings.CORS_ALLOWED_ORIGINS)\n"

    default = manage("shell", "-v0", "-c", probe, env={"DEBUG": "1"})
    listed = manage(
        "shell",
        "-v0",
        "-c",
        probe,
        env={"DEBUG": "1", "CORS_ALLOWED_ORIGINS": f"{LISTED},https://b.example.com"},
    )

    assert default.stdout.strip() == "[]", default.stderr
    assert listed.stdout.strip() == f"['{LISTED}', 'https://b.example.com']", listed.stderr


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGES = {
    "API": BALANCE_URL,
    "API error": "/api/v1/no-such-thing/",
    "health check": "/healthz/",
    "Swagger UI": "/api/docs/",
    "admin log-in": "/admin/login/",
}


@pytest.mark.parametrize("page", PAGES)
def test_every_response_carries_the_security_headers(auth_client, page):
    response = auth_client.get(PAGES[page])

    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, (page, header)


def test_preflights_carry_the_security_headers_too(settings):
    settings.CORS_ALLOWED_ORIGINS = [LISTED]

    response = preflight(LISTED)

    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_https_responses_carry_hsts(auth_client):
    # tests/settings.py keeps the production HSTS settings (DEBUG is off).
    response = auth_client.get(BALANCE_URL, secure=True)

    assert response.headers["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains")


def test_admin_cookies_are_secure_and_http_only(admin_user):
    client = APIClient()
    login = client.get("/admin/login/", secure=True)
    csrf = login.cookies["csrftoken"]

    response = client.post(
        "/admin/login/",
        {
            "username": admin_user.username,
            "password": "password",
            "csrfmiddlewaretoken": csrf.value,
        },
        secure=True,
        HTTP_REFERER="https://testserver/admin/login/",
    )

    assert response.status_code == HTTPStatus.FOUND
    session = response.cookies["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    assert csrf["secure"]
