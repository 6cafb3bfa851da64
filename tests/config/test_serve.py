"""`make serve`'s server: its logs, where requests go, and graceful shutdown."""

import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.urls import reverse

from api import collector
from config.asgi import application, is_async_view
from tests.factories import DEFAULT_PASSWORD
from tests.fake_openai import FakeOpenAI
from tests.server import (
    ROOT,
    LiveServer,
    free_port,
    live_server,
    manage,
    server_env,
    wait_until_healthy,
)


def test_the_server_logs_json_lines_to_stdout(tmp_path):
    port = free_port()
    env = server_env(
        database_url=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        port=port,
        static_root=tmp_path,  # as after collectstatic
        WEB_CONCURRENCY="1",
        ACCESS_LOG="-",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(LiveServer(url=f"http://127.0.0.1:{port}"), server)
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)

    lines = [json.loads(line) for line in stdout.splitlines()]  # each one JSON
    events = [(line["logger"], line["event"]) for line in lines]
    assert any(  # gunicorn's own log
        logger == "gunicorn.error" and event.startswith("Booting worker")
        for logger, event in events
    )
    assert any(  # uvicorn's access log, asked for
        logger == "uvicorn.access" and '"GET /healthz/ HTTP/1.1" 200' in event
        for logger, event in events
    )
    assert any(  # the app's own line
        line["event"] == "request" and (line["route"], line["status"]) == ("healthz/", 200)
        for line in lines
    )
    assert stderr.strip() == ""


def test_coroutine_views_go_to_the_asgi_handler_and_the_rest_to_the_thread_pool():
    assert is_async_view(reverse("chat"))
    assert not is_async_view(reverse("balance"))
    assert not is_async_view("/healthz/")
    assert not is_async_view("/no/such/page/")


@pytest.mark.parametrize("entry_point", ["config.asgi", "config.wsgi"])
def test_loading_the_app_loads_every_view_before_the_first_request(entry_point):
    # A new interpreter: this one's URLconf was loaded by the tests before.
    program = (
        f"import {entry_point}; from django.urls import get_resolver; "
        "print('url_patterns' in vars(get_resolver()))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert loaded.splitlines()[-1] == "True"  # after any log line


def test_the_server_s_loop_opens_the_provider_and_sets_the_collector_as_it_starts(
    monkeypatch, collector_at_defaults
):
    opened: list[asyncio.AbstractEventLoop] = []

    class Provider:
        async def open(self) -> None:
            opened.append(asyncio.get_running_loop())

    monkeypatch.setattr("config.asgi.get_provider", Provider)

    async def start_and_stop() -> asyncio.AbstractEventLoop:
        lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
        await lifespan.send_input({"type": "lifespan.startup"})
        assert await lifespan.receive_output(5) == {"type": "lifespan.startup.complete"}
        await lifespan.send_input({"type": "lifespan.shutdown"})
        assert await lifespan.receive_output(5) == {"type": "lifespan.shutdown.complete"}
        return asyncio.get_running_loop()

    loop = async_to_sync(start_and_stop)()

    assert opened == [loop]
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (collector.YOUNG, collector.MIDDLE, collector.OLD)


def test_the_server_refuses_a_huge_body_having_read_only_the_limit(tmp_path):
    """Django refuses a body over the limit from its declared length (413 in
    our error format); the server reads no more of it than the limit, so a
    client can announce 1 GB, send a megabyte, and get its answer at once."""
    with live_server(tmp_path, workers=1, threads=1) as server:
        url = urlsplit(server.url)
        connection = HTTPConnection(url.hostname or "", url.port, timeout=30)
        connection.putrequest("POST", "/api/v1/auth/register/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(1 << 30))
        connection.endheaders()
        connection.send(b"x" * (1 << 20))
        response = connection.getresponse()

        assert response.status == 413
        assert json.loads(response.read())["errors"][0]["code"] == "request_too_large"
        connection.close()
        # The server goes on serving.
        assert server.request("GET", "/healthz/").status == 200


def test_a_client_cannot_choose_its_address_by_a_header_when_no_proxy_is_declared(tmp_path):
    """NUM_PROXIES=0: every request from this test's socket counts as one
    address, whatever X-Forwarded-For it sends (uvicorn trusted it from
    127.0.0.1, so each new value got a new registration limit)."""
    with live_server(tmp_path, workers=1, env={"THROTTLE_REGISTER": "2/hour"}) as server:
        statuses = [
            server.request(
                "POST",
                "/api/v1/auth/register/",
                {"username": f"forwarded-{n}", "password": DEFAULT_PASSWORD},
                headers={"X-Forwarded-For": f"10.0.0.{n}", "X-Real-IP": f"10.0.0.{n}"},
            ).status
            for n in range(3)
        ]

    assert statuses == [201, 201, 429]


def test_sigterm_lets_a_chat_in_flight_finish_billed_once_and_refuses_new_ones(tmp_path):
    provider = FakeOpenAI().start_in_thread()
    provider.behaviour.chunk_delay = 1.0  # "You said: one two three": 5 pieces, 5 s
    env = {
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": provider.base_url,
        "AI_API_KEY": "x",
        "AI_MODEL": "m",
        "AI_TIMEOUT_SECONDS": "30",
    }
    try:
        with live_server(tmp_path, workers=1, env=env) as server:
            token = server.login("deployed", DEFAULT_PASSWORD)
            events: list[str] = []
            chat = threading.Thread(target=lambda: events.extend(stream(server, token)))
            chat.start()
            time.sleep(1)

            os.kill(server.pid, signal.SIGTERM)
            time.sleep(0.5)

            host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((host, port), timeout=2).close()
            chat.join(timeout=30)
            assert events[0].startswith("event: start")
            assert events[-1].startswith("event: done")
            assert '"response": "You said: one two three"' in events[-1]
            billing = manage(
                "shell", "-c", BILLING, env={"DATABASE_URL": server.database_url, "DEBUG": "1"}
            )
            assert json.loads(billing.stdout.splitlines()[-1]) == {
                "charges": 1,
                "refunds": 0,
                "exchanges": ["complete"],
                "tokens": 3900,
            }
    finally:
        provider.stop()


BILLING = """
import json
from conversations.models import Exchange
from users.models import TokenTransaction, User
user = User.objects.get(username="deployed")
print(json.dumps({
    "charges": TokenTransaction.objects.filter(user=user, kind="chat_charge").count(),
    "refunds": TokenTransaction.objects.filter(user=user, kind="refund").count(),
    "exchanges": [e.status for e in Exchange.objects.filter(user=user)],
    "tokens": user.tokens,
}))
"""


def stream(server: LiveServer, token: str) -> list[str]:
    """The events of one streamed chat, read to the end."""
    url = urlsplit(server.url)
    connection = HTTPConnection(url.hostname or "", url.port, timeout=30)
    body = json.dumps({"message": "one two three", "stream": True})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/chat/", body, headers)
    text = connection.getresponse().read().decode()
    return [event for event in text.split("\n\n") if event.startswith("event:")]
