"""bench/check.py's figures and bench/run.py's billing_problems: exact under
flat pricing (no usage refund, every chat its cost) and per-token pricing (a
kept chat's charge is its reservation, less a `usage_refund`)."""

from decimal import Decimal

import pytest
from django.conf import settings

from bench.check import billing_report
from bench.run import billing_problems
from conversations.models import Exchange
from conversations.services.chat import chat_reserve
from conversations.services.reservations import Failed, chat_settle
from tests.factories import UserFactory
from tests.sync import chat_send
from users.ledger import ledger_record
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db

Kind = TokenTransaction.Kind
BALANCE = 1_000


@pytest.fixture
def bench_users():
    # And one user the check leaves out: not a bench user.
    chat_send(user=UserFactory(username="someone", balance=BALANCE), message="Hello")
    return [UserFactory(username=f"bench{i}", balance=BALANCE) for i in range(2)]


@pytest.fixture
def per_token(settings):
    settings.CHAT_PRICING = "per_token"
    settings.CHAT_PROMPT_PRICE_PER_1K = Decimal("250")
    settings.CHAT_COMPLETION_PRICE_PER_1K = Decimal("1000")
    settings.AI_MAX_OUTPUT_TOKENS = 100


def problems(report: dict, answered: int) -> list[str]:
    """billing_problems, given the chats the clients saw answered (none unread)."""
    return billing_problems({**report, "successful_chats": answered, "in_flight_at_most": 0})


def test_flat_pricing_adds_up_with_no_usage_refund(bench_users):
    ids = [str(chat_send(user=user, message="Hello").exchange.pk) for user in bench_users]
    # A chat that failed: charged, refunded, its exchange deleted.
    failed = chat_reserve(user=bench_users[0], message="Hello")
    chat_settle(reservation=failed, outcome=Failed("ai_error"))

    report = billing_report(BALANCE, ids)

    cost = settings.CHAT_MESSAGE_COST
    assert report | {"pricing": "flat", "exchanges": 2, "charges": 3, "refunds": 1} == report
    assert (report["usage_refunds"], report["tokens_usage_refunded"]) == (0, 0)
    assert report["exchanges_cost"] == report["tokens_spent"] == 2 * cost
    assert report["tokens_charged"] - report["tokens_refunded"] == 2 * cost
    assert (report["streamed_done"], report["streamed_done_charged_once"]) == (2, 2)
    assert problems(report, answered=2) == []


def test_a_chat_read_twice_is_not_charged_once(bench_users):
    exchange = chat_send(user=bench_users[0], message="Hello").exchange

    report = billing_report(BALANCE, [str(exchange.pk)] * 2)

    assert (report["streamed_done"], report["streamed_done_charged_once"]) == (2, 0)
    assert problems(report, answered=1) == [
        "of 2 streamed chats done, 0 are stored complete and charged once:"
    ]


def test_a_usage_refund_under_flat_pricing_is_a_mismatch(bench_users):
    user = bench_users[0]
    exchange = chat_send(user=user, message="Hello").exchange
    ledger_record(user_id=user.pk, amount=10, kind=Kind.USAGE_REFUND)

    report = billing_report(BALANCE, [str(exchange.pk)])

    assert report["usage_refunds"] == 1
    assert problems(report, answered=1) == [
        "billing mismatch:",
        f"billing mismatch: flat pricing, yet not {settings.CHAT_MESSAGE_COST} a chat "
        "with no usage refund:",
    ]


@pytest.mark.usefixtures("per_token")
def test_per_token_pricing_adds_up_with_its_usage_refunds(bench_users):
    ids = [str(chat_send(user=user, message="Hello").exchange.pk) for user in bench_users]
    chat_settle(
        reservation=chat_reserve(user=bench_users[0], message="Hello"), outcome=Failed("ai_error")
    )

    report = billing_report(BALANCE, ids)

    kept = Exchange.objects.filter(user__in=bench_users)
    cost = sum(exchange.tokens_charged for exchange in kept)
    reserved = -sum(exchange.charge.amount for exchange in kept)
    assert cost < reserved  # each reply cost less than its reservation
    assert report | {"pricing": "per_token", "exchanges": 2, "charges": 3, "refunds": 1} == report
    assert report["usage_refunds"] == 2
    assert report["tokens_usage_refunded"] == reserved - cost
    assert report["exchanges_cost"] == report["tokens_spent"] == cost
    # Charged once: a charge of its reservation, at least its cost.
    assert report["streamed_done_charged_once"] == 2
    assert problems(report, answered=2) == []


@pytest.mark.usefixtures("per_token")
def test_per_token_with_more_usage_refunds_than_chats_is_a_ledger_mismatch(bench_users):
    user = bench_users[0]
    chat_send(user=user, message="Hello")
    ledger_record(user_id=user.pk, amount=1, kind=Kind.USAGE_REFUND)

    report = billing_report(BALANCE)

    assert "ledger mismatch:" in problems(report, answered=1)
