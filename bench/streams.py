"""Held streams: clients looping streamed chats (run by bench/run.py, as a process of its own).

usage: python -m bench.streams URL CREDENTIALS_FILE --clients N --seconds S
           [--format api|v1] [--model bench] [--pieces 20] [--timeout 180] [--ids FILE]

N clients start at once. Each sends a streamed chat to URL with the next
credential of CREDENTIALS_FILE (round-robin) as its bearer token, reads the
stream to the end of the answer, and sends the next chat, until S seconds
have passed; a chat started before then is read to its end (or to
--timeout). One event loop holds every client, on one aiohttp session with
no connection limit. The format:

- api (`/api/v1/chat/`, access tokens): `{"message": ..., "stream": true}`,
  our server-sent events, read to `done`.
- v1 (`/v1/chat/completions`, API keys): OpenAI's request with --model, its
  `chat.completion.chunk` stream, read to the chunk with a finish_reason and
  then `data: [DONE]` (bench/openai_stream.py).

Prints one JSON object: chats started and done, the wall time from the first
request to the last answer, the latency of every chat that was done (median,
p95, p99, max, in seconds), how long the response's headers took (median
and p95, in seconds) for each client's first chat, which all start at once,
and for the rest (`headers_first`, `headers_later`), and the errors by
kind: an HTTP status other than 200, an error the stream sent (an `error`
event; an `error` chunk), a broken or timed-out connection, a stream that
ended before its answer was complete, or an answer with a number of pieces
other than --pieces. With --ids, the
exchange id of every chat done (when the server sends one) goes to FILE, one
a line, for the billing check.
"""

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.openai_stream import ChunkReader, StreamError, completion_request

# 18 words: a model that repeats the message ("You said: ...") answers in 20 pieces.
MESSAGE = " ".join(f"w{i}" for i in range(1, 19))
# After an error a client waits this long before its next chat, so that a
# server that refuses everything is not hammered in a tight loop.
ERROR_PAUSE_SECONDS = 1.0


@dataclass
class Results:
    started: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    ids: list[str] = field(default_factory=list)
    last_answer: float = 0.0
    # Seconds until the response's headers, of each client's first chat and of the others.
    headers_first: list[float] = field(default_factory=list)
    headers_later: list[float] = field(default_factory=list)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tokens = Path(args.tokens).read_text().split()
    results = Results()
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        began = time.monotonic()
        deadline = began + args.seconds
        await asyncio.gather(
            *(
                _client(session, args.url, tokens, first, args.clients, deadline, args, results)
                for first in range(args.clients)
            )
        )
    elapsed = (results.last_answer or time.monotonic()) - began
    if args.ids:
        Path(args.ids).write_text("".join(f"{i}\n" for i in results.ids))
    latencies = sorted(results.latencies)
    first, later = sorted(results.headers_first), sorted(results.headers_later)
    return {
        "clients": args.clients,
        "seconds": args.seconds,
        "started": results.started,
        "done": len(latencies),
        "elapsed": elapsed,
        "chats_per_second": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50": _percentile(latencies, 0.50),
        "p95": _percentile(latencies, 0.95),
        "p99": _percentile(latencies, 0.99),
        "max": latencies[-1] if latencies else 0.0,
        "headers_first": {"p50": _percentile(first, 0.50), "p95": _percentile(first, 0.95)},
        "headers_later": {"p50": _percentile(later, 0.50), "p95": _percentile(later, 0.95)},
        "errors": dict(results.errors),
    }


async def _client(
    session: aiohttp.ClientSession,
    url: str,
    tokens: list[str],
    first: int,
    step: int,
    deadline: float,
    args: argparse.Namespace,
    results: Results,
) -> None:
    turn = first
    # Every client sends its first chat, however late its turn comes: the
    # first wave is all of them (a loaded machine may reach the last ones
    # after a short run's deadline).
    while turn == first or time.monotonic() < deadline:
        token = tokens[turn % len(tokens)]
        headers = results.headers_first if turn == first else results.headers_later
        turn += step
        results.started += 1
        if not await _chat(session, url, token, args, results, headers):
            await asyncio.sleep(ERROR_PAUSE_SECONDS)


