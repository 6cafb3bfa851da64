"""POST /api/v1/auth/logout-all/: ends every session of the caller at once."""

from http import HTTPStatus

import pytest

from tests.assertions import error_codes
from tests.factories import UserFactory
from tests.users.views.accounts import LOGOUT_ALL_URL, access_ok, bearer, log_in, refresh_ok

pytestmark = pytest.mark.django_db


def test_logout_all_ends_every_access_and_refresh_token_at_once(api_client, edward):
    phone, laptop = log_in(), log_in()
    assert access_ok(phone["access"])
    assert access_ok(laptop["access"])

    response = bearer(phone["access"]).post(LOGOUT_ALL_URL)

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not response.content
    # Not after the access tokens expire: now, on every device.
    for session in (phone, laptop):
        assert not access_ok(session["access"])
        assert not refresh_ok(api_client, session["refresh"])
    # Logging in again starts afresh.
    assert access_ok(log_in()["access"])


def test_logout_all_leaves_other_users_alone(api_client, edward):
    other = UserFactory(username="other")
    others = log_in("other")

    bearer(log_in()["access"]).post(LOGOUT_ALL_URL)

    assert access_ok(others["access"])
    assert refresh_ok(api_client, others["refresh"])
    other.refresh_from_db()
    assert other.token_version == 0


def test_logout_all_needs_authentication(api_client, edward):
    session = log_in()

    response = api_client.post(LOGOUT_ALL_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "not_authenticated")]
    assert access_ok(session["access"])
