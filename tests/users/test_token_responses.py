"""Every response that carries tokens is kept out of every cache (RFC 6749,
section 5.1): `Cache-Control: no-store`, password change included. Which
operations carry tokens is read from the schema, so a new one cannot be
forgotten here."""

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory
from users.models import User
from users.tokens import SessionRefreshToken

pytestmark = pytest.mark.django_db

TOKEN_FIELDS = {"access", "refresh"}


def token_operations() -> set[str]:
    """The operations whose success responses have a token field."""
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref", "")
                    properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
                    if TOKEN_FIELDS & set(properties):
                        found.add(f"{method.upper()} {path}")
    return found


def log_in(client: APIClient, user: User):
    return client.post(
        "/api/v1/auth/login/", {"username": user.username, "password": DEFAULT_PASSWORD}
    )


def refresh(client: APIClient, user: User):
    return client.post(
        "/api/v1/auth/refresh/", {"refresh": str(SessionRefreshToken.for_user(user))}
    )


def change_password(client: APIClient, user: User):
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {SessionRefreshToken.for_user(user).access_token}"
    )
    return client.post(
        "/api/v1/auth/password/",
        {"old_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
    )


CALLS: dict[str, Callable[[APIClient, User], Any]] = {
    "POST /api/v1/auth/login/": log_in,
    "POST /api/v1/auth/refresh/": refresh,
    "POST /api/v1/auth/password/": change_password,
}


def test_every_operation_that_returns_tokens_is_checked_here():
    assert token_operations() == set(CALLS)


@pytest.mark.parametrize("operation", CALLS)
def test_a_token_response_is_never_stored(operation):
    client = APIClient()
    client.default_format = "json"

    response = CALLS[operation](client, UserFactory())

    assert response.status_code == HTTPStatus.OK
    assert TOKEN_FIELDS & set(response.json())
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert "no-store" in directives
    assert "private" in directives
