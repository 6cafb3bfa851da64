"""Ending a session ends its access tokens at once: after log-out, and after a
spent refresh token is presented again, the session's access tokens get 401
on the next request, read in the query that loads the user, with no cache
involved (users/sessions.py)."""

from http import HTTPStatus
from pathlib import Path

import pytest
import redis
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.server import live_server
from users.exceptions import SESSION_REVOKED
from users.models import RevokedSession
from users.services import user_login
from users.tokens import SessionAccessToken, token_session

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("auth-login")
REFRESH_URL = reverse("auth-refresh")
LOGOUT_URL = reverse("auth-logout")
ME_URL = reverse("auth-me")
REDIS_URL = "redis://127.0.0.1:6379/10"


@pytest.fixture
def edward(db):
    return UserFactory(username="edward")


def log_in() -> dict[str, str]:
    response = APIClient().post(
        LOGIN_URL, {"username": "edward", "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == HTTPStatus.OK
    tokens: dict[str, str] = response.json()
    return tokens


def me(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME_URL)


def assert_session_ended(response) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["errors"] == [
        {"code": "token_not_valid", "detail": SESSION_REVOKED, "attr": None}
    ]


def log_out(access: str, refresh: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.post(LOGOUT_URL, {"refresh": refresh}, format="json")


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh": token}, format="json")


def test_log_out_ends_the_sessions_access_token_at_once(edward):
    session = log_in()
    assert me(session["access"]).status_code == HTTPStatus.OK

    assert log_out(session["access"], session["refresh"]).status_code == HTTPStatus.NO_CONTENT

    assert_session_ended(me(session["access"]))


def test_log_out_ends_every_access_token_rotated_from_the_log_in(edward):
    first = log_in()
    second = refresh(first["refresh"]).json()

    log_out(second["access"], second["refresh"])

    assert_session_ended(me(first["access"]))
    assert_session_ended(me(second["access"]))


def test_a_reused_refresh_token_ends_the_sessions_access_tokens_at_once(edward):
    first = log_in()
    second = refresh(first["refresh"]).json()
    assert me(first["access"]).status_code == HTTPStatus.OK
    assert me(second["access"]).status_code == HTTPStatus.OK

    assert refresh(first["refresh"]).status_code == HTTPStatus.UNAUTHORIZED

    # The thief's copy and the owner's alike.
    assert_session_ended(me(first["access"]))
    assert_session_ended(me(second["access"]))


def test_ending_a_session_leaves_the_users_other_sessions_alone(edward):
    ended, other = log_in(), log_in()

    log_out(ended["access"], ended["refresh"])

    assert me(other["access"]).status_code == HTTPStatus.OK
    assert refresh(other["refresh"]).status_code == HTTPStatus.OK


def test_an_access_token_without_a_session_is_refused(edward):
    token = SessionAccessToken.for_user(edward)
    del token["sid"]

    response = me(str(token))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["errors"][0]["code"] == "token_not_valid"


def test_the_session_check_is_in_the_user_query(edward, django_assert_num_queries, settings):
    ended, live = log_in(), log_in()
    log_out(ended["access"], ended["refresh"])
    # No cache at all: the check must not need one.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    with django_assert_num_queries(1) as queries:
        assert me(live["access"]).status_code == HTTPStatus.OK
    with django_assert_num_queries(1):
        assert_session_ended(me(ended["access"]))
    assert "users_revokedsession" in queries.captured_queries[0]["sql"]


# --- when the cache cannot be reached ----------------------------------------


def test_with_the_cache_down_an_ended_session_stays_ended(edward, cache_down):
    ended, live = log_in_without_cache(), log_in_without_cache()
    RevokedSession.objects.create(
        sid=token_session(SessionAccessToken(ended["access"])),
        user=edward,
        expires_at="2999-01-01T00:00:00Z",
    )

    assert_session_ended(me(ended["access"]))
    assert me(live["access"]).status_code == HTTPStatus.OK


def test_log_out_with_the_cache_down_ends_that_session_only(edward, cache_down):
    ended, other = log_in_without_cache(), log_in_without_cache()

    assert log_out(ended["access"], ended["refresh"]).status_code == HTTPStatus.NO_CONTENT

    assert_session_ended(me(ended["access"]))
    assert refresh(ended["refresh"]).status_code == HTTPStatus.UNAUTHORIZED
    assert me(other["access"]).status_code == HTTPStatus.OK
    assert refresh(other["refresh"]).status_code == HTTPStatus.OK


@pytest.mark.redis
def test_a_redis_that_comes_back_empty_forgets_no_ended_session(edward, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    redis.Redis.from_url(REDIS_URL).flushdb()
    ended, live = log_in(), log_in()
    log_out(ended["access"], ended["refresh"])

    # Redis restarted without its data.
    redis.Redis.from_url(REDIS_URL).flushdb()

    assert_session_ended(me(ended["access"]))
    assert me(live["access"]).status_code == HTTPStatus.OK


def log_in_without_cache() -> dict[str, str]:
    """A session started without the API (whose log-in limit needs the cache)."""
    login = user_login(username="edward", password=DEFAULT_PASSWORD)
    return {"access": login.access, "refresh": str(login.refresh)}


# --- across server processes --------------------------------------------------


@pytest.mark.live_server_process
@pytest.mark.redis
def test_log_out_ends_the_access_token_in_every_server_process(tmp_path: Path) -> None:
    env = {"REDIS_URL": "redis://127.0.0.1:6379/14"}
    with live_server(tmp_path, workers=2, threads=1, env=env) as server:
        server.login("edward", DEFAULT_PASSWORD)
        login = server.request(
            "POST", "/api/v1/auth/login/", {"username": "edward", "password": DEFAULT_PASSWORD}
        ).body
        ended = server.request(
            "POST", "/api/v1/auth/logout/", {"refresh": login["refresh"]}, token=login["access"]
        )
        # Whichever worker answers, the session has ended.
        statuses = {
            server.request("GET", "/api/v1/auth/me/", token=login["access"]).status
            for _ in range(12)
        }

    assert ended.status == HTTPStatus.NO_CONTENT
    assert statuses == {HTTPStatus.UNAUTHORIZED}
