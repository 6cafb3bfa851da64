"""The accounts API as its tests drive it: the URLs, and sessions over HTTP."""

from datetime import timedelta
from http import HTTPStatus

from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.assertions import error_codes
from tests.factories import DEFAULT_PASSWORD

REGISTER_URL = reverse("auth-register")
LOGIN_URL = reverse("auth-login")
REFRESH_URL = reverse("auth-refresh")
LOGOUT_URL = reverse("auth-logout")
LOGOUT_ALL_URL = reverse("auth-logout-all")
PASSWORD_URL = reverse("auth-password")
ME_URL = reverse("auth-me")
USERS_URL = reverse("user-list")

PASSWORD = "a-perfectly-fine-passphrase"


def jwt_lifetime(name: str) -> timedelta:
    lifetime = settings.SIMPLE_JWT[name]
    assert isinstance(lifetime, timedelta)
    return lifetime


ACCESS_LIFETIME = jwt_lifetime("ACCESS_TOKEN_LIFETIME")
REFRESH_LIFETIME = jwt_lifetime("REFRESH_TOKEN_LIFETIME")


def refresh_ok(api_client: APIClient, refresh: str) -> bool:
    return api_client.post(REFRESH_URL, {"refresh": refresh}).status_code == HTTPStatus.OK


def log_in(username: str = "Edward", password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = APIClient().post(
        LOGIN_URL, {"username": username, "password": password}, format="json"
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    return dict(response.json())


def access_ok(access: str) -> bool:
    response = APIClient().get(ME_URL, HTTP_AUTHORIZATION=f"Bearer {access}")
    if response.status_code == HTTPStatus.UNAUTHORIZED:
        assert error_codes(response) == [(None, "token_not_valid")]
        return False
    assert response.status_code == HTTPStatus.OK
    return True


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    client.default_format = "json"
    return client
