"""bench/streams.py: the load generator's count of chats done and of errors,
on both formats, against a server that sends canned bodies."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bench.openai_stream import StreamError
from bench.streams import MESSAGE, EventReader, main, parse
from tests.bench.test_openai_stream import EXCHANGE, answer

PIECES = 3
# The canned server answers after this long, longer than the clients loop
# (--seconds): each client sends one chat.
ANSWER_AFTER_SECONDS = 0.1
# How a /v1 stream ends after a failure: an error chunk, then [DONE].
ERROR_END = [b'data: {"error": {"code": "ai_timeout"}}', b"", b"data: [DONE]", b""]


def api_answer(pieces: int) -> list[bytes]:
    lines = []
    for i in range(pieces):
        lines += [b"event: delta", b'data: {"text": "w%d "}' % i, b""]
    done = {"id": str(EXCHANGE), "response": "..."}
    return [*lines, b"event: done", b"data: " + json.dumps(done).encode(), b""]


def run(
    tmp_path: Path,
    body: Callable[[], list[bytes]],
    fmt: str,
    status: int = 200,
    seconds: float = 0.01,
) -> Any:
    """bench.streams, one client, one chat, against a server sending `body`."""
    credentials = tmp_path / "credentials"
    credentials.write_text("credential\n")
    requests = []

    async def chat(request: web.Request) -> web.StreamResponse:
        requests.append((request.headers["Authorization"], await request.json()))
        await asyncio.sleep(ANSWER_AFTER_SECONDS)
        if status != 200:
            return web.json_response({"error": {"code": "insufficient_quota"}}, status=status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for line in body():
            await response.write(line + b"\n")
        return response

    async def serve_and_load() -> Any:
        app = web.Application()
        app.router.add_post("/chat", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            args = parse(
                [f"http://127.0.0.1:{port}/chat", str(credentials), "--clients", "1",
                 "--seconds", str(seconds), "--pieces", str(PIECES), "--format", fmt,
                 "--ids", str(tmp_path / "ids")]
            )  # fmt: skip
            return await main(args)
        finally:
            await runner.cleanup()

    result = asyncio.run(serve_and_load())
    assert len(requests) == result["started"] == 1
    authorization, sent = requests[0]
    assert authorization == "Bearer credential"
    if fmt == "v1":
        expected = {"model": "bench", "messages": [{"role": "user", "content": MESSAGE}]}
        assert sent == {**expected, "stream": True}
    else:
        assert sent == {"message": MESSAGE, "stream": True}
    return result


def test_an_api_stream_is_done_at_its_done_event():
    reader = EventReader()

    finished = [reader.feed(line) for line in api_answer(PIECES)]

    assert finished.index(True) == len(finished) - 2
    assert reader.pieces == PIECES
    assert reader.answer_id == str(EXCHANGE)


def test_an_api_error_event_is_an_error_with_its_code():
    reader = EventReader()
    reader.feed(b"event: error")

    with pytest.raises(StreamError, match=r"error event \(ai_timeout\)"):
        reader.feed(b'data: {"errors": [{"code": "ai_timeout"}]}')


def test_a_whole_v1_stream_is_one_chat_done_with_its_exchange_id(tmp_path):
    result = run(tmp_path, lambda: answer(PIECES), "v1")

    assert (result["done"], result["errors"]) == (1, {})
    assert (tmp_path / "ids").read_text() == f"{EXCHANGE}\n"


def test_a_whole_api_stream_is_one_chat_done_with_its_exchange_id(tmp_path):
    result = run(tmp_path, lambda: api_answer(PIECES), "api")

    assert (result["done"], result["errors"]) == (1, {})
    assert (tmp_path / "ids").read_text() == f"{EXCHANGE}\n"


def test_a_client_sends_its_first_chat_even_once_the_time_is_up(tmp_path):
    # As when a loaded machine reaches a client after a short run's deadline.
    result = run(tmp_path, lambda: api_answer(PIECES), "api", seconds=0)

    assert result["started"] == result["done"] == 1


def test_when_the_headers_came_is_counted_for_each_client_s_first_chat(tmp_path):
    result = run(tmp_path, lambda: api_answer(PIECES), "api")

    # The canned server waits before it answers; the one client sent one chat.
    first = result["headers_first"]
    assert ANSWER_AFTER_SECONDS <= first["p50"] == first["p95"] <= result["max"]
    assert result["headers_later"] == {"p50": 0.0, "p95": 0.0}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (lambda: answer(PIECES)[:-2], "stream ended without [DONE]"),
        (lambda: answer(PIECES)[:4], "stream ended without a finish_reason"),
        (lambda: [*answer(PIECES)[:4], *ERROR_END], "error chunk (ai_timeout)"),
    ],
)
def test_a_v1_stream_cut_or_failed_is_an_error_and_not_done(tmp_path, body, error):
    result = run(tmp_path, body, "v1")

    assert (result["done"], result["errors"]) == (0, {error: 1})
    assert (tmp_path / "ids").read_text() == ""


def test_a_v1_answer_with_pieces_missing_is_done_and_an_error(tmp_path):
    # Done (timed, and its charge checked), but counted as an error.
    result = run(tmp_path, lambda: answer(PIECES - 1), "v1")

    assert (result["done"], result["errors"]) == (1, {f"done after {PIECES - 1} pieces, not 3": 1})


def test_a_v1_refusal_is_an_http_error(tmp_path):
    result = run(tmp_path, list, "v1", status=402)

    assert (result["done"], result["errors"]) == (0, {"HTTP 402": 1})
