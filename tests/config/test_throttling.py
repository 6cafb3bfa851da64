"""Rate limits: log-in per address and per username, registration per address,
chat and password changes per user; 429 `throttled` with Retry-After."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path

import pytest
import redis
from django.urls import reverse
from rest_framework.test import APIClient

from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.server import live_server
from users.models import User

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("auth-login")
REGISTER_URL = reverse("auth-register")
CHAT_URL = reverse("chat")
PASSWORD_URL = reverse("auth-password")
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def num_proxies(settings):
    def set_num_proxies(value: int | None) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": value}

    return set_num_proxies


def log_in(username: str, address: str = "10.0.0.1", password: str = "wrong-password", **extra):
    return APIClient().post(
        LOGIN_URL,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
        **extra,
    )


def assert_throttled(response) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json()["type"] == "client_error"
    assert error_codes(response) == [(None, "throttled")]
    assert int(response.headers["Retry-After"]) > 0


def test_login_is_limited_per_address(rates):
    rates(login_ip="3/min")

    allowed = [log_in(f"name{i}").status_code for i in range(3)]
    over = log_in("name3")

    assert allowed == [HTTPStatus.UNAUTHORIZED] * 3
    assert_throttled(over)
    # Another address has its own budget.
    assert log_in("name3", address="10.0.0.2").status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("setting", [0, None])
def test_a_spoofed_x_forwarded_for_does_not_dodge_the_limit(rates, num_proxies, setting):
    rates(login_ip="3/min")
    num_proxies(setting)

    for i in range(3):
        log_in(f"name{i}", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    over = log_in("name3", HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert_throttled(over)


def test_behind_trusted_proxies_the_address_they_saw_counts(rates, num_proxies):
    rates(login_ip="2/min")
    num_proxies(1)
    proxy = "10.9.9.9"

    # The client may prepend anything; the proxy appends the address it saw.
    for forged in ("1.1.1.1", "2.2.2.2"):
        log_in("name", address=proxy, HTTP_X_FORWARDED_FOR=f"{forged}, 198.51.100.7")
    over = log_in("name", address=proxy, HTTP_X_FORWARDED_FOR="3.3.3.3, 198.51.100.7")
    other_client = log_in("name", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")

    assert_throttled(over)
    assert other_client.status_code == HTTPStatus.UNAUTHORIZED


def test_login_is_limited_per_username_in_any_letter_case_from_any_address(rates):
    edward = UserFactory(username="Edward")
    rates(login_username="2/min")

    log_in("Edward", address="10.0.0.1")
    log_in("EDWARD", address="10.0.0.2")
    # Even the right password is not checked once over the limit.
    over = log_in("\uff45dward", address="10.0.0.3", password=DEFAULT_PASSWORD)

    assert_throttled(over)
    edward.refresh_from_db()
    assert edward.last_login is None
    assert log_in("edwina", address="10.0.0.3").status_code == HTTPStatus.UNAUTHORIZED


def test_registration_is_limited_per_address(rates):
    rates(register="2/hour")
    client = APIClient()

    def register(name: str):
        data = {"username": name, "password": "a-perfectly-fine-passphrase"}
        return client.post(REGISTER_URL, data, format="json", REMOTE_ADDR="10.0.0.1")

    allowed = [register(f"name{i}").status_code for i in range(2)]
    over = register("name2")

    assert allowed == [HTTPStatus.CREATED] * 2
    assert_throttled(over)
    assert sorted(User.objects.values_list("username", flat=True)) == ["name0", "name1"]


def test_chat_is_limited_per_user_and_a_refused_message_costs_nothing(
    rates, user, make_auth_client
):
    rates(chat="2/min")
    client = make_auth_client(user)

    allowed = [client.post(CHAT_URL, {"message": "hi"}, format="json") for _ in range(2)]
    over = client.post(CHAT_URL, {"message": "hi"}, format="json")

    assert [response.status_code for response in allowed] == [HTTPStatus.CREATED] * 2
    assert_throttled(over)
    user.refresh_from_db()
    assert user.tokens == 4000 - 2 * 100
    assert_ledger_matches_balance(user)
    other = make_auth_client(UserFactory())
    assert other.post(CHAT_URL, {"message": "hi"}, format="json").status_code == 201


def test_password_guesses_with_an_access_token_are_limited(rates, user, make_auth_client):
    rates(login_username="2/min")
    client = make_auth_client(user)
    new = {"new_password": "a-brand-new-passphrase"}

    for _ in range(2):
        client.post(PASSWORD_URL, {"old_password": "a-guess", **new}, format="json")
    over = client.post(PASSWORD_URL, {"old_password": DEFAULT_PASSWORD, **new}, format="json")

    assert_throttled(over)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.live_server_process
@pytest.mark.redis
def test_server_processes_share_one_budget_through_redis(tmp_path: Path) -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {"REDIS_URL": REDIS_URL, "THROTTLE_LOGIN_IP": "5/min"}
    with live_server(tmp_path, workers=3, threads=1, env=env) as server:
        statuses = [
            server.request(
                "POST", "/api/v1/auth/login/", {"username": f"n{i}", "password": "x"}
            ).status
            for i in range(12)
        ]

    # In per-process memory three workers would allow up to 15.
    assert statuses == [401] * 5 + [429] * 7


@pytest.mark.live_server_process
@pytest.mark.parametrize(
    "redis_url",
    [
        pytest.param("", id="database"),
        pytest.param("redis://127.0.0.1:6379/9", id="redis", marks=pytest.mark.redis),
    ],
)
def test_parallel_guesses_at_one_account_get_exactly_the_limit(
    tmp_path: Path, redis_url: str
) -> None:
    """60 wrong passwords for one account, 40 at a time, at 3 worker processes:
    the counter is shared (Redis, or the database without it) and atomic, so
    exactly the limit, 10, are checked against the password."""
    if redis_url:
        redis.Redis.from_url(redis_url).flushdb()
    env = {"REDIS_URL": redis_url, "THROTTLE_LOGIN_USERNAME": "10/min"}
    with live_server(tmp_path, workers=3, threads=8, env=env) as server:
        registered = server.request(
            "POST", "/api/v1/auth/register/", {"username": "edward", "password": DEFAULT_PASSWORD}
        )
        assert registered.status == HTTPStatus.CREATED

        def guess(i: int):
            return server.request(
                "POST", "/api/v1/auth/login/", {"username": "edward", "password": f"guess-{i}"}
            )

        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(guess, range(60)))

    statuses = Counter(result.status for result in results)
    assert statuses == {HTTPStatus.UNAUTHORIZED: 10, HTTPStatus.TOO_MANY_REQUESTS: 50}
    waits = {
        int(r.headers["Retry-After"]) for r in results if r.status == HTTPStatus.TOO_MANY_REQUESTS
    }
    assert waits
    assert all(0 < wait <= 60 for wait in waits), waits
