"""bench/openai_stream.py: when a `/v1/chat/completions` stream counts as a chat done."""

import json
import uuid

import pytest

from bench.openai_stream import ChunkReader, StreamError, completion_request

EXCHANGE = uuid.UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")


def chunk(delta: dict[str, str], finish_reason: str | None = None, **extra: object) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    body = {
        "id": f"chatcmpl-{EXCHANGE.hex}",
        "object": "chat.completion.chunk",
        "choices": [choice],
        **extra,
    }
    return b"data: " + json.dumps(body).encode()


def answer(pieces: int) -> list[bytes]:
    """A whole stream as the server sends it, a line at a time (blank lines included)."""
    lines = [chunk({"role": "assistant", "content": ""}), b"", b": keep-alive", b""]
    for i in range(pieces):
        lines += [chunk({"content": f"w{i} "}), b""]
    usage = {"prompt_tokens": 3, "completion_tokens": pieces, "total_tokens": 3 + pieces}
    return [*lines, chunk({}, "stop", usage=usage), b"", b"data: [DONE]", b""]


def feed(reader: ChunkReader, lines: list[bytes]) -> list[bool]:
    return [reader.feed(line) for line in lines]


def test_a_stream_is_done_at_done_after_the_finish_reason():
    reader = ChunkReader()

    finished = feed(reader, answer(20))

    # Only the `data: [DONE]` line completes it.
    assert finished.index(True) == len(finished) - 2
    assert finished.count(True) == 1
    assert reader.pieces == 20  # the opening chunk (role, empty content) is not a piece
    assert reader.finish_reason == "stop"
    # The completion's id, chatcmpl-<hex>, as the billing check reads exchange ids.
    assert reader.answer_id == str(EXCHANGE)


def test_a_stream_cut_after_the_finish_reason_is_not_done():
    reader = ChunkReader()

    finished = feed(reader, answer(20)[:-2])

    assert not any(finished)
    assert reader.unfinished() == "stream ended without [DONE]"


def test_a_stream_cut_mid_reply_is_not_done():
    reader = ChunkReader()

    assert not any(feed(reader, answer(20)[:10]))
    assert reader.unfinished() == "stream ended without a finish_reason"


def test_done_without_a_finish_reason_is_an_error():
    reader = ChunkReader()
    feed(reader, answer(20)[:10])

    with pytest.raises(StreamError, match=r"\[DONE\] before a finish_reason"):
        reader.feed(b"data: [DONE]")


def test_an_error_chunk_is_an_error_with_its_code():
    reader = ChunkReader()
    feed(reader, answer(20)[:10])
    error = {
        "error": {
            "message": "The AI provider timed out.",
            "type": "api_error",
            "code": "ai_timeout",
        }
    }

    with pytest.raises(StreamError, match=r"error chunk \(ai_timeout\)"):
        reader.feed(b"data: " + json.dumps(error).encode())


@pytest.mark.parametrize(
    "line",
    [b"data: {not json", b"data: [1, 2]", b'data: {"choices": []}', b'data: {"choices": [{}]}'],
)
def test_a_chunk_not_in_openais_shape_is_an_error(line):
    with pytest.raises(StreamError):
        ChunkReader().feed(line)


def test_content_after_the_finish_reason_is_an_error():
    reader = ChunkReader()
    feed(reader, answer(2)[:-2])

    with pytest.raises(StreamError, match="content after the finish_reason"):
        reader.feed(chunk({"content": "more"}))


def test_an_id_not_a_completion_id_is_kept_as_it_is_so_the_check_misses_it():
    reader = ChunkReader()
    reader.feed(chunk({}, "stop").replace(EXCHANGE.hex.encode(), b"nothex"))

    assert reader.answer_id == "chatcmpl-nothex"


def test_the_request_is_openais_streamed_chat():
    assert completion_request("Hi", "bench") == {
        "model": "bench",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }
