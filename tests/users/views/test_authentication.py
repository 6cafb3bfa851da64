"""The bearer token on every endpoint: what is refused, and how; what it costs."""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from tests.assertions import error_codes, only_error
from tests.factories import DEFAULT_PASSWORD
from tests.users.views.accounts import (
    ACCESS_LIFETIME,
    LOGIN_URL,
    ME_URL,
    PASSWORD,
    REFRESH_URL,
    REGISTER_URL,
    access_ok,
)
from users.models import User
from users.tokens import SessionAccessToken, SessionRefreshToken

pytestmark = pytest.mark.django_db


def expired_access_token(user: User) -> str:
    token = SessionAccessToken.for_user(user)
    token.set_exp(from_time=datetime.now(tz=UTC) - ACCESS_LIFETIME - timedelta(minutes=1))
    return str(token)


def tampered_access_token(user: User) -> str:
    header, payload, signature = str(SessionAccessToken.for_user(user)).split(".")
    other = "A" if signature[0] != "A" else "B"
    return f"{header}.{payload}.{other}{signature[1:]}"


BAD_ACCESS_TOKENS = {
    "garbage": lambda user: "garbage",
    "not a jwt": lambda user: "a.b.c",
    # Well signed, but a refresh token is no access token.
    "refresh token": lambda user: str(SessionRefreshToken.for_user(user)),
    "expired": expired_access_token,
    "bad signature": tampered_access_token,
}


@pytest.mark.parametrize("kind", BAD_ACCESS_TOKENS)
def test_a_bad_or_expired_access_token_is_refused(api_client, user, kind):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {BAD_ACCESS_TOKENS[kind](user)}")

    response = api_client.get(ME_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["type"] == "client_error"
    assert only_error(response)["code"] == "token_not_valid"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_access_token_of_a_deleted_user_is_refused(api_client, user, make_auth_client):
    client = make_auth_client(user)
    user.delete()

    response = client.get(ME_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


def test_an_access_token_of_a_deactivated_user_is_refused(user, make_auth_client):
    client = make_auth_client(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = client.get(ME_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer  "])
def test_a_malformed_bearer_header_is_one_token_not_valid_error(api_client, header):
    response = api_client.get(ME_URL, HTTP_AUTHORIZATION=header)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


def test_another_auth_scheme_counts_as_no_credentials(api_client):
    response = api_client.get(ME_URL, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "not_authenticated")]


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer", "Basic Zm9vOmJhcg==", "expired"])
def test_a_stale_authorization_header_does_not_block_the_public_endpoints(
    api_client, edward, header
):
    if header == "expired":
        header = f"Bearer {expired_access_token(edward)}"
    api_client.credentials(HTTP_AUTHORIZATION=header)

    login = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD})
    refresh = api_client.post(REFRESH_URL, {"refresh": login.json()["refresh"]})
    register = api_client.post(REGISTER_URL, {"username": "edwina", "password": PASSWORD})

    assert login.status_code == HTTPStatus.OK
    assert refresh.status_code == HTTPStatus.OK
    assert register.status_code == HTTPStatus.CREATED


def test_an_authenticated_request_makes_one_query_for_the_user_and_its_token_version(
    auth_client, django_assert_num_queries
):
    # The revocation check reads the version from the row authentication
    # loads anyway: no query of its own.
    with django_assert_num_queries(1):
        response = auth_client.get(ME_URL)

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_tokens_without_our_claims_are_refused(api_client, user, kind):
    # Signed with our key, but minted without a version and a session (as
    # before revocation existed): they cannot be revoked, so they are refused.
    plain = RefreshToken.for_user(user)

    if kind == "access":
        assert not access_ok(str(plain.access_token))
    else:
        response = api_client.post(REFRESH_URL, {"refresh": str(plain)})
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert error_codes(response) == [(None, "token_not_valid")]
