"""Logs and metrics of a real server: gunicorn, two uvicorn worker processes.

One known workload (registrations, log-ins, chats plain and streamed, one
refused for its balance, one refunded for the model's failure), one scrape
of `/metrics`: the counts must be the workload's exactly, summed over the
workers. The server's stdout is then read back: JSON lines, the request id
on the lines of both paths (the synchronous views' thread pool, the chat's
event loop and its threads), and no secret.
"""

import contextlib
import http.client
import json
import os
import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from tests.fake_openai import FakeOpenAI
from tests.server import LiveServer, live_server

pytestmark = pytest.mark.live_server_process

TOKEN = "scrape-token-0f9e8d7c6b5a49382716"
PASSWORD = "observed-Password-1234"
MESSAGES = ["first secret words", "second secret words", "third secret words"]
STREAMED = "streamed secret words"
FAILING = "failing secret words"
BALANCE_READS = 10


@dataclass
class Observed:
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float]
    log: list[dict[str, Any]]
    raw_log: str
    statuses: dict[str, list[int]]
    tokens: list[str]
    model_requests: list[dict[str, Any]]
    metrics_files: list[Path]
    users: dict[str, str]


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Observed:
    tmp_path = tmp_path_factory.mktemp("observed")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    _stale_counts(metrics_dir)
    model = FakeOpenAI().start_in_thread()
    env = {
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SIGNUP_TOKENS": "300",
        "CHAT_MESSAGE_COST": "100",
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": model.base_url,
        "AI_API_KEY": "sk-observed-5e4d3c2b1a",
        "AI_MODEL": "m",
        "AI_TIMEOUT_SECONDS": "30",
    }
    statuses: dict[str, list[int]] = {}
    lock = threading.Lock()

    def note(name: str, status: int) -> None:
        with lock:
            statuses.setdefault(name, []).append(status)

    try:
        with live_server(tmp_path, workers=2, env=env) as server:
            tokens, users = _log_in(server, note)
            access = {name: tokens[i] for i, name in enumerate(("ann", "bob", "cy"))}
            for message in MESSAGES:  # ann: 300 tokens, 3 chats
                note("chat", _chat(server, access["ann"], message))
            note("chat", _chat(server, access["ann"], "one too many"))  # 402
            note("stream", _stream(server, access["bob"], STREAMED, "obs-stream-1"))
            model.behaviour.fail_status = 503
            note("chat", _chat(server, access["bob"], FAILING, "obs-fail-1"))  # 502, refunded
            model.behaviour.fail_status = None
            with ThreadPoolExecutor(BALANCE_READS) as pool:
                for result in pool.map(
                    lambda i: server.request(
                        "GET",
                        "/api/v1/balance/",
                        token=access["cy"],
                        headers={"X-Request-ID": f"obs-sync-{i}"},
                    ),
                    range(BALANCE_READS),
                ):
                    note("balance", result.status)
            note("metrics without a token", server.request("GET", "/metrics").status)
            status, scrape = _raw(server, "GET", "/metrics", token=TOKEN)
            assert status == 200, scrape
            files = sorted(metrics_dir.glob("*.db"))
    finally:
        model.stop()
    raw_log = (tmp_path / "server.log").read_text()
    return Observed(
        metrics=_samples(scrape),
        log=[json.loads(line) for line in raw_log.splitlines() if line.strip()],
        raw_log=raw_log,
        statuses=statuses,
        tokens=tokens,
        model_requests=model.requests,
        metrics_files=files,
        users=users,
    )


def test_the_workload_got_the_answers_it_should(observed):
    assert observed.statuses == {
        "register": [201] * 3,
        "login": [200] * 3,
        "chat": [201, 201, 201, 402, 502],
        "stream": [200],
        "balance": [200] * BALANCE_READS,
        "metrics without a token": [401],
    }


