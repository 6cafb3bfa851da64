"""GET /api/v1/usage/: what chats cost, per day or month, from the ledger."""

from datetime import UTC, date, datetime
from http import HTTPStatus

import pytest
from django.urls import reverse

from tests.assertions import error_codes, only_error
from tests.users.views.accounts import bearer
from users.keys import key_create
from users.ledger import tokens_adjust
from users.models import TokenTransaction, User

pytestmark = pytest.mark.django_db

USAGE_URL = reverse("usage")
CHARGE = TokenTransaction.Kind.CHAT_CHARGE
REFUND = TokenTransaction.Kind.REFUND


def ledger(user: User, when: datetime, amount: int, kind: str) -> None:
    entry = tokens_adjust(user=user, amount=amount, kind=kind)
    TokenTransaction.objects.filter(pk=entry.pk).update(created_at=when)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def history(user: User) -> User:
    ledger(user, at("2026-03-31", 23), -100, CHARGE)
    ledger(user, at("2026-04-01", 0), -100, CHARGE)
    ledger(user, at("2026-04-01", 1), -100, CHARGE)
    ledger(user, at("2026-04-01", 2), 100, REFUND)
    ledger(user, at("2026-04-03"), -100, CHARGE)
    ledger(user, at("2026-04-03"), 500, TokenTransaction.Kind.ADMIN_ADJUSTMENT)
    ledger(user, at("2026-05-02"), -100, CHARGE)
    return user


def period(day: str, charged: int = 0, refunded: int = 0, chats: int = 0) -> dict[str, object]:
    return {
        "period": day,
        "charged": charged,
        "refunded": refunded,
        "net": charged - refunded,
        "chats": chats,
    }


def test_usage_by_day_lists_every_day_of_the_range(auth_client, history):
    response = auth_client.get(USAGE_URL, {"from": "2026-04-01", "to": "2026-04-04"})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "from": "2026-04-01",
        "to": "2026-04-04",
        "group": "day",
        "totals": {"charged": 300, "refunded": 100, "net": 200, "chats": 3},
        "periods": [
            period("2026-04-01", charged=200, refunded=100, chats=2),
            period("2026-04-02"),
            period("2026-04-03", charged=100, chats=1),
            period("2026-04-04"),
        ],
    }


def test_usage_by_month(auth_client, history):
    response = auth_client.get(
        USAGE_URL, {"from": "2026-03-15", "to": "2026-05-31", "group": "month"}
    )

    assert response.json()["periods"] == [
        period("2026-03-01", charged=100, chats=1),
        period("2026-04-01", charged=300, refunded=100, chats=3),
        period("2026-05-01", charged=100, chats=1),
    ]
    assert response.json()["totals"]["net"] == 400


def test_usage_defaults_to_this_month_by_day(auth_client, user):
    response = auth_client.get(USAGE_URL)

    body = response.json()
    today = datetime.now(tz=UTC).date()
    assert body["from"] == today.replace(day=1).isoformat()
    assert body["to"] == today.isoformat()
    assert body["group"] == "day"
    assert len(body["periods"]) == today.day


def test_usage_is_one_aggregate_query(auth_client, history, django_assert_num_queries):
    with django_assert_num_queries(2):  # authentication, the report
        auth_client.get(USAGE_URL, {"from": "2026-01-01", "to": "2026-12-31", "group": "month"})


def test_usage_counts_only_the_callers_ledger(auth_client, history, make_auth_client):
    other = make_auth_client(User.objects.create_user(username="other", password="x"))

    response = other.get(USAGE_URL, {"from": "2026-04-01", "to": "2026-04-30"})

    assert response.json()["totals"] == {"charged": 0, "refunded": 0, "net": 0, "chats": 0}


def test_an_api_key_reads_usage(history):
    secret = key_create(user=history, name="report").secret

    response = bearer(secret).get(USAGE_URL, {"from": "2026-04-01", "to": "2026-04-01"})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["totals"]["net"] == 100


def test_the_last_day_there_is_is_a_range_end_like_any_other(auth_client, user):
    response = auth_client.get(
        USAGE_URL, {"from": "9999-12-01", "to": "9999-12-31", "group": "month"}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["periods"] == [period("9999-12-01")]
    assert date.max.isoformat() == "9999-12-31"


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"from": "2026-02-30"}, [("from", "invalid")]),
        ({"to": "yesterday"}, [("to", "invalid")]),
        ({"from": ""}, [("from", "invalid")]),
        # RFC 3339's full-date (the schema's format: date) and nothing else
        # Python's parser reads.
        ({"from": "20260105"}, [("from", "invalid")]),
        ({"from": "2026-W01-1"}, [("from", "invalid")]),
        ({"from": "2026-1-5"}, [("from", "invalid")]),
        ({"from": "\u0662\u0660\u0662\u0666-01-05"}, [("from", "invalid")]),
        ({"to": "2026-01-05\n"}, [("to", "invalid")]),
        ({"group": "week"}, [("group", "invalid_choice")]),
        ({"from": "2026-04-02", "to": "2026-04-01"}, [("from", "after_to")]),
        ({"from": "2025-01-01", "to": "2026-01-02"}, [("from", "range_too_long")]),
        (
            {"from": "2000-01-01", "to": "2026-01-01", "group": "month"},
            [("from", "range_too_long")],
        ),
    ],
)
def test_bad_usage_parameters_are_400(auth_client, query, errors):
    response = auth_client.get(USAGE_URL, query)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == errors


@pytest.mark.parametrize("day", ["2026-1-5", "2026-02-30"])
def test_a_bad_day_is_told_the_one_format_taken(auth_client, day):
    response = auth_client.get(USAGE_URL, {"from": day})

    assert only_error(response)["detail"] == "Date has wrong format. Use YYYY-MM-DD."


def test_a_year_by_day_is_allowed(auth_client):
    response = auth_client.get(USAGE_URL, {"from": "2024-01-01", "to": "2024-12-31"})

    assert response.status_code == HTTPStatus.OK
    assert len(response.json()["periods"]) == 366
