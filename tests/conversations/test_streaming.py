"""POST /api/v1/chat/ with "stream": true: server-sent events (conversations/streaming.py)."""

import asyncio
import gc
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from http import HTTPStatus

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse
from structlog.testing import capture_logs

from api import concurrency
from conversations import streaming
from conversations.models import Conversation, Exchange
from conversations.providers import get_provider
from conversations.services import chat as chat_service
from conversations.services.chat import chat_reserve
from conversations.streaming import chat_frames, event_stream_response, heartbeats
from tests.asgi import ASGIStream
from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.conversations.test_reservations import assert_refunded
from tests.stub_provider import StubProvider
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db

CHAT_URL = reverse("chat")


def stream(client, message="Hello there", headers=None, **fields):
    body = {"message": message, "stream": True, **fields}
    return client.post(CHAT_URL, body, format="json", headers=headers)


def parse(raw: bytes) -> list[tuple[str, dict]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in raw.decode().split("\n\n"):
        if block:
            fields = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture
def slow_model(openai_provider, settings):
    """The fake model, paced by each test, with time to spare: a loaded machine
    must not turn a slow reply into a provider timeout (the fixture's is 2 s)."""
    settings.AI_TIMEOUT_SECONDS = 60
    get_provider.cache_clear()
    return openai_provider


def asgi_stream(client, message="Hello there", serving=False, **fields) -> ASGIStream:
    """A streamed chat through the ASGI handler, read event by event."""
    body = {"message": message, "stream": True, **fields}
    headers = {"Authorization": client._credentials["HTTP_AUTHORIZATION"]}
    return ASGIStream(CHAT_URL, body, headers, serving=serving)


def leave(response) -> None:
    """What the server does when the client has gone: close the response.

    That ends the request, which hands the database connection back, so
    these tests run without the test transaction around them.
    """
    response.close()


def events_of(response) -> list[tuple[str, dict]]:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return parse(async_to_sync(read)())


def test_a_stream_sends_start_deltas_and_done(auth_client, user):
    response = stream(auth_client)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    events = events_of(response)
    exchange = Exchange.objects.get()
    assert events[0] == (
        "start",
        {"id": str(exchange.pk), "conversation": str(exchange.conversation_id)},
    )
    deltas = [data["text"] for name, data in events[1:-1]]
    assert {name for name, _ in events[1:-1]} == {"delta"}
    assert len(deltas) > 1
    name, done = events[-1]
    assert name == "done"
    # The pieces make up the reply that was saved and that history shows.
    assert "".join(deltas) == done["response"] == exchange.response == "AI response to: Hello there"
    assert done["remaining_tokens"] == 3900
    assert exchange.status == Exchange.Status.COMPLETE
    history = auth_client.get(reverse("exchange-list")).json()["results"]
    assert history[0]["response"] == done["response"]
    assert_ledger_matches_balance(user)


def test_a_stream_through_the_openai_provider(auth_client, user, openai_provider):
    events = events_of(stream(auth_client))

    deltas = [data["text"] for name, data in events if name == "delta"]
    assert deltas == ["You", " said:", " Hello", " there"]
    name, done = events[-1]
    assert name == "done"
    assert done["model"] == "fake-model-001"
    assert done["usage"] == {"prompt_tokens": 7, "completion_tokens": 4}
    assert Exchange.objects.get().response == "You said: Hello there"


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [
        ({"fail_status": 503}, "provider_error"),
        ({"cut_after": 2}, "provider_error"),
        ({"hang": True}, "provider_timeout"),
    ],
)
def test_a_provider_failure_mid_stream_is_refunded(
    auth_client, user, openai_provider, settings, behaviour, code
):
    settings.AI_TIMEOUT_SECONDS = 0.3
    for name, value in behaviour.items():
        setattr(openai_provider.behaviour, name, value)

    events = events_of(stream(auth_client))

    assert events[0][0] == "start"
    name, error = events[-1]
    assert name == "error"
    assert error["type"] == "server_error"
    assert [e["code"] for e in error["errors"]] == [code]
    assert not Exchange.objects.exists()
    assert not Conversation.objects.exists()
    user.refresh_from_db()
    assert user.tokens == 4000
    assert TokenTransaction.objects.filter(kind="refund").count() == 1
    assert_ledger_matches_balance(user)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_mid_stream_pays_and_keeps_the_partial_reply(
    auth_client, user, slow_model
):
    slow_model.behaviour.chunk_delay = 0.3
    response = asgi_stream(auth_client, "one two three four five")
    received = [next(response) for _ in range(3)]  # start, "You", " said:"

    response.leave()

    assert [name for name, _ in parse(b"".join(received))] == ["start", "delta", "delta"]
    exchange = Exchange.objects.get()
    assert exchange.status == Exchange.Status.INCOMPLETE
    assert exchange.response == "You said:"
    assert exchange.model == "m"  # the one asked for: the answer never said
    user.refresh_from_db()
    assert user.tokens == 3900
    assert not TokenTransaction.objects.filter(kind="refund").exists()
    assert_ledger_matches_balance(user)
    history = auth_client.get(reverse("exchange-list")).json()["results"]
    assert (history[0]["status"], history[0]["response"]) == ("incomplete", "You said:")


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_hangs_up_on_the_provider(auth_client, slow_model):
    slow_model.behaviour.chunk_delay = 0.3
    response = asgi_stream(auth_client, "one two three four five six seven eight")
    [next(response) for _ in range(3)]

    response.leave()

    assert Exchange.objects.get().response == "You said:"
    # The provider saw the connection close: nothing more was asked of it.
    assert len(slow_model.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_silent_model_gets_heartbeats_between_the_events(auth_client, user, slow_model, settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.1
    slow_model.behaviour.chunk_delay = 0.35
    response = asgi_stream(auth_client, "one two")

    pieces = list(response)

    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    heartbeats = [piece for piece in pieces if piece == b": keep-alive\n\n"]
    # Each pause of the model (0.35 s) holds about three of them.
    assert len(heartbeats) >= 3
    events = parse(b"".join(piece for piece in pieces if piece not in heartbeats))
    assert events[0][0] == "start"
    assert events[-1][0] == "done"
    assert events[-1][1]["response"] == "".join(d["text"] for n, d in events if n == "delta")
    assert_ledger_matches_balance(user)


def test_heartbeats_fill_each_silence_and_only_silences():
    async def items():
        await asyncio.sleep(0.25)
        yield "a"
        yield "b"
        await asyncio.sleep(0.25)
        yield "c"

    async def read():
        return [item async for item in heartbeats(items(), every=0.1)]

    got = asyncio.run(read())

    assert [item for item in got if item is not None] == ["a", "b", "c"]
    a, b, c = got.index("a"), got.index("b"), got.index("c")
    assert a >= 2
    assert b == a + 1
    assert c - b >= 3
    assert got[-1] == "c"


def test_closing_heartbeats_mid_wait_cancels_the_reading_at_once():
    seen = []

    async def items():
        try:
            yield "a"
            await asyncio.sleep(60)
            yield "never"
        except BaseException as error:
            seen.append(type(error))
            raise

    async def read():
        async with aclosing(heartbeats(items(), every=30)) as stream:
            assert await anext(stream) == "a"
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(read(), 5))

    assert seen == [asyncio.CancelledError]


def test_an_error_of_the_items_reaches_the_reader():
    async def items():
        yield "a"
        raise ValueError("model broke")

    async def read():
        return [item async for item in heartbeats(items(), every=30)]

    with pytest.raises(ValueError, match="model broke"):
        asyncio.run(read())


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_while_the_whole_reply_waits_to_be_saved_leaves_it_whole(
    auth_client, user, slow_model, settings
):
    # As under the server: database steps queue for a pool of threads (one here).
    settings.SYNC_THREADS = 1
    concurrency._threads.cache_clear()
    slow_model.behaviour.chunk_delay = 0.2
    response = asgi_stream(auth_client, "one two three", serving=True)
    next(response), next(response)  # start, and the first piece
    busy = threading.Event()
    concurrency._threads().submit(busy.wait, 10)  # the pool's one thread, taken
    time.sleep(1.5)  # the rest of the reply arrives; its saving waits for the thread
    threading.Timer(0.5, busy.set).start()

    response.leave()

    exchange = Exchange.objects.get()
    assert (exchange.status, exchange.response) == ("complete", "You said: one two three")
    assert TokenTransaction.objects.filter(kind="chat_charge").count() == 1
    assert not TokenTransaction.objects.filter(kind="refund").exists()
    assert_ledger_matches_balance(user)
    concurrency._threads.cache_clear()


def test_a_stream_dropped_unread_outside_any_loop_is_left_to_the_sweeper(auth_client, user):
    response = stream(auth_client)
    exchange = Exchange.objects.get()

    with capture_logs() as logs:
        del response
        gc.collect()

    # No loop to refund on, and no database step from the garbage collector.
    assert {"event": "chat.unsent_stream_left", "exchange_id": str(exchange.pk)}.items() <= (
        next(log for log in logs if log["event"] == "chat.unsent_stream_left").items()
    )
    exchange.refresh_from_db()
    assert exchange.status == Exchange.Status.PENDING


def test_errors_before_the_stream_starts_are_json(auth_client, settings):
    settings.CHAT_MESSAGE_COST = 5000

    response = stream(auth_client, headers={"Accept": "text/event-stream"})

    assert response.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert response["Content-Type"] == "application/json"
    assert error_codes(response) == [(None, "insufficient_tokens")]


def test_a_stream_continues_a_conversation(auth_client):
    first = auth_client.post(CHAT_URL, {"message": "one"}, format="json").json()

    events = events_of(stream(auth_client, "two", conversation=first["conversation"]))

    assert events[0][1]["conversation"] == first["conversation"]
    assert events[-1][1]["remaining_tokens"] == 3800


def test_streams_take_no_idempotency_key(auth_client, user):
    response = stream(auth_client, headers={"Idempotency-Key": "key-1"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("Idempotency-Key", "invalid")]
    assert not Exchange.objects.exists()


@pytest.mark.parametrize("value", ["true", 1, None, "yes"])
def test_stream_must_be_a_json_boolean(auth_client, value):
    response = auth_client.post(CHAT_URL, {"message": "hi", "stream": value}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response)[0][0] == "stream"
    assert not Exchange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_before_the_reply_starts_is_refunded(auth_client, user, slow_model):
    slow_model.behaviour.delay = 5  # the model is still thinking
    response = asgi_stream(auth_client)
    assert parse(next(response))[0][0] == "start"

    response.leave()  # before a word of the reply

    assert not Exchange.objects.exists()
    user.refresh_from_db()
    assert user.tokens == 4000
    assert TokenTransaction.objects.get(kind="refund").note == "client left"
    assert_ledger_matches_balance(user)


@pytest.mark.django_db(transaction=True)
def test_a_stream_the_server_never_sent_is_refunded(auth_client, user):
    leave(stream(auth_client))

    user.refresh_from_db()
    assert user.tokens == 4000
    assert not Exchange.objects.exists()
    assert_ledger_matches_balance(user)


@pytest.mark.django_db(transaction=True)
def test_a_conversation_cannot_be_deleted_while_its_reply_streams(auth_client, user, slow_model):
    slow_model.behaviour.chunk_delay = 0.2
    chunks = asgi_stream(auth_client)
    conversation = parse(next(chunks))[0][1]["conversation"]

    deleted = auth_client.delete(reverse("conversation-detail", args=[conversation]))

    assert deleted.status_code == HTTPStatus.CONFLICT
    assert error_codes(deleted) == [(None, "conversation_busy")]
    assert parse(b"".join(chunks))[-1][0] == "done"
    assert auth_client.delete(reverse("conversation-detail", args=[conversation])).status_code == (
        HTTPStatus.NO_CONTENT
    )
    user.refresh_from_db()
    assert user.tokens == 3900


def _assert_refunded(user, note: str) -> None:
    assert_refunded(user)
    assert TokenTransaction.objects.get(kind="refund").note == note
    assert not Exchange.objects.exists()


def _no_frame(_: object) -> bytes:
    raise AssertionError("nothing is framed after the opening")


@pytest.mark.django_db(transaction=True)
def test_a_stream_closed_as_its_opening_goes_out_is_refunded(user):
    reservation = chat_reserve(user=user, message="Hello")

    async def open_and_leave() -> None:
        frames = chat_frames(reservation, b"opening", frame=_no_frame, error_frame=_no_frame)
        assert await anext(frames) == b"opening"
        await frames.aclose()  # the server could not send it: the client had gone

    asyncio.run(open_and_leave())

    _assert_refunded(user, "client left")


@pytest.mark.django_db(transaction=True)
def test_a_response_the_server_dropped_unsent_on_its_loop_is_refunded_there(user):
    reservation = chat_reserve(user=user, message="Hello")

    async def drop_unsent() -> None:
        before = set(streaming._refunds)
        response = event_stream_response(reservation)
        del response
        gc.collect()
        refunds = streaming._refunds - before
        assert len(refunds) == 1
        await asyncio.gather(*refunds)

    asyncio.run(drop_unsent())

    _assert_refunded(user, "client left")


@pytest.mark.django_db(transaction=True)
def test_a_bug_mid_stream_is_refunded_logged_and_ends_with_an_error_event(user, monkeypatch):
    broken = StubProvider("half a ", end=RuntimeError("a bug"))
    monkeypatch.setattr(chat_service, "get_provider", lambda: broken)
    reservation = chat_reserve(user=user, message="Hello")

    async def read() -> list[bytes]:
        content = event_stream_response(reservation).streaming_content
        assert isinstance(content, AsyncIterator)
        return [chunk async for chunk in content]

    with capture_logs() as logs:
        events = parse(b"".join(asyncio.run(read())))

    assert [name for name, _ in events] == ["start", "delta", "error"]
    assert [error["code"] for error in events[-1][1]["errors"]] == ["error"]
    assert "chat.stream_failed" in [log["event"] for log in logs]
    _assert_refunded(user, "RuntimeError")