def test_one_scrape_counts_the_workload_exactly_over_all_workers(observed: Observed) -> None:
    def value(name: str, **labels: str) -> float:
        return observed.metrics.get((name, frozenset(labels.items())), 0.0)

    def requests(route: str, method: str, status: int) -> float:
        return value("chat_api_http_requests_total", route=route, method=method, status=str(status))

    assert requests("api/v1/auth/register/", "POST", 201) == 3
    assert requests("api/v1/auth/login/", "POST", 200) == 3
    assert requests("api/v1/chat/", "POST", 201) == 3
    assert requests("api/v1/chat/", "POST", 200) == 1  # the stream
    assert requests("api/v1/chat/", "POST", 402) == 1
    assert requests("api/v1/chat/", "POST", 502) == 1
    assert requests("api/v1/balance/", "GET", 200) == BALANCE_READS
    assert requests("metrics", "GET", 401) == 1
    assert (
        value("chat_api_http_request_duration_seconds_count", route="api/v1/chat/", method="POST")
        == 6
    )
    assert value("chat_api_chats_total", outcome="completed") == 4
    assert value("chat_api_chats_total", outcome="refunded") == 1
    assert value("chat_api_chats_total", outcome="insufficient_tokens") == 1
    assert value("chat_api_chats_total", outcome="incomplete") == 0
    assert value("chat_api_chat_refunds_total", reason="provider_error") == 1
    assert value("chat_api_tokens_charged_total") == 500
    assert value("chat_api_tokens_refunded_total") == 100
    assert value("chat_api_tokens_granted_total", kind="signup_grant") == 900
    assert (
        value("chat_api_provider_request_duration_seconds_count", provider="openai", outcome="ok")
        == 4
    )
    assert (
        value(
            "chat_api_provider_request_duration_seconds_count",
            provider="openai",
            outcome="provider_error",
        )
        == 1
    )
    assert value("chat_api_provider_errors_total", provider="openai", code="provider_error") == 1
    assert value("chat_api_provider_first_piece_seconds_count", provider="openai") == 1
    assert value("chat_api_streams_in_flight") == 0
    assert value("chat_api_throttled_requests_total", scope="chat") == 0


def test_the_counts_come_from_every_worker_and_none_from_an_earlier_run(observed):
    # Files from before the server started (a stale count of 1000) are gone.
    assert not [path for path in observed.metrics_files if path.name.endswith("_999999.db")]
    # One set of files per process that counted: both workers served.
    counting = {path.stem.split("_")[-1] for path in observed.metrics_files}
    assert len(counting) >= 2, observed.metrics_files


def test_the_database_pool_is_sampled_on_postgresql(observed):
    in_use = [
        value
        for (name, _), value in observed.metrics.items()
        if name == "chat_api_db_pool_connections_in_use"
    ]
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        assert len(in_use) == 1
        assert 0 <= in_use[0] <= 2 * 10  # two workers, pools of 10
    else:
        assert sum(in_use) == 0  # SQLite: no pool


def test_every_line_the_server_wrote_is_json(observed):
    assert observed.log
    assert all({"timestamp", "level", "logger", "event"} <= line.keys() for line in observed.log), [
        line for line in observed.log if "timestamp" not in line
    ]
    assert any(line["logger"] == "gunicorn.error" for line in observed.log)  # gunicorn's own


def test_the_request_id_reaches_the_lines_of_both_paths(observed):
    def lines(request_id: str) -> dict[str, dict[str, Any]]:
        return {
            line["event"]: line for line in observed.log if line.get("request_id") == request_id
        }

    # The synchronous views, on the worker's thread pool.
    for i in range(BALANCE_READS):
        read = lines(f"obs-sync-{i}")["request"]
        assert (read["route"], read["status"]) == ("api/v1/balance/", 200)
        assert read["user_id"] == observed.users["cy"]
    # The streamed chat: the event loop, its threads, the reply's tasks.
    stream = lines("obs-stream-1")
    assert {"request", "chat.reserved", "chat.completed"} <= stream.keys()
    assert stream["chat.completed"]["user_id"] == observed.users["bob"]
    assert stream["chat.completed"]["first_piece_ms"] is not None
    # The failed chat: the model's status, and the refund.
    failed = lines("obs-fail-1")
    assert failed["chat.provider_error"]["status"] == 503
    assert failed["chat.refunded"]["reason"] == "provider_error"
    assert failed["request"]["status"] == 502
    # And to the model's server.
    assert [r["_request_id"] for r in observed.model_requests if r.get("stream")] == [
        "obs-stream-1"
    ]


def test_the_server_logged_no_password_token_key_or_message(observed):
    secrets = [PASSWORD, "sk-observed-5e4d3c2b1a", TOKEN, *observed.tokens, *MESSAGES]
    secrets += [STREAMED, FAILING, "secret words"]

    assert [secret for secret in secrets if secret in observed.raw_log] == []


