"""Assertions shared by the tests."""

from typing import Any

from django.db.models import Sum

from users.models import TokenTransaction, User


def ledger_sum(user: User) -> int:
    return TokenTransaction.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0


def assert_ledger_matches_balance(user: User) -> None:
    user.refresh_from_db()
    assert ledger_sum(user) == user.tokens


def error_codes(response: Any) -> list[tuple[str | None, str]]:
    """(attr, code) pairs of an error response in the project's format."""
    return [(error["attr"], error["code"]) for error in response.json()["errors"]]


def only_error(response: Any) -> dict[str, Any]:
    """The one error of an error response in the project's format."""
    body = response.json()
    assert len(body["errors"]) == 1, body
    return dict(body["errors"][0])
