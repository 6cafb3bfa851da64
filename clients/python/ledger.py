"""The balance runs out: 402, and the ledger, read page by page, explains it."""

from http import HTTPStatus

from accounts import Account
from chat_api_client.api.chat import v1_balance_retrieve, v1_chat_create, v1_transactions_list
from chat_api_client.models import (
    Balance,
    ChatCreateInputRequest,
    ChatOutput,
    ErrorResponse402,
    PaginatedTokenTransactionList,
    TokenTransaction,
)
from checks import check, codes, expect, page


def chat_until_402(account: Account) -> tuple[int, list[TokenTransaction]]:
    """Chats until the balance does not cover one: how many, and the ledger."""
    client, cost = account.client, account.cost
    before = expect(v1_balance_retrieve.sync_detailed(client=client), HTTPStatus.OK, Balance)
    spent, remaining = 0, before.tokens
    while True:
        answer = v1_chat_create.sync_detailed(
            client=client, body=ChatCreateInputRequest(message="More")
        )
        if answer.status_code == HTTPStatus.PAYMENT_REQUIRED:
            short = expect(answer, HTTPStatus.PAYMENT_REQUIRED, ErrorResponse402)
            check(codes(short) == {(None, "insufficient_tokens")}, "402: insufficient_tokens")
            break
        remaining = expect(answer, HTTPStatus.CREATED, ChatOutput).remaining_tokens
        spent += 1
        check(spent <= before.tokens // cost, "402: never more chats than the balance pays")
    final = expect(v1_balance_retrieve.sync_detailed(client=client), HTTPStatus.OK, Balance)
    check(final.tokens == remaining < cost, "402: the balance is below the cost")
    rows = ledger(account)
    check(sum(row.amount for row in rows) == final.tokens, "transactions: sum to the balance")
    check(rows[0].balance_after == final.tokens, "transactions: newest first")
    return spent, rows


def ledger(account: Account) -> list[TokenTransaction]:
    """Every row of the account's ledger, newest first."""
    rows: list[TokenTransaction] = []
    cursor: str | None = None
    while True:
        listed = expect(
            v1_transactions_list.sync_detailed(client=account.client, cursor=page(cursor)),
            HTTPStatus.OK,
            PaginatedTokenTransactionList,
        )
        rows += listed.results
        if listed.next_cursor is None:
            return rows
        cursor = listed.next_cursor
