"""API keys over HTTP: managing them with a log-in, and using them where they are accepted."""

import hashlib
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.assertions import assert_ledger_matches_balance, error_codes, only_error
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.users.views.accounts import LOGOUT_ALL_URL, ME_URL, PASSWORD_URL, bearer, log_in
from users.exceptions import API_KEY_NOT_ALLOWED, API_KEY_NOT_VALID, SPENDING_CAP_REACHED
from users.keys import KEY_PREFIX, key_create
from users.models import ApiKey, User

pytestmark = pytest.mark.django_db

KEYS_URL = reverse("key-list")
CHAT_URL = reverse("chat")
BALANCE_URL = reverse("balance")
# Every endpoint a key may read (chat is a POST, tested on its own).
KEY_READABLE_URLS = [
    BALANCE_URL,
    reverse("conversation-list"),
    reverse("exchange-list"),
    reverse("transaction-list"),
]


def key_url(key_id: str) -> str:
    return reverse("key-detail", args=[key_id])


@pytest.fixture
def jwt_client(user: User) -> APIClient:
    return bearer(log_in(user.username, DEFAULT_PASSWORD)["access"])


def new_key(user: User, **options: object) -> str:
    return key_create(user=user, name="script", **options).secret  # type: ignore[arg-type]


# --- Managing keys ------------------------------------------------------------


def test_a_new_key_is_shown_once_and_stored_only_as_a_hash(jwt_client, user):
    response = jwt_client.post(KEYS_URL, {"name": "backend", "daily_cap": 500})

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert set(body) == {
        "key",
        "id",
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "daily_cap",
        "monthly_cap",
        "spent_today",
        "spent_this_month",
    }
    secret = body["key"]
    assert secret.startswith(KEY_PREFIX)
    assert secret.startswith(body["prefix"])
    # 32 random bytes in base64url are 43 characters, after the lookup.
    assert len(secret) >= len(body["prefix"]) + 43
    assert body["name"] == "backend"
    assert body["daily_cap"] == 500
    assert body["monthly_cap"] is None
    assert body["last_used_at"] is None
    assert body["created_at"].endswith("Z")
    assert "no-store" in response["Cache-Control"]
    stored = ApiKey.objects.get()
    assert str(stored.pk) == body["id"]
    assert stored.user == user
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in stored.__dict__.values()}
    listed = jwt_client.get(KEYS_URL).json()["results"]
    assert [key["id"] for key in listed] == [body["id"]]
    assert "key" not in listed[0]
    assert jwt_client.get(key_url(body["id"])).json() == listed[0]


def test_keys_are_listed_newest_first_and_only_the_owners(jwt_client, user):
    older = key_create(user=user, name="older").key
    newer = key_create(user=user, name="newer").key
    key_create(user=UserFactory.create(), name="someone else's")

    listed = jwt_client.get(KEYS_URL).json()["results"]

    assert [key["id"] for key in listed] == [str(newer.pk), str(older.pk)]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, [("name", "required")]),
        ({"name": "  "}, [("name", "blank")]),
        ({"name": "x" * 101}, [("name", "max_length")]),
        # The limit counts the name as sent, as the schema's maxLength does
        # (DRF counted it after trimming; the fuzzer found it).
        ({"name": "\t" + "x" * 100}, [("name", "max_length")]),
        ({"name": "k", "daily_cap": 0}, [("daily_cap", "min_value")]),
        ({"name": "k", "monthly_cap": "100"}, [("monthly_cap", "invalid")]),
        ({"name": "k", "daily_cap": 10**16}, [("daily_cap", "max_value")]),
        (
            {"name": "k", "expires_at": "2000-01-01T00:00:00Z"},
            [("expires_at", "expires_in_the_past")],
        ),
        ({"name": "k", "expires_at": "soon"}, [("expires_at", "invalid")]),
        # RFC 3339 (the schema's format: date-time) and nothing else Python's
        # parser reads; above all no time without its offset, which was
        # read as UTC, silently hours off for a client that meant its own.
        *(
            ({"name": "k", "expires_at": when}, [("expires_at", "invalid")])
            for when in (
                "2099-01-01T00:00:00",
                "2099-01-01",
                "2099-01-01T00:00Z",
                "20990101T000000Z",
                "2099-W01-1T00:00:00Z",
                "2099-01-01 00:00:00Z",
                "2099-01-01T00:00:00+0100",
                "2099-01-01T00:00:00+05:60",
                "2099-01-01T00:00:00+24:00",
                "2099-01-01T00:00:00Z\n",
                "\u0662\u0660\u0669\u0669-01-01T00:00:00Z",
            )
        ),
    ],
)
def test_a_bad_key_request_is_400_and_creates_nothing(jwt_client, body, errors):
    response = jwt_client.post(KEYS_URL, body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == errors
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2099-01-01T00:00:00Z", "2099-01-01T00:00:00Z"),
        ("2099-01-01t00:00:00.5z", "2099-01-01T00:00:00.500000Z"),
        ("2099-01-01T00:00:00+01:00", "2098-12-31T23:00:00Z"),
    ],
)
def test_an_expiry_in_rfc_3339_is_taken_in_utc(jwt_client, sent, stored):
    response = jwt_client.post(KEYS_URL, {"name": "k", "expires_at": sent})

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["expires_at"] == stored


