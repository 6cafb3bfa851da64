"""Held streams: clients looping streamed chats (run by bench/run.py, as a process of its own).

usage: python -m bench.streams URL TOKENS_FILE --clients N --seconds S
           [--pieces 20] [--timeout 180] [--ids FILE]

N clients start at once. Each sends `POST URL {"message": ..., "stream": true}`
with the next token of TOKENS_FILE (round-robin), reads the server-sent events
to `done`, and sends the next chat, until S seconds have passed; a chat
started before then is read to its end (or to --timeout). One event loop
holds every client, on one aiohttp session with no connection limit.

Prints one JSON object: chats started and done, the wall time from the first
request to the last answer, the latency of every chat that ended in `done`
(median, p95, p99, max, in seconds), and the errors by kind: an HTTP status
other than 200, an `error` event, a broken or timed-out connection, a stream
that ended without `done`, or a `done` after a number of `delta` events other
than --pieces. With --ids, the exchange id of every `done` (when the server
sends one) goes to FILE, one a line, for the billing check.
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
    while time.monotonic() < deadline:
        token = tokens[turn % len(tokens)]
        turn += step
        results.started += 1
        if not await _chat(session, url, token, args.pieces, results):
            await asyncio.sleep(ERROR_PAUSE_SECONDS)


async def _chat(
    session: aiohttp.ClientSession, url: str, token: str, pieces: int, results: Results
) -> bool:
    """One streamed chat, read to its end; whether it ended in `done`."""
    start = time.monotonic()
    body = {"message": MESSAGE, "stream": True}
    headers = {"Authorization": f"Bearer {token}"}
    event, deltas, done = "", 0, False
    try:
        async with session.post(url, json=body, headers=headers) as response:
            if response.status != 200:
                await response.read()
                results.errors[f"HTTP {response.status}"] += 1
                return False
            async for raw in response.content:
                line = raw.rstrip(b"\r\n")
                if line.startswith(b"event: "):
                    event = line[7:].decode()
                elif not line.startswith(b"data: ") or done:
                    continue
                elif event == "delta":
                    deltas += 1
                elif event == "error":
                    results.errors[f"error event ({_error_code(line[6:])})"] += 1
                    return False
                elif event == "done":
                    # The answer is complete: the time is taken here, and the
                    # rest of the body (its end) is read so the connection is reused.
                    done = True
                    results.last_answer = time.monotonic()
                    results.latencies.append(results.last_answer - start)
                    answer = json.loads(line[6:])
                    if isinstance(answer, dict) and "id" in answer:
                        results.ids.append(str(answer["id"]))
                    if deltas != pieces:
                        results.errors[f"done after {deltas} pieces, not {pieces}"] += 1
    except TimeoutError:
        results.errors["timed out" if not done else "end of body timed out"] += 1
        return done
    except (aiohttp.ClientError, OSError) as error:
        results.errors[f"broken connection ({type(error).__name__})"] += 1
        return done
    if not done:
        results.errors["stream ended without done"] += 1
    return done


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
    parser.add_argument("tokens", help="a file of access tokens, one a line")
    parser.add_argument("--clients", type=int, required=True, help="clients at once")
    parser.add_argument("--seconds", type=float, required=True, help="start chats for this long")
    parser.add_argument("--pieces", type=int, default=20, help="delta events a reply should have")
    parser.add_argument("--timeout", type=float, default=180, help="the longest a chat may take")
    parser.add_argument("--ids", help="write the exchange id of every done chat here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(uvloop.run(main(parse(sys.argv[1:])))))
