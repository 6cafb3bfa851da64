"""users/keys.py: spending caps, charged and given back in the ledger's transactions."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from conversations.models import Exchange
from conversations.services.chat import chat_reserve
from conversations.services.reservations import Failed, chat_settle, reservations_refund_expired
from tests.assertions import assert_ledger_matches_balance
from tests.factories import DEFAULT_PASSWORD
from tests.server import live_server
from users.exceptions import InsufficientTokens, SpendingCapReached
from users.keys import key_check, key_create
from users.ledger import tokens_adjust
from users.models import ApiKey, TokenTransaction, User

pytestmark = pytest.mark.django_db

COST = 100  # CHAT_MESSAGE_COST


def keyed(user: User, *, daily_cap: int | None = None, monthly_cap: int | None = None) -> User:
    """The user as a request authenticated with a new key with these caps sees it."""
    secret = key_create(
        user=user, name="capped", daily_cap=daily_cap, monthly_cap=monthly_cap
    ).secret
    key = key_check(secret)
    assert key is not None
    key.user.api_key = key
    return key.user


def spent(user: User) -> tuple[int, int]:
    key = ApiKey.objects.get(user=user)
    return key.spent_today, key.spent_this_month


def test_a_daily_cap_refuses_the_charge_that_would_pass_it(user):
    caller = keyed(user, daily_cap=250)
    chat_reserve(user=caller, message="one")
    chat_reserve(user=caller, message="two")

    with pytest.raises(SpendingCapReached):
        chat_reserve(user=caller, message="three")

    assert Exchange.objects.count() == 2
    assert spent(user) == (200, 200)
    user.refresh_from_db()
    assert user.tokens == 4000 - 2 * COST
    assert_ledger_matches_balance(user)


def test_a_cap_that_fits_exactly_is_not_passed(user):
    caller = keyed(user, daily_cap=200)
    chat_reserve(user=caller, message="one")
    chat_reserve(user=caller, message="two")

    assert spent(user) == (200, 200)


def test_a_new_day_starts_the_daily_count_again_but_not_the_monthly(user):
    caller = keyed(user, daily_cap=150, monthly_cap=250)
    yesterday = timezone.now().date() - timedelta(days=1)
    chat_reserve(user=caller, message="yesterday")
    ApiKey.objects.update(spent_day=yesterday)
    chat_reserve(user=caller, message="today: the day's count starts again")
    ApiKey.objects.update(spent_day=yesterday)

    with pytest.raises(SpendingCapReached):
        chat_reserve(user=caller, message="the month's count does not")

    assert ApiKey.objects.get().spent_this_month == 200
    assert Exchange.objects.count() == 2


def test_a_new_month_starts_the_monthly_count_again(user):
    caller = keyed(user, monthly_cap=100)
    chat_reserve(user=caller, message="last month")
    last_month = (timezone.now().date().replace(day=1) - timedelta(days=1)).replace(day=1)
    ApiKey.objects.update(spent_month=last_month, spent_day=last_month)

    chat_reserve(user=caller, message="this month")

    assert spent(user) == (100, 100)


def test_a_refund_gives_the_cap_its_room_back(user):
    caller = keyed(user, daily_cap=100, monthly_cap=100)
    reservation = chat_reserve(user=caller, message="fails")

    chat_settle(reservation=reservation, outcome=Failed("provider_error"))

    assert spent(user) == (0, 0)
    chat_reserve(user=caller, message="fits again")
    refund = TokenTransaction.objects.get(kind="refund")
    assert refund.api_key_id == ApiKey.objects.get().pk
    assert_ledger_matches_balance(user)


def test_the_sweepers_refund_gives_room_back_too(user, settings):
    caller = keyed(user, daily_cap=100)
    chat_reserve(user=caller, message="the request died")
    Exchange.objects.update(created_at=timezone.now() - timedelta(days=1))

    assert reservations_refund_expired() == 1

    assert spent(user) == (0, 0)


def test_a_refund_of_yesterdays_charge_leaves_todays_count_alone(user):
    caller = keyed(user, daily_cap=1000)
    reservation = chat_reserve(user=caller, message="yesterday")
    TokenTransaction.objects.filter(kind="chat_charge").update(
        created_at=timezone.now() - timedelta(days=1)
    )
    # Today's count, from another charge.
    ApiKey.objects.update(spent_day=timezone.now().date(), spent_today=300)

    chat_settle(reservation=reservation, outcome=Failed("provider_error"))

    assert ApiKey.objects.get().spent_today == 300


def test_a_short_balance_leaves_the_caps_untouched(user):
    caller = keyed(user, daily_cap=10_000)
    tokens_adjust(user=user, amount=-4000, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)

    with pytest.raises(InsufficientTokens):
        chat_reserve(user=caller, message="no money")

    assert spent(user) == (0, 0)
    assert_ledger_matches_balance(user)


def test_a_charge_made_with_a_log_in_counts_against_no_key(user):
    keyed(user, daily_cap=100)
    chat_reserve(user=User.objects.get(pk=user.pk), message="by JWT")
    chat_reserve(user=User.objects.get(pk=user.pk), message="by JWT again")

    assert TokenTransaction.objects.filter(api_key__isnull=False).count() == 0
    assert ApiKey.objects.get().spent_today == 0


PARALLEL = 24


@pytest.mark.live_server_process
def test_parallel_chats_with_a_capped_key_never_pass_the_cap(tmp_path: Path) -> None:
    # Many processes and threads charge the same key at once: the cap check
    # sits in the charging UPDATE, so exactly cap / cost chats get through.
    with live_server(tmp_path, workers=2, threads=8) as server:
        token = server.login("capped", DEFAULT_PASSWORD)
        created = server.request("POST", "/api/v1/keys/", {"name": "k", "daily_cap": 700}, token)
        assert created.status == 201, created
        key = created.body["key"]

        def chat(i: int) -> int:
            return server.request("POST", "/api/v1/chat/", {"message": f"m{i}"}, key).status

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            statuses = Counter(pool.map(chat, range(PARALLEL)))

        assert statuses == {201: 7, 402: PARALLEL - 7}
        listed = server.request("GET", "/api/v1/keys/", token=token).body["results"]
        assert listed[0]["spent_today"] == 700
        assert server.request("GET", "/api/v1/balance/", token=key).body["tokens"] == 3300
        ledger = server.all_pages("/api/v1/transactions/", key)
        assert sum(row["amount"] for row in ledger) == 3300
