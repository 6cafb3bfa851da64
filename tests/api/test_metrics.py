"""Metrics (api/metrics.py) in this process: `/metrics` and what is counted where.

tests/api/test_server_observability.py checks the sums over the worker
processes of a real server.
"""

import re
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from api import metrics
from tests.asgi import ASGIStream
from tests.factories import DEFAULT_PASSWORD
from users.ledger import tokens_adjust
from users.models import TokenTransaction
from users.tokens import SessionRefreshToken

pytestmark = pytest.mark.django_db

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
CHAT_URL = reverse("chat")
TOKEN = "metrics-token-for-the-tests-0123456789"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


# --- /metrics ------------------------------------------------------------------


def test_metrics_do_not_exist_without_a_token_setting(api_client, settings):
    settings.METRICS_TOKEN = ""

    response = api_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("header", [None, "", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN])
def test_metrics_refuse_any_other_authorization(api_client, metrics_token, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}

    response = api_client.get("/metrics", **extra)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"chat_api" not in response.content


def test_metrics_answer_the_token_in_prometheus_text_format(api_client, metrics_token):
    api_client.get(reverse("balance"))  # 401: counted all the same

    response = api_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert re.search(
        r'^chat_api_http_requests_total\{method="GET",route="api/v1/balance/",status="401"\} '
        r"[1-9]",
        text,
        re.MULTILINE,
    )
    assert "# TYPE chat_api_http_request_duration_seconds histogram" in text


def test_every_metric_is_in_the_operations_guide():
    documented = OPERATIONS.read_text()
    names = [
        f"{metric._name}_total" if metric._type == "counter" else metric._name
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
    ]

    assert len(names) >= 15
    assert [name for name in names if f"`{name}`" not in documented] == []


# --- What is counted -----------------------------------------------------------


def test_requests_are_counted_by_route_method_and_status(auth_client):
    labels = {"route": "api/v1/balance/", "method": "GET", "status": "200"}
    before = value("chat_api_http_requests_total", **labels)
    timed = value(
        "chat_api_http_request_duration_seconds_count", route="api/v1/balance/", method="GET"
    )

    auth_client.get(reverse("balance"))
    auth_client.get(reverse("balance"))

    assert value("chat_api_http_requests_total", **labels) == before + 2
    assert (
        value("chat_api_http_request_duration_seconds_count", route="api/v1/balance/", method="GET")
        == timed + 2
    )


def test_a_made_up_method_cannot_add_a_label_value(api_client):
    api_client.generic("BREW", "/healthz/")

    assert value("chat_api_http_requests_total", route="healthz/", method="other", status="200")


def test_tokens_are_counted_when_their_change_commits(user, django_capture_on_commit_callbacks):
    granted = value("chat_api_tokens_granted_total", kind="admin_adjustment")
    removed = value("chat_api_tokens_removed_total", kind="admin_adjustment")

    with django_capture_on_commit_callbacks(execute=True):
        tokens_adjust(user=user, amount=70, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)
        tokens_adjust(user=user, amount=-20, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        tokens_adjust(user=user, amount=1000, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)
        transaction.set_rollback(True)  # rolled back: never happened

    assert value("chat_api_tokens_granted_total", kind="admin_adjustment") == granted + 70
    assert value("chat_api_tokens_removed_total", kind="admin_adjustment") == removed + 20


def test_a_registration_counts_its_signup_grant(
    api_client, settings, django_capture_on_commit_callbacks
):
    before = value("chat_api_tokens_granted_total", kind="signup_grant")

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            reverse("auth-register"),
            {"username": "counted", "password": DEFAULT_PASSWORD},
            format="json",
        )

    assert (
        value("chat_api_tokens_granted_total", kind="signup_grant")
        == before + settings.SIGNUP_TOKENS
    )


def test_a_chat_counts_its_charge_its_outcome_and_the_model_s_latency(
    auth_client, django_capture_on_commit_callbacks
):
    charged, completed = (
        value("chat_api_tokens_charged_total"),
        value("chat_api_chats_total", outcome="completed"),
    )
    latency = value(
        "chat_api_provider_request_duration_seconds_count", provider="echo", outcome="ok"
    )

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(CHAT_URL, {"message": "Hello"}, format="json")

    assert value("chat_api_tokens_charged_total") == charged + 100
    assert value("chat_api_chats_total", outcome="completed") == completed + 1
    assert (
        value("chat_api_provider_request_duration_seconds_count", provider="echo", outcome="ok")
        == latency + 1
    )


def test_a_throttled_request_is_counted_by_scope(auth_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.THROTTLE_RATES, "chat": "1/min"},
    }
    cache.clear()
    before = value("chat_api_throttled_requests_total", scope="chat")

    auth_client.post(CHAT_URL, {"message": "one"}, format="json")
    auth_client.post(CHAT_URL, {"message": "two"}, format="json")
    auth_client.post(CHAT_URL, {"message": "three"}, format="json")

    assert value("chat_api_throttled_requests_total", scope="chat") == before + 2
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_a_stream_is_in_flight_from_its_start_to_its_end(user, openai_provider):
    openai_provider.behaviour.chunk_delay = 0.2
    token = SessionRefreshToken.for_user(user).access_token
    first_piece = value("chat_api_provider_first_piece_seconds_count", provider="openai")
    before = value("chat_api_streams_in_flight")

    response = ASGIStream(
        CHAT_URL, {"message": "one two", "stream": True}, {"Authorization": f"Bearer {token}"}
    )
    next(response)  # start
    during = value("chat_api_streams_in_flight")
    response.read()

    assert during == before + 1
    assert value("chat_api_streams_in_flight") == before
    assert (
        value("chat_api_provider_first_piece_seconds_count", provider="openai") == first_piece + 1
    )
