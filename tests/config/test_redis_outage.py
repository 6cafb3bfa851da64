"""When the cache (Redis) cannot be reached, nothing answers 500.

Log-in, registration and password change fail closed (503
`service_unavailable` with Retry-After: their limits are what stands between
an attacker and password guessing); chat, balance and history go on, the
chat's limit skipped with a warning; ended sessions never needed the cache
(users/sessions.py). Service comes back by itself when Redis does.
"""

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from structlog.testing import capture_logs

from api.throttling import throttle_skipped_cache_unavailable
from tests.api.test_metrics import value
from tests.assertions import error_codes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.server import LiveServer, RedisServer, free_port, live_server
from users.forms import LOGIN_UNAVAILABLE
from users.models import User
from users.services import user_login

NEW_PASSWORD = "a-brand-new-passphrase"


def assert_unavailable(response) -> None:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["type"] == "server_error"
    assert error_codes(response) == [(None, "service_unavailable")]
    assert int(response.headers["Retry-After"]) > 0


# --- in this process, with a Redis nobody answers at --------------------------


@pytest.mark.django_db
def test_log_in_registration_and_password_change_fail_closed(cache_down, user):
    tokens = user_login(username=user.username, password=DEFAULT_PASSWORD)
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    login = APIClient().post(
        reverse("auth-login"),
        {"username": user.username, "password": DEFAULT_PASSWORD},
        format="json",
    )
    register = APIClient().post(
        reverse("auth-register"), {"username": "newcomer", "password": NEW_PASSWORD}, format="json"
    )
    password = authed.post(
        reverse("auth-password"),
        {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    for response in (login, register, password):
        assert_unavailable(response)
    # Nothing was done: no account, the password unchanged, no log-in recorded.
    assert not User.objects.filter(username="newcomer").exists()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_chat_balance_and_history_go_on_with_the_chat_limit_skipped(
    cache_down, user, make_auth_client, caplog
):
    client = make_auth_client(user)
    skipped = value("chat_api_throttle_skipped_total", scope="chat")

    with capture_logs() as logs:
        chat = client.post(reverse("chat"), {"message": "hi"}, format="json")
    balance = client.get(reverse("balance"))
    history = client.get(reverse("exchange-list"))

    assert chat.status_code == HTTPStatus.CREATED
    assert balance.status_code == HTTPStatus.OK
    assert balance.json()["tokens"] == 4000 - 100
    assert history.status_code == HTTPStatus.OK
    assert len(history.json()["results"]) == 1
    assert [log for log in logs if log["event"] == "throttle.skipped"] == [
        {
            "event": "throttle.skipped",
            "log_level": "warning",
            "scope": "chat",
            "reason": "cache_unavailable",
        }
    ]
    assert value("chat_api_throttle_skipped_total", scope="chat") == skipped + 1


def test_the_skipped_throttle_is_counted_and_logged_by_one_function():
    before = value("chat_api_throttle_skipped_total", scope="chat")

    with capture_logs() as logs:
        throttle_skipped_cache_unavailable("chat")

    assert [(log["log_level"], log["event"], log["scope"]) for log in logs] == [
        ("warning", "throttle.skipped", "chat")
    ]
    assert value("chat_api_throttle_skipped_total", scope="chat") == before + 1


@pytest.mark.django_db
def test_the_admin_log_in_fails_closed_with_its_form(cache_down):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()

    response = client.post(
        reverse("admin:login"),
        {"username": "boss", "password": DEFAULT_PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert int(response["Retry-After"]) > 0
    page = response.content.decode()
    assert 'name="username"' in page
    assert LOGIN_UNAVAILABLE.split("%")[0] in page
    assert "_auth_user_id" not in client.session


# --- real processes, a real Redis stopped and started again -------------------


@pytest.mark.live_server_process
def test_a_real_redis_stopped_and_started_again(tmp_path: Path) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis.log")
    redis_server.start()
    env = {"REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0"}
    try:
        # collectstatic: the admin's log-in page needs its files' manifest.
        with live_server(tmp_path, workers=2, threads=4, env=env, collect_static=True) as server:
            _exercise(server, redis_server)
        log = (tmp_path / "server.log").read_text()
    finally:
        if redis_server.process and redis_server.process.poll() is None:
            redis_server.stop()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["event"] == "throttle.skipped" and line["scope"] == "chat" for line in lines), (
        log
    )
    assert not [line for line in lines if line.get("status") == 500], log


def _exercise(server: LiveServer, redis_server: RedisServer) -> None:
    credentials = {"username": "alice", "password": DEFAULT_PASSWORD}
    assert server.request("POST", "/api/v1/auth/register/", credentials).status == 201
    pair = server.request("POST", "/api/v1/auth/login/", credentials).body
    ended = server.request("POST", "/api/v1/auth/login/", credentials).body
    logged_out = server.request(
        "POST", "/api/v1/auth/logout/", {"refresh": ended["refresh"]}, token=ended["access"]
    )
    assert logged_out.status == 204
    assert server.request("GET", "/readyz/").status == 200

    redis_server.stop()

    # Fail closed: 503 with Retry-After, in the error format.
    for path, body, token in (
        ("/api/v1/auth/login/", credentials, None),
        ("/api/v1/auth/register/", {"username": "bob", "password": DEFAULT_PASSWORD}, None),
        (
            "/api/v1/auth/password/",
            {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            pair["access"],
        ),
    ):
        result = server.request("POST", path, body, token=token)
        assert result.status == 503, (path, result)
        assert result.body["errors"][0]["code"] == "service_unavailable"
        assert int(result.headers["Retry-After"]) > 0
    assert _admin_log_in(server, "alice", DEFAULT_PASSWORD) == 503

    # Go on: refresh, chat (its limit skipped), balance, history.
    refreshed = server.request("POST", "/api/v1/auth/refresh/", {"refresh": pair["refresh"]})
    assert refreshed.status == 200, refreshed
    access = refreshed.body["access"]
    chat = server.request("POST", "/api/v1/chat/", {"message": "still here?"}, token=access)
    assert chat.status == 201, chat
    assert server.request("GET", "/api/v1/balance/", token=access).body["tokens"] == 4000 - 100
    history = server.request("GET", "/api/v1/chats/", token=access)
    assert [e["message"] for e in history.body["results"]] == ["still here?"]
    ready = server.request("GET", "/readyz/")
    assert ready.status == 503
    assert [(e["attr"], e["code"]) for e in ready.body["errors"]] == [
        ("cache", "service_unavailable")
    ]
    assert server.request("GET", "/healthz/").status == 200

    redis_server.start()

    # Back by itself, no restart: the first requests reconnect.
    assert server.request("GET", "/readyz/").status == 200
    login = server.request("POST", "/api/v1/auth/login/", credentials)
    assert login.status == 200, login
    # Redis came back empty; the session ended before the outage stays ended.
    for _ in range(4):  # whichever worker answers
        assert server.request("GET", "/api/v1/auth/me/", token=ended["access"]).status == 401


def _admin_log_in(server: LiveServer, username: str, password: str) -> int:
    """POST the admin's log-in form, with its CSRF token; the status."""
    with urllib.request.urlopen(server.url + "/admin/login/", timeout=30) as page:  # noqa: S310
        cookie = next(
            c.split(";")[0] for c in page.headers.get_all("Set-Cookie") if c.startswith("csrftoken")
        )
        html = page.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token[1], "username": username, "password": password}
    ).encode()
    request = urllib.request.Request(  # noqa: S310
        server.url + "/admin/login/", data=form, headers={"Cookie": cookie}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
