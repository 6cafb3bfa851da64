"""The usage report, read with a key and with a log-in, against the ledger."""

from datetime import timedelta
from http import HTTPStatus

from accounts import Account
from chat_api_client import AuthenticatedClient
from chat_api_client.api.chat import v1_usage_retrieve
from chat_api_client.models import (
    GroupEnum,
    KindEnum,
    TokenTransaction,
    UsageReport,
    V1UsageRetrieveGroup,
    V1UsageRetrieveValidationError,
)
from checks import check, codes, expect


def usage_matches_ledger(
    account: Account, keyed: AuthenticatedClient, rows: list[TokenTransaction]
) -> None:
    charged = -sum(row.amount for row in rows if row.kind == KindEnum.CHAT_CHARGE)
    refunded = sum(row.amount for row in rows if row.kind == KindEnum.REFUND)
    chats = sum(1 for row in rows if row.kind == KindEnum.CHAT_CHARGE)

    by_day = expect(v1_usage_retrieve.sync_detailed(client=keyed), HTTPStatus.OK, UsageReport)
    totals = by_day.totals
    check(
        (totals.charged, totals.refunded, totals.net, totals.chats)
        == (charged, refunded, charged - refunded, chats),
        f"usage: {totals.to_dict()} is not the ledger's {charged}, {refunded}, {chats} chats",
    )
    check(by_day.group == GroupEnum.DAY and by_day.from_.day == 1, "usage: this month by day")
    days = [period.period for period in by_day.periods]
    check(
        days
        == [by_day.from_ + timedelta(days=n) for n in range((by_day.to - by_day.from_).days + 1)],
        "usage: every day of the range, empty ones too",
    )
    check(sum(period.net for period in by_day.periods) == totals.net, "usage: days sum up")

    by_month = expect(
        v1_usage_retrieve.sync_detailed(
            client=account.client, group=V1UsageRetrieveGroup.MONTH, from_=by_day.from_
        ),
        HTTPStatus.OK,
        UsageReport,
    )
    [month] = by_month.periods
    check(month.period == by_day.from_, "usage: the month, by its first day")
    check(by_month.totals.to_dict() == totals.to_dict(), "usage: the same totals by month")

    backwards = expect(
        v1_usage_retrieve.sync_detailed(
            client=keyed, from_=by_day.to + timedelta(days=1), to=by_day.to
        ),
        HTTPStatus.BAD_REQUEST,
        V1UsageRetrieveValidationError,
    )
    check(codes(backwards) == {("from", "after_to")}, "usage: from after to is 400")
