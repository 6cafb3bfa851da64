"""GET /api/v1/auth/me/: the caller's own account."""

from datetime import datetime
from http import HTTPStatus

import pytest

from tests.factories import UserFactory
from tests.users.views.accounts import ME_URL
from users.models import User

pytestmark = pytest.mark.django_db


def test_me_shows_the_callers_account(auth_client, user):
    UserFactory()  # someone else, not shown

    response = auth_client.get(ME_URL)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"id", "username", "tokens", "date_joined"}
    assert body["id"] == str(user.pk)
    assert body["username"] == user.username
    assert body["tokens"] == 4000
    assert body["date_joined"].endswith("Z")
    assert datetime.fromisoformat(body["date_joined"]) == user.date_joined


def test_me_shows_the_current_balance(auth_client, user):
    User.objects.filter(pk=user.pk).update(tokens=1234)

    assert auth_client.get(ME_URL).json()["tokens"] == 1234


def test_me_needs_authentication(api_client):
    response = api_client.get(ME_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {
                "code": "not_authenticated",
                "detail": "Authentication credentials were not provided.",
                "attr": None,
            }
        ],
    }
