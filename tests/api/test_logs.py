"""Logs (api/logs.py, api/middleware.py): JSON lines, the request id, the events.

The lines are captured as the production formatter renders them (LOG_FORMAT
json) and parsed back, so each test reads what a log collector would.
"""

import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest
import structlog
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from api.middleware import REQUEST_ID_HEADER
from conversations.models import Exchange
from conversations.services.chat import chat_reserve
from tests.asgi import ASGIStream
from tests.factories import DEFAULT_PASSWORD
from users.tokens import SESSION_CLAIM, SessionRefreshToken

pytestmark = pytest.mark.django_db

CHAT_URL = reverse("chat")
BALANCE_URL = reverse("balance")

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str], settings: Any) -> Lines:
    """Every line logged during the test (to stdout, as in production), parsed."""
    assert settings.LOG_FORMAT == "json"
    captured: list[str] = []

    def lines() -> list[dict[str, Any]]:
        captured.append(capsys.readouterr().out)
        return [json.loads(line) for line in "".join(captured).splitlines()]

    return lines


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]


def only(lines: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = events(lines, name)
    assert len(found) == 1, (name, lines)
    return found[0]


# --- The line and the request id ---------------------------------------------


def test_a_request_logs_one_json_line_with_time_level_logger_route_status_and_user(
    auth_client, user, log_lines
):
    before = datetime.now(UTC)
    response = auth_client.get(BALANCE_URL)

    line = only(log_lines(), "request")
    assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
    assert before <= datetime.fromisoformat(line["timestamp"]) <= datetime.now(UTC)
    assert line["timestamp"].endswith("Z")  # UTC
    assert (line["level"], line["logger"]) == ("info", "api.request")
    assert line["method"] == "GET"
    assert line["route"] == "api/v1/balance/"  # the pattern, never the path
    assert line["status"] == HTTPStatus.OK
    assert line["user_id"] == str(user.pk)
    assert 0 < line["duration_ms"] < 60_000
    assert line["request_id"] == response[REQUEST_ID_HEADER]
    assert len(response[REQUEST_ID_HEADER]) == 32


def test_a_valid_incoming_request_id_is_kept_echoed_and_logged(auth_client, log_lines):
    response = auth_client.get(BALANCE_URL, HTTP_X_REQUEST_ID="lb-7f3a:01")

    assert response[REQUEST_ID_HEADER] == "lb-7f3a:01"
    assert only(log_lines(), "request")["request_id"] == "lb-7f3a:01"


@pytest.mark.parametrize("sent", ["", "two words", "x" * 129, "caf\u00e9", "tab\there", "\x7f"])
def test_an_invalid_request_id_is_replaced(auth_client, log_lines, sent):
    response = auth_client.get(BALANCE_URL, HTTP_X_REQUEST_ID=sent)

    made = response[REQUEST_ID_HEADER]
    assert made != sent
    assert uuid.UUID(hex=made)
    assert only(log_lines(), "request")["request_id"] == made


def test_each_request_gets_its_own_id(auth_client, log_lines):
    first = auth_client.get(BALANCE_URL)[REQUEST_ID_HEADER]
    second = auth_client.get(BALANCE_URL)[REQUEST_ID_HEADER]

    assert first != second
    assert [line["request_id"] for line in events(log_lines(), "request")] == [first, second]


def test_an_unknown_path_is_logged_as_unmatched_without_its_path(api_client, log_lines):
    api_client.get("/no/such/page/?token=secret-looking")

    line = only(log_lines(), "request")
    assert (line["route"], line["status"]) == ("unmatched", HTTPStatus.NOT_FOUND)
    assert "secret-looking" not in json.dumps(log_lines())


def test_browsers_may_send_and_read_the_request_id(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    origin = {"HTTP_ORIGIN": "https://app.example.com"}

    preflight = api_client.options(
        BALANCE_URL,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-request-id",
        **origin,
    )
    response = api_client.get(BALANCE_URL, **origin)

    assert "x-request-id" in preflight["Access-Control-Allow-Headers"].lower()
    assert "x-request-id" in response["Access-Control-Expose-Headers"].lower()


# --- The chat's events ---------------------------------------------------------


def test_a_chat_logs_reserved_and_completed_with_the_request_id(
    auth_client, user, log_lines, django_capture_on_commit_callbacks
):
    response = auth_client.post(
        CHAT_URL, {"message": "Hello"}, format="json", HTTP_X_REQUEST_ID="chat-1"
    )

    assert response.status_code == HTTPStatus.CREATED
    lines = log_lines()
    reserved, completed = only(lines, "chat.reserved"), only(lines, "chat.completed")
    exchange = Exchange.objects.get()
    for line in (reserved, completed):
        assert line["request_id"] == "chat-1"
        assert line["user_id"] == str(user.pk)
        assert line["exchange_id"] == str(exchange.pk)
    assert (reserved["cost"], reserved["balance_after"]) == (100, user.tokens - 100)
    assert completed["model"] == "echo"
    assert (completed["prompt_tokens"], completed["completion_tokens"]) == (
        exchange.prompt_tokens,
        exchange.completion_tokens,
    )
    assert completed["latency_ms"] >= 0
    assert completed["first_piece_ms"] is None  # not streamed


@pytest.mark.django_db(transaction=True)
def test_a_stream_through_the_asgi_handler_keeps_its_request_id_in_every_line(
    user, openai_provider, log_lines
):
    # The chat's steps run in threads and its reply in tasks of the server's
    # loop: the request id must reach each of them.
    token = SessionRefreshToken.for_user(user).access_token
    response = ASGIStream(
        CHAT_URL,
        {"message": "one two three", "stream": True},
        {"Authorization": f"Bearer {token}", REQUEST_ID_HEADER: "stream-42"},
    )
    response.read()

    assert response.headers[REQUEST_ID_HEADER] == "stream-42"
    lines = log_lines()
    for name in ("request", "chat.reserved", "chat.completed"):
        assert only(lines, name)["request_id"] == "stream-42", name
    completed = only(lines, "chat.completed")
    assert completed["model"] == "fake-model-001"
    assert completed["completion_tokens"] == 5
    assert 0 <= completed["first_piece_ms"] <= completed["latency_ms"]
    # Passed on to the model's server, for its own logs.
    assert [r["_request_id"] for r in openai_provider.requests] == ["stream-42"]


@pytest.mark.django_db(transaction=True)  # the refund's line is logged as it commits
def test_a_provider_error_logs_its_status_and_latency_and_the_refund(
    auth_client, user, openai_provider, log_lines
):
    openai_provider.behaviour.fail_status = 503
    auth_client.raise_request_exception = False  # a 502, as a client gets it
    response = auth_client.post(
        CHAT_URL, {"message": "Hello"}, format="json", HTTP_X_REQUEST_ID="fails-1"
    )

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    lines = log_lines()
    error = only(lines, "chat.provider_error")
    assert (error["level"], error["code"], error["status"]) == ("warning", "provider_error", 503)
    assert error["provider"] == "openai"
    assert error["latency_ms"] >= 0
    refunded = only(lines, "chat.refunded")
    assert (refunded["reason"], refunded["tokens"]) == ("provider_error", 100)
    assert {error["request_id"], refunded["request_id"]} == {"fails-1"}
    assert refunded["user_id"] == str(user.pk)


def test_a_short_balance_is_logged(auth_client, user, log_lines, settings):
    settings.CHAT_MESSAGE_COST = user.tokens + 1

    response = auth_client.post(CHAT_URL, {"message": "Hello"}, format="json")

    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    line = only(log_lines(), "chat.insufficient_tokens")
    assert (line["user_id"], line["cost"]) == (str(user.pk), user.tokens + 1)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_mid_stream_is_logged_incomplete(user, openai_provider, log_lines):
    openai_provider.behaviour.chunk_delay = 0.3
    token = SessionRefreshToken.for_user(user).access_token
    response = ASGIStream(
        CHAT_URL,
        {"message": "one two three four five", "stream": True},
        {"Authorization": f"Bearer {token}"},
    )
    next(response), next(response)  # start, the first piece

    response.leave()

    line = only(log_lines(), "chat.incomplete")
    assert line["exchange_id"] == str(Exchange.objects.get().pk)
    assert line["characters"] == len(Exchange.objects.get().response)
    assert not events(log_lines(), "chat.completed")


def test_the_sweeper_logs_each_refund_and_its_run(
    user, log_lines, django_capture_on_commit_callbacks
):
    reservation = chat_reserve(user=user, message="lost")
    Exchange.objects.filter(pk=reservation.exchange.pk).update(
        created_at=datetime.now(UTC) - timedelta(days=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        call_command("refund_expired_reservations", stdout=io.StringIO())

    lines = log_lines()
    refunded = only(lines, "chat.refunded")
    assert (refunded["reason"], refunded["exchange_id"]) == (
        "reservation expired",
        str(reservation.exchange.pk),
    )
    assert only(lines, "reservations.swept")["refunded"] == 1


# --- Accounts, throttles, the admin --------------------------------------------


def test_a_reused_refresh_token_logs_the_session_it_revoked(user, log_lines):
    refresh = SessionRefreshToken.for_user(user)
    client = APIClient()
    client.post(reverse("auth-refresh"), {"refresh": str(refresh)}, format="json")

    again = client.post(reverse("auth-refresh"), {"refresh": str(refresh)}, format="json")

    assert again.status_code == HTTPStatus.UNAUTHORIZED
    line = only(log_lines(), "auth.refresh_token_reused")
    assert line["level"] == "warning"
    assert line["user_id"] == str(user.pk)
    assert line["revoked_session"] == uuid.UUID(refresh[SESSION_CLAIM]).hex


def test_a_throttled_request_is_logged_with_its_scope(auth_client, settings, log_lines):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.THROTTLE_RATES, "chat": "1/min"},
    }
    cache.clear()
    auth_client.post(CHAT_URL, {"message": "one"}, format="json")

    response = auth_client.post(CHAT_URL, {"message": "two"}, format="json")

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert only(log_lines(), "throttled")["scope"] == "chat"
    cache.clear()


def test_an_admin_balance_adjustment_is_logged(admin_client, admin_user, user, log_lines):
    admin_client.post(
        reverse("admin:users_user_changelist"),
        {
            "action": "adjust_tokens",
            "_selected_action": [str(user.pk)],
            "apply": "Apply",
            "amount": "-300",
            "note": "goodwill",
        },
    )

    line = only(log_lines(), "admin.balance_adjusted")
    assert line["admin_id"] == str(admin_user.pk)
    assert (line["user_id"], line["amount"], line["balance_after"]) == (str(user.pk), -300, 3700)
    assert line["request_id"]


# --- Nothing secret -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_password_token_secret_or_message_text_reaches_a_log_line(
    openai_provider, settings, log_lines
):
    settings.AI_API_KEY = "sk-live-9b1f2d7e3c5a"
    message, streamed = "my diary: the vault code is 7391", "second secret: the safe is blue"
    new_password = "another-Correct-Horse-42"
    client = APIClient()

    def post(name: str, body: dict[str, str]) -> Any:
        return client.post(reverse(name), body, format="json")

    post("auth-register", {"username": "logged", "password": DEFAULT_PASSWORD})
    pair = post("auth-login", {"username": "logged", "password": DEFAULT_PASSWORD}).json()
    rotated = post("auth-refresh", {"refresh": pair["refresh"]}).json()
    post("auth-refresh", {"refresh": pair["refresh"]})  # reuse: the session ends
    again = post("auth-login", {"username": "logged", "password": DEFAULT_PASSWORD}).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {again['access']}")
    chat = client.post(CHAT_URL, {"message": message}, format="json")
    ASGIStream(
        CHAT_URL,
        {"message": streamed, "stream": True},
        {"Authorization": f"Bearer {again['access']}"},
    ).read()
    changed = post(
        "auth-password", {"old_password": DEFAULT_PASSWORD, "new_password": new_password}
    ).json()
    post("auth-login", {"username": "logged", "password": "wrong-password-1"})
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {changed['access']}")
    post("auth-logout", {"refresh": changed["refresh"]})

    assert chat.status_code == HTTPStatus.CREATED
    text = "\n".join(json.dumps(line) for line in log_lines())
    logged = {line["event"] for line in log_lines()}
    assert {"request", "chat.reserved", "chat.completed", "auth.refresh_token_reused"} <= logged
    secrets = [
        DEFAULT_PASSWORD,
        new_password,
        "wrong-password-1",
        settings.AI_API_KEY,
        settings.SECRET_KEY,
        message,
        streamed,
        "vault code",
        "safe is blue",
        *(pair["access"], pair["refresh"], rotated["access"], rotated["refresh"]),
        *(again["access"], again["refresh"], changed["access"], changed["refresh"]),
        # A token's signature alone would do an attacker no good, but neither
        # does it belong in a log.
        *(token.rsplit(".", 1)[1] for token in (pair["access"], pair["refresh"])),
    ]
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []


def test_a_thread_keeps_nothing_of_the_request_it_served(auth_client):
    # A WSGI server's thread serves one request after another; what the last
    # one bound must not reach lines logged outside any request.
    auth_client.get(BALANCE_URL, HTTP_X_REQUEST_ID="gone-1")

    assert structlog.contextvars.get_contextvars() == {}
