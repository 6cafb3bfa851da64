"""Hostile input on every write endpoint: a clear 4xx, and nothing changes.

Each case is sent to every operation that reads a body, into every string
field it has, and the database is compared before and after.
"""

import base64
import json
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from conversations.models import Conversation, Exchange
from tests.assertions import error_codes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from users.models import RevokedSession, TokenTransaction, User
from users.tokens import SessionAccessToken, SessionRefreshToken

pytestmark = pytest.mark.django_db

# Operation -> (URL name, needs a token, its string fields)
WRITES = {
    "register": ("auth-register", False, ["username", "password"]),
    "login": ("auth-login", False, ["username", "password"]),
    "refresh": ("auth-refresh", False, ["refresh"]),
    "logout": ("auth-logout", True, ["refresh"]),
    "password": ("auth-password", True, ["old_password", "new_password"]),
    "chat": ("chat", True, ["message"]),
}
TABLES = (User, TokenTransaction, Conversation, Exchange, RevokedSession, BlacklistedToken)


def snapshot() -> dict[str, Any]:
    state: dict[str, Any] = {model.__name__: model.objects.count() for model in TABLES}
    state["users"] = sorted(
        User.objects.values_list("username", "password", "tokens", "token_version")
    )
    return state


@pytest.fixture
def victim(db):
    return UserFactory(username="edward")


@pytest.fixture
def client_for(victim):
    def make(operation: str) -> APIClient:
        client = APIClient()
        if WRITES[operation][1]:
            access = SessionAccessToken.for_user(victim)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return make


def valid_body(operation: str, victim: User) -> dict[str, Any]:
    refresh = str(SessionRefreshToken.for_user(victim))
    return {
        "register": {"username": "newcomer", "password": "a-perfectly-fine-passphrase"},
        "login": {"username": "edward", "password": DEFAULT_PASSWORD},
        "refresh": {"refresh": refresh},
        "logout": {"refresh": refresh},
        "password": {"old_password": DEFAULT_PASSWORD, "new_password": "a-new-passphrase-42"},
        "chat": {"message": "Hello"},
    }[operation]


def post_raw(client: APIClient, operation: str, body: bytes | str, content_type: str):
    return client.post(reverse(WRITES[operation][0]), body, content_type=content_type)