@pytest.mark.parametrize("when", ["2099-01-01T00:00:00", "2099-02-30T00:00:00Z"])
def test_a_bad_expiry_is_told_the_one_format_taken(jwt_client, when):
    # Whether the pattern or the parser refuses it (February 30th): DRF's
    # own message listed seconds and offset as optional.
    response = jwt_client.post(KEYS_URL, {"name": "k", "expires_at": when})

    assert only_error(response)["detail"] == (
        "Datetime has wrong format. Use YYYY-MM-DDThh:mm:ss[.ffffff](Z|±hh:mm)."
    )


def test_a_key_path_takes_its_id_in_capitals_too(jwt_client, user):
    new_key(user)
    key_id = str(ApiKey.objects.get().pk)

    assert jwt_client.delete(key_url(key_id.upper())).status_code == HTTPStatus.NO_CONTENT
    assert jwt_client.get(KEYS_URL).json()["results"] == []


def test_revoking_a_key_ends_it_at_once(jwt_client, user):
    secret = new_key(user)
    key_client = bearer(secret)
    assert key_client.get(BALANCE_URL).status_code == HTTPStatus.OK
    key_id = ApiKey.objects.get().pk

    revoked = jwt_client.delete(key_url(str(key_id)))

    assert revoked.status_code == HTTPStatus.NO_CONTENT
    refused = key_client.get(BALANCE_URL)
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(refused) == {
        "code": "token_not_valid",
        "detail": API_KEY_NOT_VALID,
        "attr": None,
    }
    assert jwt_client.get(KEYS_URL).json()["results"] == []
    assert jwt_client.delete(key_url(str(key_id))).status_code == HTTPStatus.NOT_FOUND


def test_someone_elses_key_is_not_found(jwt_client):
    other = key_create(user=UserFactory.create(), name="theirs").key

    assert jwt_client.get(key_url(str(other.pk))).status_code == HTTPStatus.NOT_FOUND
    assert jwt_client.delete(key_url(str(other.pk))).status_code == HTTPStatus.NOT_FOUND
    assert ApiKey.objects.get().revoked_at is None


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", KEYS_URL, None),
        ("post", KEYS_URL, {"name": "another"}),
        ("delete", "detail", None),
        ("post", PASSWORD_URL, {"old_password": DEFAULT_PASSWORD, "new_password": "x-new-pass-1"}),
        ("post", LOGOUT_ALL_URL, None),
        ("get", ME_URL, None),
    ],
)
def test_a_key_cannot_manage_keys_the_password_or_sessions(user, method, url, body):
    secret = new_key(user)
    if url == "detail":
        url = key_url(str(ApiKey.objects.get().pk))

    response = getattr(bearer(secret), method)(url, body)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response) == {
        "code": "token_not_valid",
        "detail": API_KEY_NOT_ALLOWED,
        "attr": None,
    }
    assert ApiKey.objects.get().revoked_at is None
    assert ApiKey.objects.count() == 1
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.token_version == 0


# --- Using keys -----------------------------------------------------------------


@pytest.mark.parametrize("url", KEY_READABLE_URLS)
def test_a_key_reads_what_a_log_in_reads(user, jwt_client, url):
    jwt_client.post(CHAT_URL, {"message": "Hello"})

    response = bearer(new_key(user)).get(url)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == jwt_client.get(url).json()


def test_a_key_chats_and_the_charge_names_it(user):
    secret = new_key(user)

    response = bearer(secret).post(CHAT_URL, {"message": "Hello"})

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["remaining_tokens"] == 3900
    charge = user.token_transactions.get(kind="chat_charge")
    assert charge.api_key == ApiKey.objects.get()
    assert_ledger_matches_balance(user)


