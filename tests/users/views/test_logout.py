"""POST /api/v1/auth/logout/: ends the session of one refresh token."""

from http import HTTPStatus

import pytest

from tests.assertions import error_codes, only_error
from tests.factories import UserFactory
from tests.users.views.accounts import LOGOUT_URL, REFRESH_URL, bearer, log_in, refresh_ok
from users.tokens import SessionRefreshToken

pytestmark = pytest.mark.django_db


def test_logout_ends_the_session(api_client, user, auth_client):
    refresh = str(SessionRefreshToken.for_user(user))

    response = auth_client.post(LOGOUT_URL, {"refresh": refresh}, format="json")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not response.content
    after = api_client.post(REFRESH_URL, {"refresh": refresh})
    assert after.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(after)["code"] == "token_not_valid"


def test_logout_leaves_the_users_other_sessions_alone(api_client, user, auth_client):
    ended = str(SessionRefreshToken.for_user(user))
    other_session = str(SessionRefreshToken.for_user(user))

    auth_client.post(LOGOUT_URL, {"refresh": ended}, format="json")

    assert refresh_ok(api_client, other_session)


def test_logout_needs_authentication(api_client, user):
    refresh = str(SessionRefreshToken.for_user(user))

    response = api_client.post(LOGOUT_URL, {"refresh": refresh})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "not_authenticated"
    assert refresh_ok(api_client, refresh)


def test_logout_refuses_someone_elses_refresh_token(api_client, auth_client):
    others_refresh = str(SessionRefreshToken.for_user(UserFactory()))

    response = auth_client.post(LOGOUT_URL, {"refresh": others_refresh}, format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"
    assert refresh_ok(api_client, others_refresh)


def test_logout_refuses_garbage(auth_client):
    response = auth_client.post(LOGOUT_URL, {"refresh": "garbage"}, format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"


def test_logout_requires_the_refresh_token(auth_client):
    response = auth_client.post(LOGOUT_URL, {}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("refresh", "required")]


def test_logout_ends_every_refresh_token_of_the_session(api_client, edward):
    login = log_in()
    rotated = api_client.post(REFRESH_URL, {"refresh": login["refresh"]}).json()

    # Logging out with the first token of the session ends the latest too.
    response = bearer(rotated["access"]).post(LOGOUT_URL, {"refresh": login["refresh"]})

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not refresh_ok(api_client, rotated["refresh"])
