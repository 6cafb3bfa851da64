"""users/allowances.py and `manage.py grant_monthly_allowances`: once a month, exactly."""

import io
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.assertions import assert_ledger_matches_balance
from tests.factories import UserFactory
from tests.fuzz.database import query
from tests.server import ROOT, _server_database, server_env
from users.allowances import allowance_grant, allowances_grant
from users.ledger import tokens_adjust
from users.models import MonthlyAllowance, TokenTransaction, User

ALLOWANCE = 5000
MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)


def with_balance(tokens: int, **fields: object) -> User:
    user = UserFactory.create(**fields)
    tokens_adjust(user=user, amount=tokens - user.tokens, kind="admin_adjustment")
    return user


def allowance_rows(user: User) -> list[int]:
    rows = TokenTransaction.objects.filter(user=user, kind=TokenTransaction.Kind.ALLOWANCE)
    return list(rows.values_list("amount", flat=True))


@pytest.mark.django_db
def test_accounts_are_topped_up_to_the_allowance_once_a_month():
    low = with_balance(1200)
    high = with_balance(9000)
    inactive = with_balance(0, is_active=False)

    run = allowances_grant(allowance=ALLOWANCE, month=MARCH)

    assert (run.accounts, run.tokens) == (2, 3800)
    for user, balance in ((low, ALLOWANCE), (high, 9000), (inactive, 0)):
        user.refresh_from_db()
        assert user.tokens == balance
        assert_ledger_matches_balance(user)
    assert allowance_rows(low) == [3800]
    assert allowance_rows(high) == []
    entry = TokenTransaction.objects.get(kind="allowance")
    assert entry.note == "2026-03"
    assert entry.balance_after == ALLOWANCE
    # The month is spent for the rich account too: spending down later in
    # March does not bring a second allowance.
    assert MonthlyAllowance.objects.get(user=high).amount == 0
    assert MonthlyAllowance.objects.get(user=low).entry == entry


@pytest.mark.django_db
def test_running_again_in_the_same_month_gives_nothing_and_the_next_month_gives_again():
    user = with_balance(0)
    allowances_grant(allowance=ALLOWANCE, month=MARCH)
    tokens_adjust(user=user, amount=-4000, kind="admin_adjustment")

    again = allowances_grant(allowance=ALLOWANCE, month=date(2026, 3, 31))
    user.refresh_from_db()
    assert (again.accounts, user.tokens) == (0, 1000)

    april = allowances_grant(allowance=ALLOWANCE, month=APRIL)
    user.refresh_from_db()
    assert (april.accounts, user.tokens) == (1, ALLOWANCE)
    assert allowance_rows(user) == [5000, 4000]
    assert_ledger_matches_balance(user)


@pytest.mark.django_db
def test_a_copy_that_loses_the_race_adds_nothing():
    # What a second copy meets when it read the account as pending just
    # before the first committed: the unique (user, month) row refuses it.
    user = with_balance(0)
    assert allowance_grant(user_id=user.pk, allowance=ALLOWANCE, month=MARCH) is not None

    assert allowance_grant(user_id=user.pk, allowance=ALLOWANCE, month=MARCH) is None

    user.refresh_from_db()
    assert user.tokens == ALLOWANCE
    assert allowance_rows(user) == [ALLOWANCE]
    assert MonthlyAllowance.objects.count() == 1


@pytest.mark.django_db
def test_the_command_says_what_it_did(settings):
    with_balance(100)
    out = io.StringIO()

    settings.MONTHLY_ALLOWANCE = 0
    call_command("grant_monthly_allowances", stdout=out)
    settings.MONTHLY_ALLOWANCE = 300
    call_command("grant_monthly_allowances", stdout=out)
    call_command("grant_monthly_allowances", stdout=out)

    assert out.getvalue().splitlines() == [
        "MONTHLY_ALLOWANCE is 0: no allowance to grant.",
        "Granted this month's allowance to 1 accounts (200 tokens).",
        "Granted this month's allowance to 0 accounts (0 tokens).",
    ]


ACCOUNTS = 150
COPIES = 6
SETUP = f"""
from users.ledger import tokens_adjust
from users.models import User
for i in range({ACCOUNTS}):
    user = User.objects.create_user(username=f"a{{i}}")
    tokens_adjust(user=user, amount=(i * 97) % 8000 or 1, kind="admin_adjustment")
"""
# Per account: its balance, its ledger's sum, how many allowance rows and
# month claims it has.
CHECK = """
    SELECT u.username, u.tokens,
           (SELECT COALESCE(SUM(t.amount), 0) FROM users_tokentransaction t WHERE t.user_id = u.id),
           (SELECT COUNT(*) FROM users_tokentransaction t
             WHERE t.user_id = u.id AND t.kind = 'allowance'),
           (SELECT COUNT(*) FROM users_monthlyallowance m WHERE m.user_id = u.id)
      FROM users_user u
"""


@pytest.mark.live_server_process
def test_copies_running_at_once_in_separate_processes_grant_exactly_once(tmp_path: Path) -> None:
    with _server_database(tmp_path) as database_url:
        env = server_env(
            database_url=database_url,
            port=0,
            static_root=tmp_path,
            MONTHLY_ALLOWANCE=str(ALLOWANCE),
        )
        python = [sys.executable, "manage.py"]
        subprocess.run([*python, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*python, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True)

        copies = [
            subprocess.Popen(
                [*python, "grant_monthly_allowances"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(COPIES)
        ]
        outputs = [copy.communicate(timeout=300) for copy in copies]
        rows = query(database_url, CHECK)

    assert all(copy.returncode == 0 for copy in copies), outputs
    granted = [int(out.split(" accounts")[0].rsplit(" ", 1)[1]) for out, _ in outputs]
    print("accounts claimed by each copy:", granted)
    assert sum(granted) == ACCOUNTS, outputs
    assert len(rows) == ACCOUNTS
    counts = [tuple(int(value) for value in row[1:]) for row in rows]  # type: ignore[call-overload]
    for (username, *_), (tokens, ledger, allowances, claims) in zip(rows, counts, strict=True):
        assert tokens == ledger, username
        assert claims == 1, username
        assert allowances <= 1, username
        assert tokens >= ALLOWANCE, username
    below = sum(1 for i in range(ACCOUNTS) if ((i * 97) % 8000 or 1) < ALLOWANCE)
    assert sum(allowances for _, _, allowances, _ in counts) == below
