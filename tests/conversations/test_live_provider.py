"""The app under gunicorn, as `make serve` runs it, talking to a real
OpenAI-compatible server over real HTTP: what `AI_PROVIDER=openai make run`
does, streamed and not, and a client that really hangs up mid-stream."""

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import DEFAULT_PASSWORD
from tests.fake_openai import SERVED_MODEL, Behaviour, FakeOpenAI
from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start_in_thread()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _default_behaviour(provider: FakeOpenAI) -> None:
    provider.behaviour = Behaviour()


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any, provider: FakeOpenAI) -> Iterator[LiveServer]:
    env = {
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": provider.base_url,
        "AI_API_KEY": "x",
        "AI_MODEL": "m",
        "AI_TIMEOUT_SECONDS": "2",
    }
    with live_server(tmp_path_factory.mktemp("ai"), env=env) as running:
        yield running


def open_stream(server: LiveServer, token: str, message: str) -> http.client.HTTPResponse:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(
        "POST",
        "/api/v1/chat/",
        json.dumps({"message": message, "stream": True}),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return connection.getresponse()


def next_event(response: http.client.HTTPResponse) -> tuple[str, Any]:
    name = data = None
    while (line := response.readline().decode().rstrip("\n")) or name is None:
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data = json.loads(value)
    return name, data


def test_a_chat_gets_the_models_reply(server: LiveServer) -> None:
    token = server.login("plain", DEFAULT_PASSWORD)

    result = server.request("POST", "/api/v1/chat/", {"message": "Hello"}, token)

    assert result.status == 201
    assert result.body["response"] == "You said: Hello"
    assert result.body["model"] == SERVED_MODEL


def test_a_streamed_chat_arrives_in_pieces(server: LiveServer) -> None:
    token = server.login("streamer", DEFAULT_PASSWORD)
    response = open_stream(server, token, "one two three")

    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    events = [next_event(response) for _ in range(7)]
    assert [name for name, _ in events] == ["start", *["delta"] * 5, "done"]
    assert "".join(data["text"] for _, data in events[1:6]) == "You said: one two three"
    assert events[-1][1]["response"] == "You said: one two three"


def test_a_provider_failure_is_a_502_and_refunded(server: LiveServer, provider: FakeOpenAI) -> None:
    token = server.login("unlucky", DEFAULT_PASSWORD)
    provider.behaviour.fail_status = 500

    result = server.request("POST", "/api/v1/chat/", {"message": "Hello"}, token)

    assert result.status == 502
    assert result.body["errors"][0]["code"] == "provider_error"
    assert server.request("GET", "/api/v1/balance/", token=token).body["tokens"] == 4000
    assert server.all_pages("/api/v1/chats/", token) == []
    ledger = server.all_pages("/api/v1/transactions/", token)
    assert [row["kind"] for row in ledger] == ["refund", "chat_charge", "signup_grant"]


def test_a_client_that_hangs_up_mid_stream_keeps_what_it_got(
    server: LiveServer, provider: FakeOpenAI
) -> None:
    token = server.login("leaver", DEFAULT_PASSWORD)
    provider.behaviour.chunk_delay = 0.05
    response = open_stream(server, token, " ".join(["word"] * 30))
    assert [next_event(response)[0] for _ in range(3)] == ["start", "delta", "delta"]

    response.close()  # and with it the socket

    history = wait_for_history(server, token)
    assert history["status"] == "incomplete"
    assert history["response"].startswith("You said:")
    assert len(history["response"]) < len("You said: ") + len(" word" * 30)
    assert server.request("GET", "/api/v1/balance/", token=token).body["tokens"] == 3900
    ledger = server.all_pages("/api/v1/transactions/", token)
    assert sum(row["amount"] for row in ledger) == 3900


def wait_for_history(server: LiveServer, token: str) -> dict[str, Any]:
    """The one exchange, once the server has noticed the client left and kept it."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if history := server.all_pages("/api/v1/chats/", token):
            return history[0]
        time.sleep(0.1)
    raise AssertionError("the partial reply was never kept")
