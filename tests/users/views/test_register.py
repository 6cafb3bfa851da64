"""POST /api/v1/auth/register/: a new account and its sign-up grant."""

from http import HTTPStatus

import pytest

from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.factories import DEFAULT_PASSWORD
from tests.users.views.accounts import LOGIN_URL, PASSWORD, REGISTER_URL
from users.exceptions import USERNAME_TAKEN
from users.models import TokenTransaction, User
from users.serializers import PASSWORD_MAX_CHARS, REGISTERED_MESSAGE, USERNAME_MAX_CHARS

pytestmark = pytest.mark.django_db


def test_register_creates_an_account_with_4000_tokens(api_client):
    response = api_client.post(REGISTER_URL, {"username": "edward", "password": PASSWORD})

    assert response.status_code == HTTPStatus.CREATED
    user = User.objects.get()
    assert response.json() == {
        "id": str(user.pk),
        "username": "edward",
        "tokens": 4000,
        "message": REGISTERED_MESSAGE,
    }
    assert user.tokens == 4000
    assert user.check_password(PASSWORD)
    assert TokenTransaction.objects.get(user=user).kind == TokenTransaction.Kind.SIGNUP_GRANT
    assert_ledger_matches_balance(user)


def test_register_grants_what_signup_tokens_says(api_client, settings):
    settings.SIGNUP_TOKENS = 10

    response = api_client.post(REGISTER_URL, {"username": "edward", "password": PASSWORD})

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["tokens"] == 10
    assert User.objects.get().tokens == 10


def test_registered_account_can_log_in(api_client):
    api_client.post(REGISTER_URL, {"username": "edward", "password": PASSWORD})

    response = api_client.post(LOGIN_URL, {"username": "edward", "password": PASSWORD})

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("taken", ["Edward", "edward", "EDWARD", "eDwArD"])
def test_register_refuses_a_taken_name_in_any_letter_case(api_client, edward, taken):
    response = api_client.post(REGISTER_URL, {"username": taken, "password": PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"code": "unique", "detail": USERNAME_TAKEN, "attr": "username"}],
    }
    assert list(User.objects.all()) == [edward]
    assert TokenTransaction.objects.count() == 1
    edward.refresh_from_db()
    assert edward.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Xy9!abc", "password_too_short"),
        ("password", "password_too_common"),
        ("80714926353", "password_entirely_numeric"),
        ("edwardwarden", "password_too_similar"),
    ],
)
def test_register_runs_the_password_validators(api_client, password, code):
    response = api_client.post(REGISTER_URL, {"username": "edwardwarden", "password": password})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["type"] == "validation_error"
    assert ("password", code) in error_codes(response)
    assert {attr for attr, _ in error_codes(response)} == {"password"}
    assert not User.objects.exists()
    assert not TokenTransaction.objects.exists()


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("", "blank"),
        (None, "null"),
        (12345678901234, "invalid"),
        ("x" * (PASSWORD_MAX_CHARS + 1), "max_length"),
    ],
)
def test_register_refuses_a_password_that_is_not_a_sane_string(api_client, password, code):
    response = api_client.post(REGISTER_URL, {"username": "edward", "password": password})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("password", code)]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("edward warden", "invalid"),
        ("edward!", "invalid"),
        ("edward/../x", "invalid"),
        ("x" * (USERNAME_MAX_CHARS + 1), "max_length"),
        # The name as sent, as the schema's maxLength counts it: 150 once trimmed.
        (" " + "x" * USERNAME_MAX_CHARS, "max_length"),
        (12345, "invalid"),
        (["edward"], "invalid"),
        ("", "blank"),
        (None, "null"),
    ],
)
def test_register_refuses_a_bad_username(api_client, username, code):
    response = api_client.post(REGISTER_URL, {"username": username, "password": PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["type"] == "validation_error"
    assert error_codes(response) == [("username", code)]
    assert not User.objects.exists()
    assert not TokenTransaction.objects.exists()


def test_register_requires_both_fields(api_client):
    response = api_client.post(REGISTER_URL, {})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert sorted(error_codes(response)) == [("password", "required"), ("username", "required")]
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["x" * USERNAME_MAX_CHARS, "e.d@w+a-r_d", "Élodie", "李雷"])
def test_register_accepts_any_django_username(api_client, username):
    response = api_client.post(REGISTER_URL, {"username": username, "password": PASSWORD})

    assert response.status_code == HTTPStatus.CREATED
    assert User.objects.get().username == username


@pytest.mark.parametrize("username", ["\ufdfa" * 9, "edward\u00bc"])
def test_register_checks_the_username_as_it_will_be_stored(api_client, username):
    response = api_client.post(REGISTER_URL, {"username": username, "password": PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not User.objects.exists()
