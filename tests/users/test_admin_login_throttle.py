"""The admin's log-in shares the API's log-in limits: per account, whatever
the spelling, and per address. Over a limit it answers 429 with its form and
a message that says so, never a 500, and never checks the password."""

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory
from users.forms import LOGIN_THROTTLED

pytestmark = pytest.mark.django_db

ADMIN_LOGIN_URL = reverse("admin:login")
API_LOGIN_URL = reverse("auth-login")
THROTTLED_START = LOGIN_THROTTLED.split("%")[0]


@pytest.fixture
def boss(db):
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


def admin_log_in(username: str, password: str = "wrong-password", address: str = "10.0.0.1"):
    client = Client()
    response = client.post(
        ADMIN_LOGIN_URL,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )
    response.logged_in = "_auth_user_id" in client.session  # type: ignore[attr-defined]
    return response


def api_log_in(username: str, password: str = "wrong-password", address: str = "10.0.0.1"):
    return APIClient().post(
        API_LOGIN_URL,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def assert_throttled_form(response) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(response["Retry-After"]) > 0
    page = response.content.decode()
    assert 'name="username"' in page  # the form, again
    assert THROTTLED_START in page
    assert not response.logged_in


def test_the_admin_log_in_is_limited_per_account(rates, boss):
    rates(login_username="3/min")

    tries = [admin_log_in("boss", address=f"10.0.0.{i}") for i in range(1, 4)]
    # Even the right password is not checked over the limit.
    over = admin_log_in("boss", DEFAULT_PASSWORD, address="10.0.0.9")

    assert [r.status_code for r in tries] == [HTTPStatus.OK] * 3
    assert all("Please enter the correct username" in r.content.decode() for r in tries)
    assert_throttled_form(over)
    boss.refresh_from_db()
    assert boss.last_login is None


def test_every_spelling_of_the_account_counts_at_the_admin(rates, boss):
    rates(login_username="3/min")

    for spelling in ("boss ", "\u00a0BOSS", "bo\u200bss"):
        admin_log_in(spelling)

    assert_throttled_form(admin_log_in("\uff42oss", DEFAULT_PASSWORD))


def test_the_admin_and_the_api_share_one_budget_per_account(rates, boss):
    rates(login_username="4/min")

    api_log_in("boss")
    api_log_in("Boss ")
    admin_log_in("boss")
    admin_log_in("BOSS")

    assert_throttled_form(admin_log_in("boss", DEFAULT_PASSWORD))
    assert api_log_in("boss", DEFAULT_PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_the_admin_log_in_is_limited_per_address(rates, boss):
    rates(login_ip="2/min")

    api_log_in("someone")
    admin_log_in("someone-else")

    assert_throttled_form(admin_log_in("boss", DEFAULT_PASSWORD))
    # Another address has its own budget.
    assert admin_log_in("boss", DEFAULT_PASSWORD, address="10.0.0.2").status_code == (
        HTTPStatus.FOUND
    )


def test_within_the_limits_the_admin_logs_in(rates, boss):
    rates(login_username="3/min", login_ip="3/min")

    response = admin_log_in("boss", DEFAULT_PASSWORD)

    assert response.status_code == HTTPStatus.FOUND
    assert response.logged_in
