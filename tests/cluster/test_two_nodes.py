"""`make cluster-test`: the multi-machine deployment, rehearsed on this machine.

Two app servers (each gunicorn with its workers, in a process group of its
own, on its own port, as two machines would be) share one PostgreSQL
database and one Redis, behind nginx as the load balancer with the shipped
proxy settings (deploy/nginx/chat-api-proxy.conf). Clients stream chats
through nginx from a model that takes a few seconds per reply
(tests/fake_openai.py). Mid-load, one app server is killed with SIGKILL.

Then: nginx sends every later request to the other; the only errors clients
see are the killed server's requests in flight; every ledger equals its
balance; every charge has its exchange or its refund; and the sweeper
(`manage.py refund_expired_reservations`) refunds the killed server's
reservations. The client-visible errors are printed (run with -s).
"""

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings

from tests.cluster.nodes import Nginx, Node, nginx_is_installed
from tests.fake_openai import Behaviour, FakeOpenAI
from tests.server import LiveServer, RedisServer, _server_database, free_port, manage, server_env

pytestmark = [pytest.mark.cluster, pytest.mark.live_server_process]

CLIENTS = 16
# The model writes 20 pieces, one every 0.15 s: a chat streams for about 3 s.
MESSAGE = " ".join(f"w{i}" for i in range(1, 19))
PIECE_SECONDS = 0.15
LOAD_BEFORE_KILL_SECONDS = 6.0
LOAD_AFTER_KILL_SECONDS = 8.0
# The sweeper's cutoff: a reservation this old belongs to a request that died.
RESERVATION_EXPIRY_SECONDS = 8
# After the kill, nginx may try the dead server once more per request until it
# is marked failed; past this, every request goes to the live one at once.
SETTLE_SECONDS = 1.0


@dataclass
class Chat:
    started: float
    ended: float
    upstream: str
    # "done", "error:<code>", "http:<status>", or "cut" (the stream ended
    # without its last event).
    outcome: str
    exchange: str | None
    # When the first piece of the reply arrived (None: none did).
    first_piece: float | None = None


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the rehearsal shares one PostgreSQL: DATABASE_URL=postgres://...")
    if not nginx_is_installed():
        pytest.skip("no nginx (make cluster-test installs it)")
    model = FakeOpenAI(Behaviour(chunk_delay=PIECE_SECONDS)).start_in_thread()
    redis_server = RedisServer(free_port(), tmp_path / "redis.log")
    redis_server.start()
    nodes: list[Node] = []
    nginx: Nginx | None = None
    try:
        with _server_database(tmp_path) as database_url:
            env = server_env(
                database_url=database_url,
                port=0,
                static_root=tmp_path / "static",
                REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0",
                WEB_CONCURRENCY="2",
                SYNC_THREADS="4",
                ACCESS_LOG="",
                # Behind one proxy: the client's address is the one nginx appends.
                NUM_PROXIES="1",
                AI_PROVIDER="openai",
                AI_BASE_URL=model.base_url,
                AI_API_KEY="test-key",
                AI_MODEL="fake-model",
                AI_TIMEOUT_SECONDS="10",
                CHAT_RESERVATION_EXPIRY_SECONDS=str(RESERVATION_EXPIRY_SECONDS),
            )
            # The release step, once, from one machine (chat-api-release.service).
            for command in (("migrate", "--no-input"), ("createcachetable",)):
                result = manage(*command, env=env)
                assert result.returncode == 0, result.stderr
            nodes = [Node(name, free_port(), env, tmp_path / f"{name}.log") for name in ("a", "b")]
            for node in nodes:
                node.start()
            for node in nodes:
                node.wait_until_ready()
            nginx = Nginx(tmp_path / "nginx", [node.address for node in nodes])
            nginx.start()
            yield {"nodes": nodes, "nginx": nginx, "env": env, "database_url": database_url}
    finally:
        if nginx is not None:
            nginx.stop()
        for node in nodes:
            node.stop()
        redis_server.stop()
        model.stop()


