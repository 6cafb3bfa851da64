"""POST /api/v1/auth/password/: a new password ends every session but the caller's new one."""

from http import HTTPStatus

import pytest

from tests.assertions import error_codes
from tests.factories import DEFAULT_PASSWORD
from tests.users.views.accounts import (
    LOGIN_URL,
    PASSWORD_URL,
    access_ok,
    bearer,
    log_in,
    refresh_ok,
)
from users.exceptions import WRONG_PASSWORD
from users.serializers import PASSWORD_MAX_CHARS

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


def test_password_change_ends_every_token_and_returns_a_new_pair(api_client, edward):
    this_device, other_device = log_in(), log_in()

    response = bearer(this_device["access"]).post(
        PASSWORD_URL, {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
    assert body["user"]["id"] == str(edward.pk)
    for session in (this_device, other_device):
        assert not access_ok(session["access"])
        assert not refresh_ok(api_client, session["refresh"])
    # The client that changed the password stays logged in with the new pair.
    assert access_ok(body["access"])
    assert refresh_ok(api_client, body["refresh"])
    edward.refresh_from_db()
    assert edward.check_password(NEW_PASSWORD)
    assert log_in(password=NEW_PASSWORD)
    old = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD})
    assert old.status_code == HTTPStatus.UNAUTHORIZED


def test_password_change_with_a_wrong_old_password_changes_nothing(api_client, edward):
    session = log_in()

    response = bearer(session["access"]).post(
        PASSWORD_URL, {"old_password": "not-my-password", "new_password": NEW_PASSWORD}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"code": "wrong_password", "detail": WRONG_PASSWORD, "attr": "old_password"}],
    }
    edward.refresh_from_db()
    assert edward.check_password(DEFAULT_PASSWORD)
    assert edward.token_version == 0
    assert access_ok(session["access"])
    assert refresh_ok(api_client, session["refresh"])


@pytest.mark.parametrize(
    ("new_password", "code"),
    [
        ("Xy9!abc", "password_too_short"),
        ("password", "password_too_common"),
        ("80714926353", "password_entirely_numeric"),
        ("edwards!", "password_too_similar"),
        ("x" * (PASSWORD_MAX_CHARS + 1), "max_length"),
        ("", "blank"),
        (None, "null"),
        (12345678901, "invalid"),
        (["a-brand-new-passphrase"], "invalid"),
    ],
)
def test_password_change_validates_the_new_password(api_client, edward, new_password, code):
    session = log_in()

    response = bearer(session["access"]).post(
        PASSWORD_URL, {"old_password": DEFAULT_PASSWORD, "new_password": new_password}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert ("new_password", code) in error_codes(response)
    edward.refresh_from_db()
    assert edward.check_password(DEFAULT_PASSWORD)
    assert access_ok(session["access"])


def test_password_change_needs_both_passwords(edward):
    response = bearer(log_in()["access"]).post(PASSWORD_URL, {})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert sorted(error_codes(response)) == [
        ("new_password", "required"),
        ("old_password", "required"),
    ]


def test_password_change_needs_authentication(api_client, edward):
    response = api_client.post(
        PASSWORD_URL, {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    edward.refresh_from_db()
    assert edward.check_password(DEFAULT_PASSWORD)