@pytest.mark.parametrize("url", KEY_READABLE_URLS)
def test_a_key_costs_no_more_queries_than_an_access_token(user, jwt_client, url):
    key_client = bearer(new_key(user))
    key_client.get(url)  # its first use records last_used_at
    with CaptureQueriesContext(connection) as by_jwt:
        assert jwt_client.get(url).status_code == HTTPStatus.OK
    with CaptureQueriesContext(connection) as by_key:
        assert key_client.get(url).status_code == HTTPStatus.OK

    assert len(by_key) == len(by_jwt)
    # The one authentication query: the key with its user joined in.
    assert len(by_key) <= 2


def test_a_chat_with_a_capless_key_costs_what_a_chat_with_a_log_in_costs(user, jwt_client):
    key_client = bearer(new_key(user))
    key_client.get(BALANCE_URL)
    with CaptureQueriesContext(connection) as by_jwt:
        assert jwt_client.post(CHAT_URL, {"message": "a"}).status_code == HTTPStatus.CREATED
    with CaptureQueriesContext(connection) as by_key:
        assert key_client.post(CHAT_URL, {"message": "a"}).status_code == HTTPStatus.CREATED

    assert len(by_key) == len(by_jwt)


def test_last_used_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    key_client = bearer(new_key(user))
    key = ApiKey.objects.get()

    with django_assert_num_queries(2):  # the key, and recording its first use
        key_client.get(BALANCE_URL)
    key.refresh_from_db()
    assert key.last_used_at is not None
    first_use = key.last_used_at
    with django_assert_num_queries(1):
        key_client.get(BALANCE_URL)
    key.refresh_from_db()
    assert key.last_used_at == first_use

    ApiKey.objects.update(last_used_at=first_use - timedelta(minutes=2))
    with django_assert_num_queries(2):
        key_client.get(BALANCE_URL)
    key.refresh_from_db()
    assert key.last_used_at > first_use


def unusable_keys(user: User) -> dict[str, str]:
    good = new_key(user)
    expired = new_key(user, expires_at=timezone.now() + timedelta(seconds=1))
    ApiKey.objects.filter(lookup=expired[len(KEY_PREFIX) :][:12]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    wrong_secret = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    return {
        "expired": expired,
        "wrong secret": wrong_secret,
        "unknown lookup": KEY_PREFIX + "zzzzzzzzzzzz" + good[-43:],
        "too short": good[:-1],
        "prefix only": KEY_PREFIX,
        "not ascii": good[:-1] + "é",
    }


@pytest.mark.parametrize(
    "kind", ["expired", "wrong secret", "unknown lookup", "too short", "prefix only", "not ascii"]
)
def test_an_unusable_key_is_401(user, kind):
    secret = unusable_keys(user)[kind]

    response = bearer(secret).get(BALANCE_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_users_keys_stop_working(user):
    key_client = bearer(new_key(user))
    user.is_active = False
    user.save()

    assert key_client.get(BALANCE_URL).status_code == HTTPStatus.UNAUTHORIZED


def test_log_out_everywhere_and_a_password_change_leave_keys_working(user, jwt_client):
    key_client = bearer(new_key(user))

    assert jwt_client.post(LOGOUT_ALL_URL).status_code == HTTPStatus.NO_CONTENT
    assert key_client.get(BALANCE_URL).status_code == HTTPStatus.OK
    relogged = bearer(log_in(user.username, DEFAULT_PASSWORD)["access"])
    changed = relogged.post(
        PASSWORD_URL, {"old_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-secret-9"}
    )
    assert changed.status_code == HTTPStatus.OK
    assert key_client.get(BALANCE_URL).status_code == HTTPStatus.OK
    assert key_client.post(CHAT_URL, {"message": "still here"}).status_code == HTTPStatus.CREATED


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_past_the_keys_cap_is_402_and_charges_nothing(user, stream):
    key_client = bearer(new_key(user, daily_cap=150))
    assert key_client.post(CHAT_URL, {"message": "fits"}).status_code == HTTPStatus.CREATED

    refused = key_client.post(CHAT_URL, {"message": "does not", "stream": stream})

    assert refused.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert only_error(refused) == {
        "code": "spending_cap_reached",
        "detail": SPENDING_CAP_REACHED,
        "attr": None,
    }
    user.refresh_from_db()
    assert user.tokens == 3900
    assert user.token_transactions.filter(kind="chat_charge").count() == 1
    assert_ledger_matches_balance(user)
    listed = bearer(log_in(user.username, DEFAULT_PASSWORD)["access"]).get(KEYS_URL)
    assert listed.json()["results"][0]["spent_today"] == 100