def test_one_app_server_killed_under_a_chat_load(cluster: dict[str, Any]) -> None:
    nodes: list[Node] = cluster["nodes"]
    nginx: Nginx = cluster["nginx"]
    victim, survivor = nodes
    through_nginx = LiveServer(url=nginx.url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(
            pool.map(
                lambda i: through_nginx.login(f"user{i}", "a-fine-long-passphrase"), range(CLIENTS)
            )
        )

    chats: list[Chat] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + LOAD_BEFORE_KILL_SECONDS + LOAD_AFTER_KILL_SECONDS

    def client(token: str) -> None:
        while time.monotonic() < stop_at:
            chat = stream_chat(nginx.port, token)
            with lock:
                chats.append(chat)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        for token in tokens:
            pool.submit(client, token)
        time.sleep(LOAD_BEFORE_KILL_SECONDS)
        kill_started = time.monotonic()
        victim.kill()
        # From the signal until the kernel has closed the last of its sockets.
        killed = (kill_started, time.monotonic())
    # nginx still answers readiness, from the survivor.
    assert through_nginx.request("GET", "/readyz/").status == 200

    report(chats, killed, victim)
    failed = [chat for chat in chats if chat.outcome != "done"]
    # Both servers took chats before the kill; after it, only the survivor.
    assert {c.upstream for c in chats if c.ended < killed[0]} == {victim.address, survivor.address}
    after = [c for c in chats if c.started > killed[1] + SETTLE_SECONDS]
    assert after
    assert all(c.outcome == "done" for c in after), Counter(c.outcome for c in after)
    assert {c.upstream.split(", ")[-1] for c in after} == {survivor.address}
    # Streams pass nginx as they are written, not buffered to their end.
    for chat in chats:
        if chat.outcome == "done":
            assert chat.first_piece is not None
            assert chat.first_piece - chat.started < (chat.ended - chat.started) / 2, chat
    # The only errors: the killed server's requests in flight when it died.
    for chat in failed:
        assert in_flight(chat, killed), chat
        assert victim.address in chat.upstream, chat

    pending = set(pending_exchanges(cluster["database_url"]))
    # Every stream cut after its start event left its reservation behind.
    assert {c.exchange for c in failed if c.exchange} <= pending
    assert_books_balance(cluster["database_url"])

    # The sweeper refunds them once they are older than any reply may take.
    time.sleep(RESERVATION_EXPIRY_SECONDS + 1)
    swept = manage("refund_expired_reservations", env=cluster["env"])
    assert swept.returncode == 0, swept.stderr
    # Its output ends with its summary, after its log lines (docs/operations.md).
    assert swept.stdout.strip().splitlines()[-1] == f"Refunded {len(pending)} expired reservations."
    assert pending_exchanges(cluster["database_url"]) == []
    assert_books_balance(cluster["database_url"])
    print(f"the sweeper refunded {len(pending)} reservations of the killed server")


def stream_chat(port: int, token: str) -> Chat:
    """One streamed chat through nginx, read to its end (or its cut)."""
    started = time.monotonic()
    upstream, outcome, exchange, first_piece = "", "cut", None, None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/v1/chat/",
            json.dumps({"message": MESSAGE, "stream": True}),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        upstream = response.headers.get("X-Upstream", "")
        if response.status != 200:
            outcome = f"http:{response.status}"
            response.read()
        else:
            event = ""
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    if event == "start":
                        exchange = data["id"]
                    elif event == "delta" and first_piece is None:
                        first_piece = time.monotonic()
                    elif event == "done":
                        outcome = "done"
                    elif event == "error":
                        outcome = f"error:{data['errors'][0]['code']}"
    except (OSError, http.client.HTTPException):
        pass  # a stream cut short: the outcome stays "cut"
    finally:
        connection.close()
    return Chat(started, time.monotonic(), upstream, outcome, exchange, first_piece)


def in_flight(chat: Chat, killed: tuple[float, float]) -> bool:
    return chat.started <= killed[1] and chat.ended >= killed[0]


def report(chats: list[Chat], killed: tuple[float, float], victim: Node) -> None:
    during = [c for c in chats if in_flight(c, killed)]
    outcomes = Counter(c.outcome for c in chats)
    errors = Counter(c.outcome for c in chats if c.outcome != "done")
    on_victim = sum(1 for c in during if victim.address in c.upstream)
    print(
        f"\n{len(chats)} streamed chats: {dict(outcomes)}; {len(during)} in flight at the "
        f"kill, {on_victim} of them on the killed server; client-visible errors: {dict(errors)}"
    )


def pending_exchanges(database_url: str) -> list[str]:
    with _connect(database_url) as connection:
        rows = connection.execute(
            "SELECT id FROM conversations_exchange WHERE status = 'pending'"
        ).fetchall()
    return [str(row[0]) for row in rows]


def assert_books_balance(database_url: str) -> None:
    """Each ledger sums to its balance; each charge has its exchange or its refund
    (a refunded exchange is deleted, so per user: charges = exchanges + refunds)."""
    with _connect(database_url) as connection:
        rows = connection.execute(
            """
            SELECT u.username, u.tokens,
                   (SELECT COALESCE(SUM(t.amount), 0) FROM users_tokentransaction t
                     WHERE t.user_id = u.id),
                   (SELECT COUNT(*) FROM users_tokentransaction t
                     WHERE t.user_id = u.id AND t.kind = 'chat_charge'),
                   (SELECT COUNT(*) FROM users_tokentransaction t
                     WHERE t.user_id = u.id AND t.kind = 'refund'),
                   (SELECT COUNT(*) FROM conversations_exchange e
                     WHERE e.user_id = u.id AND e.charge_id IS NOT NULL)
            FROM users_user u
            """
        ).fetchall()
    assert len(rows) == CLIENTS
    for username, tokens, ledger, charges, refunds, exchanges in rows:
        assert ledger == tokens, username
        assert charges == exchanges + refunds, (username, charges, exchanges, refunds)


def _connect(database_url: str) -> psycopg.Connection[Any]:
    parts = urlsplit(database_url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/"),
    )