async def _chat(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    args: argparse.Namespace,
    results: Results,
    headers_after: list[float],
) -> bool:
    """One streamed chat, read to its end; whether its answer was complete.
    When its response's headers came is added to `headers_after`."""
    start = time.monotonic()
    reader: EventReader | ChunkReader
    if args.format == "v1":
        body, reader = completion_request(MESSAGE, args.model), ChunkReader()
    else:
        body, reader = {"message": MESSAGE, "stream": True}, EventReader()
    headers = {"Authorization": f"Bearer {token}"}
    done = False
    try:
        async with session.post(url, json=body, headers=headers) as response:
            headers_after.append(time.monotonic() - start)
            if response.status != 200:
                await response.read()
                results.errors[f"HTTP {response.status}"] += 1
                return False
            async for raw in response.content:
                # Once the answer is complete the time is taken, and the rest
                # of the body (its end) is read so the connection is reused.
                if done or not reader.feed(raw.rstrip(b"\r\n")):
                    continue
                done = True
                results.last_answer = time.monotonic()
                results.latencies.append(results.last_answer - start)
                if reader.answer_id:
                    results.ids.append(reader.answer_id)
                if reader.pieces != args.pieces:
                    results.errors[f"done after {reader.pieces} pieces, not {args.pieces}"] += 1
    except StreamError as error:
        results.errors[str(error)] += 1
        return False
    except TimeoutError:
        results.errors["timed out" if not done else "end of body timed out"] += 1
        return done
    except (aiohttp.ClientError, OSError) as error:
        results.errors[f"broken connection ({type(error).__name__})"] += 1
        return done
    if not done:
        results.errors[reader.unfinished()] += 1
    return done


class EventReader:
    """Reads our own `/api/v1/chat/` event stream a line at a time: `delta`
    events, then `done` (the answer) or `error` (StreamError)."""

    def __init__(self) -> None:
        self.pieces = 0
        self.answer_id: str | None = None
        self._event = ""

    def feed(self, line: bytes) -> bool:
        """Take one line of the body (its line break removed); True when it
        completes the answer."""
        if line.startswith(b"event: "):
            self._event = line[7:].decode()
            return False
        if not line.startswith(b"data: "):
            return False
        if self._event == "delta":
            self.pieces += 1
        elif self._event == "error":
            raise StreamError(f"error event ({_error_code(line[6:])})")
        elif self._event == "done":
            answer = json.loads(line[6:])
            if isinstance(answer, dict) and "id" in answer:
                self.answer_id = str(answer["id"])
            return True
        return False

    def unfinished(self) -> str:
        return "stream ended without done"


def _error_code(data: bytes) -> str:
    try:
        return str(json.loads(data)["errors"][0]["code"])
    except (ValueError, LookupError, TypeError):
        return "unreadable"


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the chat endpoint, e.g. http://127.0.0.1:8000/api/v1/chat/")
    parser.add_argument("tokens", help="a file of access tokens (api) or API keys (v1), one a line")
    parser.add_argument("--format", choices=("api", "v1"), default="api", help="see above")
    parser.add_argument("--model", default="bench", help="v1: the model asked for")
    parser.add_argument("--clients", type=int, required=True, help="clients at once")
    parser.add_argument("--seconds", type=float, required=True, help="start chats for this long")
    parser.add_argument("--pieces", type=int, default=20, help="pieces a reply should have")
    parser.add_argument("--timeout", type=float, default=180, help="the longest a chat may take")
    parser.add_argument("--ids", help="write the exchange id of every chat done here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(uvloop.run(main(parse(sys.argv[1:])))))
