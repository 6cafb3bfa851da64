"""Request bodies under the real server (api/request_body.py): no more read
than Django would accept, and a body sent in chunks reaches the view."""

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.server import LiveServer, live_server

pytestmark = pytest.mark.live_server_process

LIMIT = 4096  # MAX_REQUEST_BODY_BYTES
PASSWORD = "a-long-enough-Password-1"
# The coroutine views (a synchronous view's overlong body: tests/config/test_serve.py).
COROUTINE_VIEWS = ["/api/v1/chat/", "/v1/chat/completions"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp_path: Path = tmp_path_factory.mktemp("bodies")
    with live_server(tmp_path, workers=1, env={"MAX_REQUEST_BODY_BYTES": str(LIMIT)}) as served:
        yield served


@pytest.mark.parametrize("path", COROUTINE_VIEWS)
def test_the_answer_comes_before_an_overlong_body_is_all_sent(server, path):
    """Django's ASGI handler reads a body whole, to a file, before it answers
    anything: this client, which sends a little past the limit of the 64 MiB
    it declared and then waits, would get no answer."""
    address = urlsplit(server.url)
    with socket.create_connection(
        (str(address.hostname), address.port or 80), timeout=10
    ) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {64 * 2**20}\r\n\r\n".encode()
            + b"x" * (2 * LIMIT)
        )
        status_line = client.makefile("rb").readline()

    status = int(status_line.split()[1])
    # Refused for what it is (413) or, before that, for who sent it (401).
    assert status in {401, 413}, status_line


def _chunked(
    server: LiveServer, path: str, body: bytes, token: str | None = None
) -> tuple[int, dict]:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.netloc, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Two chunks, and no Content-Length.
    half = len(body) // 2
    connection.request(
        "POST", path, body=iter([body[:half], body[half:]]), headers=headers, encode_chunked=True
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def test_a_body_sent_in_chunks_reaches_a_coroutine_view(server):
    token = server.login("chunked-chat", PASSWORD)

    status, answer = _chunked(server, "/api/v1/chat/", b'{"message": "sent in chunks"}', token)

    assert status == 201, answer
    assert answer["message"] == "sent in chunks"


def test_a_body_sent_in_chunks_reaches_a_synchronous_view(server):
    body = json.dumps({"username": "chunked-signup", "password": PASSWORD}).encode()

    status, answer = _chunked(server, "/api/v1/auth/register/", body)

    assert status == 201, answer
    assert answer["username"] == "chunked-signup"


@pytest.mark.parametrize("path", ["/api/v1/chat/", "/api/v1/auth/register/"])
def test_a_body_in_chunks_past_the_limit_is_refused(server, path):
    token = server.login(f"chunked-long-{path.count('/')}", PASSWORD)
    body = json.dumps({"message": "x" * 2 * LIMIT, "username": "y", "password": "z"}).encode()

    status, answer = _chunked(server, path, body, token)

    assert status == 413, answer
    assert answer["errors"][0]["code"] == "request_too_large"
    # Nothing was charged.
    balance = server.request("GET", "/api/v1/balance/", token=token).body
    assert balance["tokens"] == 4000
