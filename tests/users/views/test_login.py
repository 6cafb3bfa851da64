"""POST /api/v1/auth/login/: a token pair for a username and password."""

from http import HTTPStatus

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.assertions import error_codes, only_error
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.users.views.accounts import (
    ACCESS_LIFETIME,
    LOGIN_URL,
    ME_URL,
    PASSWORD,
    REFRESH_LIFETIME,
    REFRESH_URL,
    REGISTER_URL,
)
from users.exceptions import INVALID_CREDENTIALS

pytestmark = pytest.mark.django_db


def test_login_returns_a_token_pair_and_the_user(api_client, edward):
    response = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_LIFETIME.total_seconds()
    assert body["user"] == {"id": str(edward.pk), "username": "Edward", "tokens": 4000}
    edward.refresh_from_db()
    assert edward.last_login is not None


def test_token_responses_must_not_be_cached(api_client, edward):
    login = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD})
    refresh = api_client.post(REFRESH_URL, {"refresh": login.json()["refresh"]})

    for response in (login, refresh):
        assert response.status_code == HTTPStatus.OK
        assert "no-store" in response["Cache-Control"]


def test_login_tokens_live_as_long_as_the_simple_jwt_settings_say(api_client, edward):
    body = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD}).json()

    access = AccessToken(body["access"])
    refresh = RefreshToken(body["refresh"])
    assert access["exp"] - access["iat"] == ACCESS_LIFETIME.total_seconds()
    assert refresh["exp"] - refresh["iat"] == REFRESH_LIFETIME.total_seconds()
    assert access["user_id"] == refresh["user_id"] == str(edward.pk)


def test_login_access_token_authenticates(api_client, edward):
    body = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD}).json()

    api_client.credentials(HTTP_AUTHORIZATION=f"{body['token_type']} {body['access']}")
    response = api_client.get(ME_URL)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == str(edward.pk)


@pytest.mark.parametrize("username", ["edward", "EDWARD", "eDwArD", "  Edward  "])
def test_login_matches_the_username_in_any_letter_case(api_client, edward, username):
    response = api_client.post(LOGIN_URL, {"username": username, "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["user"]["id"] == str(edward.pk)


def test_login_accepts_the_username_exactly_as_registered(api_client):
    username = "\uff45dward"
    api_client.post(REGISTER_URL, {"username": username, "password": PASSWORD})

    response = api_client.post(LOGIN_URL, {"username": username, "password": PASSWORD})

    assert response.status_code == HTTPStatus.OK


def test_login_wrong_password_and_unknown_user_get_the_same_401(api_client, edward):
    wrong_password = api_client.post(LOGIN_URL, {"username": "Edward", "password": "nope-nope"})
    unknown_user = api_client.post(LOGIN_URL, {"username": "nobody", "password": "nope-nope"})

    assert wrong_password.status_code == unknown_user.status_code == HTTPStatus.UNAUTHORIZED
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json() == {
        "type": "client_error",
        "errors": [{"code": "invalid_credentials", "detail": INVALID_CREDENTIALS, "attr": None}],
    }
    # A 401 carries its challenge (without one DRF would answer 403).
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")
    edward.refresh_from_db()
    assert edward.last_login is None


def test_login_of_an_inactive_user_gets_the_same_401(api_client):
    UserFactory(username="edward", is_active=False)

    response = api_client.post(LOGIN_URL, {"username": "edward", "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response) == {
        "code": "invalid_credentials",
        "detail": INVALID_CREDENTIALS,
        "attr": None,
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"username": "Edward"}, [("password", "required")]),
        ({"password": DEFAULT_PASSWORD}, [("username", "required")]),
        ({"username": 1, "password": DEFAULT_PASSWORD}, [("username", "invalid")]),
    ],
)
def test_login_validates_its_input(api_client, edward, data, expected):
    response = api_client.post(LOGIN_URL, data)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == expected
    edward.refresh_from_db()
    assert edward.last_login is None
