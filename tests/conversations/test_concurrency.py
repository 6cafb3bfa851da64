"""Parallel chats through a real multi-process, multi-threaded HTTP server."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.factories import DEFAULT_PASSWORD
from tests.server import LiveServer, live_server

PARALLEL_REQUESTS = 30
AFFORDABLE = 10


def test_parallel_chats_spend_each_token_exactly_once(tmp_path: Path) -> None:
    # The signup grant (4000) covers exactly AFFORDABLE messages at this cost.
    cost = 4000 // AFFORDABLE
    with live_server(
        tmp_path, workers=2, threads=8, env={"CHAT_MESSAGE_COST": str(cost)}
    ) as server:
        token = server.login("racer", DEFAULT_PASSWORD)
        results = parallel_chats(server, token)

        statuses = Counter(status for status, _ in results)
        assert statuses == {201: AFFORDABLE, 402: PARALLEL_REQUESTS - AFFORDABLE}
        # Every success saw a different balance: no two charges overlapped.
        remaining = sorted(body["remaining_tokens"] for status, body in results if status == 201)
        assert remaining == [cost * i for i in range(AFFORDABLE)]
        refused = [body for status, body in results if status == 402]
        assert all(body["errors"][0]["code"] == "insufficient_tokens" for body in refused)

        assert server.request("GET", "/api/v1/balance/", token=token).body["tokens"] == 0
        ledger = server.all_pages("/api/v1/transactions/", token)
        assert sum(row["amount"] for row in ledger) == 0
        assert Counter(row["kind"] for row in ledger) == {"signup_grant": 1, "chat_charge": 10}
        assert len(server.all_pages("/api/v1/chats/", token)) == AFFORDABLE


def test_parallel_per_token_chats_keep_every_ledger_whole(tmp_path: Path) -> None:
    # Each chat reserves over 1,000 of the 4,000 signup tokens and costs about
    # a dozen: at most three reservations fit at once, and each settled chat
    # gives most of its reservation back while others wait on the balance.
    env = {
        "CHAT_PRICING": "per_token",
        "CHAT_PROMPT_PRICE_PER_1K": "1000",
        "CHAT_COMPLETION_PRICE_PER_1K": "1000",
        "AI_MAX_OUTPUT_TOKENS": "1000",
    }
    with live_server(tmp_path, workers=2, threads=8, env=env) as server:
        token = server.login("racer", DEFAULT_PASSWORD)
        results = parallel_chats(server, token)

        statuses = Counter(status for status, _ in results)
        assert set(statuses) <= {201, 402}
        assert statuses[201] >= 3
        charged = [body["tokens_charged"] for status, body in results if status == 201]
        assert all(0 < cost < 1000 for cost in charged)
        balance = server.request("GET", "/api/v1/balance/", token=token).body["tokens"]
        assert balance == 4000 - sum(charged)
        ledger = server.all_pages("/api/v1/transactions/", token)
        assert sum(row["amount"] for row in ledger) == balance
        # A refused chat wrote nothing; each kept one wrote its charge and its refund.
        assert Counter(row["kind"] for row in ledger) == {
            "signup_grant": 1,
            "chat_charge": statuses[201],
            "usage_refund": statuses[201],
        }


def parallel_chats(server: LiveServer, token: str) -> list[tuple[int, Any]]:
    """PARALLEL_REQUESTS chats sent at once by one account: (status, body) each."""

    def chat(i: int) -> tuple[int, Any]:
        result = server.request("POST", "/api/v1/chat/", {"message": f"hello {i}"}, token)
        return result.status, result.body

    with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
        return list(pool.map(chat, range(PARALLEL_REQUESTS)))
