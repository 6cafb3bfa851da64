"""The billing proof: many users, many processes, many requests at once.

Production runs several gunicorn processes; these tests use the same server
and configuration as `make serve`, with at least three worker processes, on
the database the suite runs on (SQLite or PostgreSQL).
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.factories import DEFAULT_PASSWORD
from tests.server import LiveServer, live_server

USERS = 5
AFFORDABLE_EACH = 20
REQUESTS_EACH = 40  # 200 in all, twice what the balances cover
SIGNUP_TOKENS = 4000
COST = SIGNUP_TOKENS // AFFORDABLE_EACH


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Any:
    env = {"CHAT_MESSAGE_COST": str(COST), "SIGNUP_TOKENS": str(SIGNUP_TOKENS)}
    with live_server(tmp_path_factory.mktemp("load"), workers=3, threads=4, env=env) as running:
        yield running


def test_concurrent_chats_from_many_users_are_billed_exactly(server: LiveServer) -> None:
    tokens = [server.login(f"loaduser{i}", DEFAULT_PASSWORD) for i in range(USERS)]
    jobs = [(token, n) for n in range(REQUESTS_EACH) for token in tokens]

    def chat(job: tuple[str, int]) -> tuple[str, int]:
        token, n = job
        return token, server.request("POST", "/api/v1/chat/", {"message": f"m{n}"}, token).status

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(chat, jobs))

    assert Counter(status for _, status in results) == {201: 100, 402: 100}
    for token in tokens:
        mine = Counter(status for owner, status in results if owner == token)
        assert mine == {201: AFFORDABLE_EACH, 402: REQUESTS_EACH - AFFORDABLE_EACH}
        assert server.request("GET", "/api/v1/balance/", token=token).body["tokens"] == 0
        ledger = server.all_pages("/api/v1/transactions/", token)
        assert sum(row["amount"] for row in ledger) == 0
        assert len(server.all_pages("/api/v1/chats/", token)) == AFFORDABLE_EACH


def test_concurrent_retries_with_one_key_are_charged_once(server: LiveServer) -> None:
    token = server.login("retrier", DEFAULT_PASSWORD)
    key = {"Idempotency-Key": "one-message-many-retries"}

    def send(_: int) -> Any:
        return server.request("POST", "/api/v1/chat/", {"message": "hi"}, token, headers=key)

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(send, range(30)))

    first = [r for r in results if r.status == 201 and "Idempotent-Replayed" not in r.headers]
    replays = [r for r in results if r.headers.get("Idempotent-Replayed") == "true"]
    busy = [r for r in results if r.status == 409]
    assert len(first) == 1
    assert len(first) + len(replays) + len(busy) == len(results)
    assert all(r.status == 201 and r.body == first[0].body for r in replays)
    assert all(r.body["errors"][0]["code"] == "idempotency_key_in_progress" for r in busy)
    balance = server.request("GET", "/api/v1/balance/", token=token).body["tokens"]
    assert balance == SIGNUP_TOKENS - COST
    assert len(server.all_pages("/api/v1/chats/", token)) == 1


def test_deleting_a_conversation_while_chats_join_it_is_never_a_5xx(server: LiveServer) -> None:
    token = server.login("deleter", DEFAULT_PASSWORD)
    # 3 rounds of 1 + 5 chats: within the 20 this module's balance covers.
    for _ in range(3):
        conversation = server.request("POST", "/api/v1/chat/", {"message": "start"}, token).body
        chat = {"message": "more", "conversation": conversation["conversation"]}
        path = f"/api/v1/conversations/{conversation['conversation']}/"

        def act(n: int, chat: dict[str, str] = chat, path: str = path) -> int:
            if n == 3:
                return server.request("DELETE", path, token=token).status
            return server.request("POST", "/api/v1/chat/", chat, token).status

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(act, range(6)))

        # 409: a reply was on its way; once the chats have landed, deleting works.
        assert statuses[3] in {204, 409}
        assert set(statuses) <= {201, 204, 404, 409}
        if statuses[3] == 409:
            assert server.request("DELETE", path, token=token).status == 204
        assert server.request("GET", path, token=token).status == 404
    ledger = server.all_pages("/api/v1/transactions/", token)
    balance = server.request("GET", "/api/v1/balance/", token=token).body["tokens"]
    assert sum(row["amount"] for row in ledger) == balance
