"""The accounts API contract, end to end through DRF's test client."""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from users.exceptions import (
    INVALID_CREDENTIALS,
    REFRESH_TOKEN_REUSED,
    SESSION_REVOKED,
    USERNAME_TAKEN,
    WRONG_PASSWORD,
)
from users.models import RevokedSession, TokenTransaction, User
from users.serializers import PASSWORD_MAX_CHARS, REGISTERED_MESSAGE, USERNAME_MAX_CHARS
from users.tokens import SessionAccessToken, SessionRefreshToken

pytestmark = pytest.mark.django_db

REGISTER_URL = reverse("auth-register")
LOGIN_URL = reverse("auth-login")
REFRESH_URL = reverse("auth-refresh")
LOGOUT_URL = reverse("auth-logout")
ME_URL = reverse("auth-me")
USERS_URL = reverse("user-list")

PASSWORD = "a-perfectly-fine-passphrase"


def jwt_lifetime(name: str) -> timedelta:
    lifetime = settings.SIMPLE_JWT[name]
    assert isinstance(lifetime, timedelta)
    return lifetime


ACCESS_LIFETIME = jwt_lifetime("ACCESS_TOKEN_LIFETIME")
REFRESH_LIFETIME = jwt_lifetime("REFRESH_TOKEN_LIFETIME")


def expired_access_token(user: User) -> str:
    token = SessionAccessToken.for_user(user)
    token.set_exp(from_time=datetime.now(tz=UTC) - ACCESS_LIFETIME - timedelta(minutes=1))
    return str(token)


def refresh_ok(api_client: APIClient, refresh: str) -> bool:
    return api_client.post(REFRESH_URL, {"refresh": refresh}).status_code == HTTPStatus.OK


def only_error(response):
    body = response.json()
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


@pytest.fixture
def api_client(api_client: APIClient) -> APIClient:
    # Every request of this API is JSON.
    api_client.default_format = "json"
    return api_client


@pytest.fixture
def edward(db: None) -> User:
    return UserFactory.create(username="Edward")


# --- register ----------------------------------------------------------------


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


# --- login -------------------------------------------------------------------


def test_login_returns_a_token_pair_and_the_user(api_client, edward):
    response = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_LIFETIME.total_seconds()
    assert body["user"] == {"id": str(edward.pk), "username": "Edward", "tokens": 4000}
    edward.refresh_from_db()
    assert edward.last_login is not None


def test_token_responses_must_not_be_cached(api_client, edward):
    login = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD})
    refresh = api_client.post(REFRESH_URL, {"refresh": login.json()["refresh"]})

    for response in (login, refresh):
        assert response.status_code == HTTPStatus.OK
        assert "no-store" in response["Cache-Control"]


def test_login_tokens_live_as_long_as_the_simple_jwt_settings_say(api_client, edward):
    body = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD}).json()

    access = AccessToken(body["access"])
    refresh = RefreshToken(body["refresh"])
    assert access["exp"] - access["iat"] == ACCESS_LIFETIME.total_seconds()
    assert refresh["exp"] - refresh["iat"] == REFRESH_LIFETIME.total_seconds()
    assert access["user_id"] == refresh["user_id"] == str(edward.pk)


def test_login_access_token_authenticates(api_client, edward):
    body = api_client.post(LOGIN_URL, {"username": "Edward", "password": DEFAULT_PASSWORD}).json()

    api_client.credentials(HTTP_AUTHORIZATION=f"{body['token_type']} {body['access']}")
    response = api_client.get(ME_URL)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == str(edward.pk)


@pytest.mark.parametrize("username", ["edward", "EDWARD", "eDwArD", "  Edward  "])
def test_login_matches_the_username_in_any_letter_case(api_client, edward, username):
    response = api_client.post(LOGIN_URL, {"username": username, "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["user"]["id"] == str(edward.pk)


def test_login_accepts_the_username_exactly_as_registered(api_client):
    username = "\uff45dward"
    api_client.post(REGISTER_URL, {"username": username, "password": PASSWORD})

    response = api_client.post(LOGIN_URL, {"username": username, "password": PASSWORD})

    assert response.status_code == HTTPStatus.OK


def test_login_wrong_password_and_unknown_user_get_the_same_401(api_client, edward):
    wrong_password = api_client.post(LOGIN_URL, {"username": "Edward", "password": "nope-nope"})
    unknown_user = api_client.post(LOGIN_URL, {"username": "nobody", "password": "nope-nope"})

    assert wrong_password.status_code == unknown_user.status_code == HTTPStatus.UNAUTHORIZED
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json() == {
        "type": "client_error",
        "errors": [{"code": "invalid_credentials", "detail": INVALID_CREDENTIALS, "attr": None}],
    }
    # A 401 carries its challenge (without one DRF would answer 403).
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")
    edward.refresh_from_db()
    assert edward.last_login is None


def test_login_of_an_inactive_user_gets_the_same_401(api_client):
    UserFactory(username="edward", is_active=False)

    response = api_client.post(LOGIN_URL, {"username": "edward", "password": DEFAULT_PASSWORD})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response) == {
        "code": "invalid_credentials",
        "detail": INVALID_CREDENTIALS,
        "attr": None,
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"username": "Edward"}, [("password", "required")]),
        ({"password": DEFAULT_PASSWORD}, [("username", "required")]),
        ({"username": 1, "password": DEFAULT_PASSWORD}, [("username", "invalid")]),
    ],
)
def test_login_validates_its_input(api_client, edward, data, expected):
    response = api_client.post(LOGIN_URL, data)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == expected
    edward.refresh_from_db()
    assert edward.last_login is None


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