@pytest.mark.parametrize("operation", WRITES)
@pytest.mark.parametrize(
    "body", ["{", '{"message": }', "[1, 2", "\x00", "{'single': 'quotes'}", "NaN-ish"]
)
def test_malformed_json_is_a_parse_error(client_for, operation, body):
    before = snapshot()

    response = post_raw(client_for(operation), operation, body, "application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [(None, "parse_error")]
    assert snapshot() == before


@pytest.mark.parametrize("operation", WRITES)
def test_invalid_utf8_is_a_parse_error(client_for, operation):
    before = snapshot()

    response = post_raw(client_for(operation), operation, b'{"x": "\xff\xfe"}', "application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [(None, "parse_error")]
    assert snapshot() == before


@pytest.mark.parametrize("operation", WRITES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_json_is_415(client_for, victim, operation, content_type):
    body = json.dumps(valid_body(operation, victim))
    before = snapshot()

    response = post_raw(client_for(operation), operation, body, content_type)

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert error_codes(response) == [(None, "unsupported_media_type")]
    assert snapshot() == before


@pytest.mark.parametrize("operation", WRITES)
def test_a_body_over_the_limit_is_413(client_for, victim, operation):
    field = WRITES[operation][2][0]
    body = {**valid_body(operation, victim), field: "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    before = snapshot()

    response = post_raw(client_for(operation), operation, json.dumps(body), "application/json")

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert error_codes(response) == [(None, "request_too_large")]
    assert snapshot() == before


# Raw JSON text for a field's value.
HOSTILE_VALUES = {
    "NUL byte": r'"nul\u0000byte"',
    "lone surrogate": r'"lone \ud800 half"',
    "number": "12345",
    "float": "1e308",
    "boolean": "true",
    "null": "null",
    "list": '["a-perfectly-fine-passphrase"]',
    "object": '{"a": "b"}',
    "very long": json.dumps("x" * 100_000),
}
FIELDS = [(operation, field) for operation, (_, _, fields) in WRITES.items() for field in fields]


@pytest.mark.parametrize(("operation", "field"), FIELDS)
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_hostile_value_in_any_string_field_is_refused(
    client_for, victim, operation, field, value
):
    body = {**valid_body(operation, victim)}
    body[field] = "__HOSTILE__"
    raw = json.dumps(body).replace('"__HOSTILE__"', HOSTILE_VALUES[value])
    before = snapshot()

    response = post_raw(client_for(operation), operation, raw, "application/json")

    # Refresh and log-out take a token: garbage there is a bad token (401).
    expected = {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED}
    if field != "refresh" or value in {"number", "float", "boolean", "null", "list", "object"}:
        expected = {HTTPStatus.BAD_REQUEST}
    assert response.status_code in expected, response.json()
    errors = response.json()["errors"]
    assert errors
    if response.status_code == HTTPStatus.BAD_REQUEST:
        assert {error["attr"] for error in errors} == {field}
    if value in {"NUL byte", "lone surrogate"} and response.status_code == HTTPStatus.BAD_REQUEST:
        # Codes the schema lists for every string field.
        assert {error["code"] for error in errors} <= {
            "null_characters_not_allowed",
            "surrogate_characters_not_allowed",
            "invalid",
        }
    assert snapshot() == before


@pytest.mark.parametrize("operation", WRITES)
@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_refused(client_for, operation, body):
    before = snapshot()

    response = post_raw(client_for(operation), operation, body, "application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["type"] == "validation_error"
    assert snapshot() == before


# --- tokens --------------------------------------------------------------------


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(user: User, **extra: Any) -> dict[str, Any]:
    token = SessionAccessToken.for_user(user)
    return {**token.payload, **extra}


FORGED_TOKENS = {
    "alg none": lambda u: f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(u))}.",
    "alg none, empty": lambda u: f"{b64({'alg': 'none'})}.{b64(claims(u))}",
    "another key": lambda u: jwt.encode(claims(u), "not-our-secret-key-0123456789abcdef"),
    "HS512 with our key": lambda u: jwt.encode(claims(u), settings.SECRET_KEY, "HS512"),
    "expired": lambda u: jwt.encode(
        claims(u, exp=int((datetime.now(tz=UTC) - timedelta(minutes=1)).timestamp())),
        settings.SECRET_KEY,
    ),
    "refresh as access": lambda u: str(SessionRefreshToken.for_user(u)),
    "no type": lambda u: jwt.encode(
        {k: v for k, v in claims(u).items() if k != "token_type"}, settings.SECRET_KEY
    ),
    "user id not a uuid": lambda u: jwt.encode(claims(u, user_id=42), settings.SECRET_KEY),
    "unknown user": lambda u: jwt.encode(
        claims(u, user_id="00000000-0000-0000-0000-000000000000"), settings.SECRET_KEY
    ),
    "version as a string": lambda u: jwt.encode(claims(u, ver="0"), settings.SECRET_KEY),
    "expiry past any date": lambda u: jwt.encode(claims(u, exp=1e20), settings.SECRET_KEY),
    "huge": lambda u: "a" * 10_000,
    "non-ascii": lambda u: "ünïcödé.tökén.x",
}


# PyJWT warns that our test key is short for HS512; the forgery needs no more.
@pytest.mark.filterwarnings("ignore:The HMAC key")
@pytest.mark.parametrize("kind", FORGED_TOKENS)
def test_a_forged_or_unusable_access_token_is_401(victim, kind):
    token = FORGED_TOKENS[kind](victim)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    before = snapshot()

    response = client.post(reverse("chat"), {"message": "Hello"}, format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]
    assert snapshot() == before


def test_the_forgeries_differ_from_a_good_token_only_where_they_say(victim):
    # The control: the same claims, signed properly, are accepted.
    token = jwt.encode(claims(victim), settings.SECRET_KEY)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert client.get(reverse("balance")).status_code == HTTPStatus.OK


@pytest.mark.filterwarnings("ignore:The HMAC key")
@pytest.mark.parametrize(
    "kind", ["alg none", "another key", "expired", "HS512 with our key", "expiry past any date"]
)
@pytest.mark.parametrize("url", ["auth-refresh", "auth-logout"])
def test_a_forged_refresh_token_is_401(api_client, victim, kind, url):
    refresh = SessionRefreshToken.for_user(victim)
    payload = {**refresh.payload}
    forged = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}.",
        "another key": jwt.encode(payload, "not-our-secret-key-0123456789abcdef"),
        "expired": jwt.encode({**payload, "exp": 1}, settings.SECRET_KEY),
        "HS512 with our key": jwt.encode(payload, settings.SECRET_KEY, "HS512"),
        "expiry past any date": jwt.encode({**payload, "exp": 1e20}, settings.SECRET_KEY),
    }[kind]
    outstanding = OutstandingToken.objects.count()
    if url == "auth-logout":
        api_client.force_authenticate(victim)

    response = api_client.post(reverse(url), {"refresh": forged}, format="json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert error_codes(response) == [(None, "token_not_valid")]
    assert OutstandingToken.objects.count() == outstanding


# --- reads: cursors, page sizes, path ids ----------------------------------------

LISTS = ["conversation-list", "exchange-list", "transaction-list"]
PAGE_KEYS = {"next", "previous", "next_cursor", "previous_cursor", "results"}


# A position a cursor may hold (an id), of nothing stored: an empty page.
NO_SUCH_ID = b"00000000-0000-7000-8000-000000000000"


def cursor(query: bytes) -> str:
    return base64.b64encode(query).decode()


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize(
    "value",
    [
        cursor(b"p=-1"),
        cursor(b"o=-5"),
        cursor(b"p=" + b"9" * 400),
        cursor(b"r=1&p=\x00"),
        cursor(b"r=x&p=2026-01-01"),
        cursor(b"zzz"),
        cursor(b"p=" + NO_SUCH_ID + b"&page=2"),
        b64({"p": -1}),
        "%00",
        "not base64 at all!",
        "!!!",
        cursor(b"p=" + NO_SUCH_ID) + "!!",
    ],
)
def test_a_negative_or_garbled_cursor_is_a_json_404(client_for, name, value):
    response = client_for("chat").get(reverse(name), {"cursor": value})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert error_codes(response) == [(None, "not_found")]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("value", [cursor(b"o=" + b"9" * 40), cursor(b"")])
def test_a_huge_offset_or_empty_cursor_is_an_ordinary_page(client_for, name, value):
    # DRF caps a cursor's offset (at 1000) and reads no position as the start:
    # harmless, and each page is still one bounded query.
    response = client_for("chat").get(reverse(name), {"cursor": value})

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == PAGE_KEYS


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize(
    ("page_size", "code"),
    [
        ("-1", "min_value"),
        ("0", "min_value"),
        ("101", "max_value"),
        ("10" * 30, "max_value"),
        ("9" * 1001, "max_string_length"),
        ("abc", "invalid"),
        ("null", "invalid"),
        ("", "invalid"),
        ("1.5", "invalid"),
        ("1.0", "invalid"),
        (" 5", "invalid"),
        ("\uff15", "invalid"),  # a fullwidth 5: int() reads it, the schema does not
        ("\x00", "invalid"),
    ],
)
def test_a_page_size_the_schema_refuses_is_a_400_naming_it(client_for, name, page_size, code):
    response = client_for("chat").get(reverse(name), {"page_size": page_size})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("page_size", code)]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("page_size", ["1", "100", "007"])
def test_a_page_size_from_1_to_100_is_a_page(client_for, name, page_size):
    response = client_for("chat").get(reverse(name), {"page_size": page_size})

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == PAGE_KEYS


@pytest.mark.parametrize(
    "conversation_id", ["123", "-1", "not-a-uuid", "1e9", "null", "%00", "x" * 500]
)
@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_path_id_of_the_wrong_type_is_a_json_404(client_for, method, conversation_id):
    before = snapshot()

    response = getattr(client_for("chat"), method)(f"/api/v1/conversations/{conversation_id}/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert error_codes(response) == [(None, "not_found")]
    assert snapshot() == before
