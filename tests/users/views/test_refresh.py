"""POST /api/v1/auth/refresh/: a new pair for a refresh token, used once."""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.assertions import error_codes, only_error
from tests.users.views.accounts import REFRESH_LIFETIME, REFRESH_URL, access_ok, log_in, refresh_ok
from users.exceptions import REFRESH_TOKEN_REUSED, SESSION_REVOKED
from users.models import RevokedSession, User
from users.tokens import SessionRefreshToken

pytestmark = pytest.mark.django_db


def test_refresh_returns_a_new_pair(api_client, user):
    old = str(SessionRefreshToken.for_user(user))

    response = api_client.post(REFRESH_URL, {"refresh": old})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert body["refresh"] != old
    assert AccessToken(body["access"])["user_id"] == str(user.pk)
    assert refresh_ok(api_client, body["refresh"])


def test_refresh_tokens_are_single_use(api_client, user):
    old = str(SessionRefreshToken.for_user(user))
    assert refresh_ok(api_client, old)

    response = api_client.post(REFRESH_URL, {"refresh": old})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"
    assert "access" not in response.json()


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "Bearer x.y.z"])
def test_refresh_refuses_garbage(api_client, garbage):
    response = api_client.post(REFRESH_URL, {"refresh": garbage})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"


def test_refresh_refuses_an_access_token(api_client, user):
    access = str(SessionRefreshToken.for_user(user).access_token)

    response = api_client.post(REFRESH_URL, {"refresh": access})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"


def test_refresh_refuses_an_expired_refresh_token(api_client, user):
    refresh = SessionRefreshToken.for_user(user)
    refresh.set_exp(from_time=datetime.now(tz=UTC) - REFRESH_LIFETIME - timedelta(minutes=1))

    response = api_client.post(REFRESH_URL, {"refresh": str(refresh)})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"


def test_refresh_refuses_the_token_of_a_deleted_user(api_client, user):
    refresh = str(SessionRefreshToken.for_user(user))
    user.delete()

    response = api_client.post(REFRESH_URL, {"refresh": refresh})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "token_not_valid"


def test_refresh_refuses_the_token_of_a_deactivated_user(api_client, user):
    refresh = str(SessionRefreshToken.for_user(user))
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client.post(REFRESH_URL, {"refresh": refresh})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


@pytest.mark.parametrize(
    ("data", "code"), [({}, "required"), ({"refresh": ""}, "blank"), ({"refresh": 1}, "invalid")]
)
def test_refresh_validates_its_input(api_client, data, code):
    response = api_client.post(REFRESH_URL, data)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("refresh", code)]


def test_a_token_of_an_earlier_version_cannot_be_refreshed(api_client, edward):
    session = log_in()
    edward.end_all_sessions()

    response = api_client.post(REFRESH_URL, {"refresh": session["refresh"]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


# --- refresh-token theft detection -------------------------------------------


def test_reusing_a_rotated_refresh_token_ends_its_whole_session(api_client, edward):
    first = log_in()["refresh"]
    second = api_client.post(REFRESH_URL, {"refresh": first}).json()["refresh"]

    reuse = api_client.post(REFRESH_URL, {"refresh": first})

    assert reuse.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(reuse) == {
        "code": "token_not_valid",
        "detail": REFRESH_TOKEN_REUSED,
        "attr": None,
    }
    # Whoever holds the rotated token, thief or owner, it is dead too.
    after = api_client.post(REFRESH_URL, {"refresh": second})
    assert after.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(after)["detail"] == SESSION_REVOKED


def test_theft_detection_ends_every_descendant_of_the_log_in(api_client, edward):
    chain = [log_in()["refresh"]]
    for _ in range(3):
        chain.append(api_client.post(REFRESH_URL, {"refresh": chain[-1]}).json()["refresh"])

    assert not refresh_ok(api_client, chain[1])

    assert not refresh_ok(api_client, chain[-1])
    assert RevokedSession.objects.filter(user=edward).count() == 1


def test_theft_detection_leaves_the_users_other_sessions_alone(api_client, edward):
    stolen, other = log_in(), log_in()
    api_client.post(REFRESH_URL, {"refresh": stolen["refresh"]})

    assert not refresh_ok(api_client, stolen["refresh"])

    assert refresh_ok(api_client, other["refresh"])
    assert access_ok(other["access"])