# --- refresh -----------------------------------------------------------------


def test_refresh_returns_a_new_pair(api_client, user):
    old = str(SessionRefreshToken.for_user(user))

    response = api_client.post(REFRESH_URL, {"refresh": old})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access", "refresh"}
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


# --- logout ------------------------------------------------------------------


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


# --- me ----------------------------------------------------------------------


def test_me_shows_the_callers_account(auth_client, user):
    UserFactory()  # someone else, not shown

    response = auth_client.get(ME_URL)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"id", "username", "tokens", "date_joined"}
    assert body["id"] == str(user.pk)
    assert body["username"] == user.username
    assert body["tokens"] == 4000
    assert body["date_joined"].endswith("Z")
    assert datetime.fromisoformat(body["date_joined"]) == user.date_joined


def test_me_shows_the_current_balance(auth_client, user):
    User.objects.filter(pk=user.pk).update(tokens=1234)

    assert auth_client.get(ME_URL).json()["tokens"] == 1234


def test_me_needs_authentication(api_client):
    response = api_client.get(ME_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {
                "code": "not_authenticated",
                "detail": "Authentication credentials were not provided.",
                "attr": None,
            }
        ],
    }


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


# --- users list --------------------------------------------------------------


@pytest.fixture
def staff_client(make_auth_client):
    return make_auth_client(UserFactory(username="staff", is_staff=True))


def test_staff_list_every_user_newest_first(staff_client):
    users = [UserFactory() for _ in range(3)]

    response = staff_client.get(USERS_URL)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["next"] is None
    assert body["previous"] is None
    staff = User.objects.get(username="staff")
    assert [row["id"] for row in body["results"]] == [str(u.pk) for u in [*reversed(users), staff]]
    newest = users[-1]
    assert body["results"][0] == {
        "id": str(newest.pk),
        "username": newest.username,
        "tokens": 4000,
        "date_joined": body["results"][0]["date_joined"],
    }
    assert body["results"][0]["date_joined"].endswith("Z")


def test_users_list_pages_with_a_cursor(staff_client):
    users = [UserFactory() for _ in range(3)]

    first = staff_client.get(USERS_URL, {"page_size": 2}).json()
    second = staff_client.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [str(users[2].pk), str(users[1].pk)]
    assert first["previous"] is None
    staff = User.objects.get(username="staff")
    assert [row["id"] for row in second["results"]] == [str(users[0].pk), str(staff.pk)]
    assert second["next"] is None
    assert second["previous"] is not None


def test_users_list_is_staff_only(auth_client):
    response = auth_client.get(USERS_URL)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert only_error(response)["code"] == "permission_denied"


def test_users_list_needs_authentication(api_client):
    response = api_client.get(USERS_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("page_size", [1, 50])
def test_users_list_runs_the_same_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    UserFactory.create_batch(60)

    # One to authenticate the caller, one for the page.
    with django_assert_num_queries(2):
        response = staff_client.get(USERS_URL, {"page_size": page_size})

    assert response.status_code == HTTPStatus.OK
    assert len(response.json()["results"]) == page_size


# --- instant revocation: logout-all and password change ------------------------

LOGOUT_ALL_URL = reverse("auth-logout-all")
PASSWORD_URL = reverse("auth-password")


def log_in(username: str = "Edward", password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = APIClient().post(
        LOGIN_URL, {"username": username, "password": password}, format="json"
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    return dict(response.json())


def access_ok(access: str) -> bool:
    response = APIClient().get(ME_URL, HTTP_AUTHORIZATION=f"Bearer {access}")
    if response.status_code == HTTPStatus.UNAUTHORIZED:
        assert error_codes(response) == [(None, "token_not_valid")]
        return False
    assert response.status_code == HTTPStatus.OK
    return True


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    client.default_format = "json"
    return client


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


def test_a_token_of_an_earlier_version_cannot_be_refreshed(api_client, edward):
    session = log_in()
    edward.end_all_sessions()

    response = api_client.post(REFRESH_URL, {"refresh": session["refresh"]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]


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


def test_logout_ends_every_refresh_token_of_the_session(api_client, edward):
    login = log_in()
    rotated = api_client.post(REFRESH_URL, {"refresh": login["refresh"]}).json()

    # Logging out with the first token of the session ends the latest too.
    response = bearer(rotated["access"]).post(LOGOUT_URL, {"refresh": login["refresh"]})

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not refresh_ok(api_client, rotated["refresh"])
