"""`make serve`'s gunicorn configuration: its logs, and how many connections a worker holds."""

import subprocess
import sys
import time
from http.client import HTTPConnection
from urllib.parse import urlsplit

from tests.server import (
    ROOT,
    LiveServer,
    free_port,
    live_server,
    server_env,
    wait_until_healthy,
)


def test_the_server_logs_to_stdout(tmp_path):
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

    assert "Booting worker" in stdout  # gunicorn's own log
    assert '"GET /healthz/ HTTP/1.1" 200' in stdout  # the access log
    assert stderr.strip() == ""


def _connection_header(client: HTTPConnection) -> str | None:
    client.request("GET", "/healthz/")
    response = client.getresponse()
    response.read()
    assert response.status == 200
    return response.getheader("Connection")


def test_a_worker_keeps_idle_connections_open_only_up_to_a_quarter_of_its_threads(tmp_path):
    # One worker, 4 threads: it holds 5 connections at once, 1 of them idle.
    # With gunicorn's own default (1,000) a worker keeps every client's
    # connection, and a worker that collected more than its threads queues
    # their requests behind slow chats while other workers idle; capped, a
    # client past the limit is told to reconnect, and any worker with room
    # accepts it.
    with live_server(tmp_path, workers=1, threads=4) as server:
        url = urlsplit(server.url)
        first = HTTPConnection(url.hostname or "", url.port, timeout=10)
        second = HTTPConnection(url.hostname or "", url.port, timeout=10)
        try:
            assert _connection_header(first) != "close"
            time.sleep(0.5)  # the worker files the first as idle
            assert _connection_header(second) == "close"
            assert _connection_header(first) != "close"  # still open
        finally:
            first.close()
            second.close()