# --- The workload's steps -------------------------------------------------------


def _log_in(server: LiveServer, note: Any) -> tuple[list[str], dict[str, str]]:
    names = ["ann", "bob", "cy"]
    with ThreadPoolExecutor(len(names)) as pool:
        for result in pool.map(
            lambda name: server.request(
                "POST", "/api/v1/auth/register/", {"username": name, "password": PASSWORD}
            ),
            names,
        ):
            note("register", result.status)
        logins = list(
            pool.map(
                lambda name: server.request(
                    "POST", "/api/v1/auth/login/", {"username": name, "password": PASSWORD}
                ),
                names,
            )
        )
    for login in logins:
        note("login", login.status)
    tokens = [login.body["access"] for login in logins] + [
        login.body["refresh"] for login in logins
    ]
    users = {name: login.body["user"]["id"] for name, login in zip(names, logins, strict=True)}
    return tokens, users


def _chat(server: LiveServer, token: str, message: str, request_id: str = "") -> int:
    headers = {"X-Request-ID": request_id} if request_id else None
    return server.request(
        "POST", "/api/v1/chat/", {"message": message}, token=token, headers=headers
    ).status


def _stream(server: LiveServer, token: str, message: str, request_id: str) -> int:
    status, events = _raw(
        server,
        "POST",
        "/api/v1/chat/",
        {"message": message, "stream": True},
        token=token,
        headers={"X-Request-ID": request_id},
    )
    assert "event: done" in events, events
    return status


def _raw(
    server: LiveServer,
    method: str,
    path: str,
    body: Any = None,
    token: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """A request whose answer is read as text (the metrics, a stream)."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (our loopback server)
        server.url + path, data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return response.status, response.read().decode()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _stale_counts(directory: Path) -> None:
    """A counter file as a server killed earlier would leave it: 1000 completed chats."""
    stale = MmapedDict(str(directory / "counter_999999.db"))
    key = mmap_key("chat_api_chats", "chat_api_chats_total", ["outcome"], ["completed"], "")
    stale.write_value(key, 1000.0, 0)
    stale.close()


def test_a_killed_worker_s_streams_stop_counting(tmp_path):
    # gunicorn's child_exit hook (config/gunicorn.py) tells prometheus-client
    # the worker is dead; its gauges would count for ever otherwise.
    model = FakeOpenAI().start_in_thread()
    model.behaviour.chunk_delay = 2.0
    env = {
        "METRICS_TOKEN": TOKEN,
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": model.base_url,
        "AI_API_KEY": "x",
        "AI_MODEL": "m",
        "AI_TIMEOUT_SECONDS": "60",
    }
    try:
        with live_server(tmp_path, workers=1, env=env) as server:
            token = server.login("streamer", PASSWORD)
            streaming = threading.Thread(
                target=_stream_until_cut, args=(server, token), daemon=True
            )
            streaming.start()
            during = _wait_for_gauge(server, "chat_api_streams_in_flight", 1)
            worker = _workers(server.pid)[0]

            os.kill(worker, signal.SIGKILL)
            _wait_for_new_worker(server, worker)
            after = _gauge(server, "chat_api_streams_in_flight")
            streaming.join(30)
    finally:
        model.stop()

    assert (during, after) == (1, 0)


def _stream_until_cut(server: LiveServer, token: str) -> None:
    with contextlib.suppress(OSError, http.client.HTTPException):  # killed mid-stream
        _raw(server, "POST", "/api/v1/chat/", {"message": "a b c d e f", "stream": True}, token)


def _gauge(server: LiveServer, name: str) -> float:
    status, text = _raw(server, "GET", "/metrics", token=TOKEN)
    assert status == 200
    return _samples(text).get((name, frozenset()), 0.0)


def _wait_for_gauge(server: LiveServer, name: str, expected: float) -> float:
    deadline = time.monotonic() + 30
    while (value := _gauge(server, name)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _workers(master: int) -> list[int]:
    """The worker processes of a gunicorn master (its children)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(stat.parent.name))
    return children


def _wait_for_new_worker(server: LiveServer, dead: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = _workers(server.pid)
        if workers and dead not in workers:
            try:
                if server.request("GET", "/healthz/").status == 200:
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not replace the killed worker")
