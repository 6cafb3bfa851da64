"""A real OpenAI-compatible HTTP server on 127.0.0.1, for the tests and the benchmark.

It answers `POST /v1/chat/completions`, streamed (server-sent events in a
chunked body, as OpenAI sends them) and not, with usage, and can be told to
be slow, to fail with a 5xx, to hang past the client's timeout, or to cut a
stream. The reply repeats the last user message, so tests can predict it.

One asyncio loop serves every connection: the benchmark holds hundreds of
slow replies at once without a thread each.

    python -m tests.fake_openai --port 8100 --delay 2   # then AI_BASE_URL=http://127.0.0.1:8100/v1
    python -m tests.fake_openai --port 8100 --pieces 20 --chunk-delay 1   # a 20-s stream
"""

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SERVED_MODEL = "fake-model-001"


def reply_text(messages: list[dict[str, Any]]) -> str:
    last_user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    return f"You said: {last_user}"


def words(text: str) -> list[str]:
    """The reply in the pieces a stream sends: each word with the space before it."""
    parts = text.split(" ")
    return [parts[0], *(f" {part}" for part in parts[1:])]


@dataclass
class Behaviour:
    delay: float = 0.0  # seconds before the answer starts
    chunk_delay: float = 0.0  # seconds between streamed pieces
    fail_status: int | None = None  # answer with this HTTP status and an error body
    hang: bool = False  # never answer
    cut_after: int | None = None  # streams: drop the connection after this many pieces
    reply: str | None = None  # say this instead of repeating the message
    raw: bytes | None = None  # answer 200 with this body, whatever was asked
    raw_events: list[str] | None = None  # streams: send these `data:` lines instead
    usage: bool = True  # report the usage (on a stream, when asked for it), as OpenAI does


@dataclass
class FakeOpenAI:
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- lifecycle ------------------------------------------------------------

    def start_in_thread(self) -> "FakeOpenAI":
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=2048)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def shut_down() -> None:
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- HTTP -----------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is done."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        method, path, _ = request_line.split(" ", 2)
        if (method, path) != ("POST", "/v1/chat/completions"):
            await self._send_json(writer, 404, {"error": {"message": "Not found"}})
            return True
        payload = json.loads(body)
        payload["_authorization"] = headers.get("authorization", "")
        payload["_request_id"] = headers.get("x-request-id", "")
        self.requests.append(payload)
        behaviour = self.behaviour
        if behaviour.hang:
            await asyncio.sleep(3600)
        await asyncio.sleep(behaviour.delay)
        if behaviour.fail_status is not None:
            error = {"error": {"message": "The model is overloaded", "type": "server_error"}}
            await self._send_json(writer, behaviour.fail_status, error)
            return True
        if behaviour.raw is not None:
            try:
                json.loads(behaviour.raw)
                kind = "application/json"
            except ValueError:
                kind = "text/html"
            await self._send(writer, 200, kind, behaviour.raw)
            return True
        text = behaviour.reply if behaviour.reply is not None else reply_text(payload["messages"])
        usage = {
            "prompt_tokens": sum(len(m["content"].split()) for m in payload["messages"]),
            "completion_tokens": len(text.split()),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if payload.get("stream"):
            return await self._stream(writer, payload, text, usage)
        completion = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": SERVED_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }
        if self.behaviour.usage:
            completion["usage"] = usage
        await self._send_json(writer, 200, completion)
        return True

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        payload: dict[str, Any],
        text: str,
        usage: dict[str, int],
    ) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )

        def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": SERVED_MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        async def send(data: str) -> None:
            event = f"data: {data}\n\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()

        if self.behaviour.raw_events is not None:
            for data in self.behaviour.raw_events:
                await send(data)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        await send(json.dumps(chunk({"role": "assistant", "content": ""})))
        for sent, piece in enumerate(words(text)):
            if self.behaviour.cut_after is not None and sent == self.behaviour.cut_after:
                writer.transport.abort()
                return False
            await asyncio.sleep(self.behaviour.chunk_delay)
            await send(json.dumps(chunk({"content": piece})))
        await send(json.dumps(chunk({}, finish="stop")))
        if self.behaviour.usage and (payload.get("stream_options") or {}).get("include_usage"):
            await send(json.dumps({**chunk({}), "choices": [], "usage": usage}))
        await send("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    @classmethod
    async def _send_json(
        cls, writer: asyncio.StreamWriter, status: int, body: dict[str, Any]
    ) -> None:
        await cls._send(writer, status, "application/json", json.dumps(body).encode())

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, kind: str, data: bytes) -> None:
        writer.write(
            b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (status, kind.encode(), len(data), data)
        )
        await writer.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="streams: seconds before each piece"
    )
    parser.add_argument(
        "--pieces",
        type=int,
        default=None,
        help="reply with this many words (a stream sends one piece each), whatever was asked",
    )
    args = parser.parse_args()
    if args.pieces is not None and args.pieces < 1:
        parser.error("--pieces must be at least 1")
    reply = None if args.pieces is None else " ".join(f"w{i}" for i in range(1, args.pieces + 1))
    behaviour = Behaviour(delay=args.delay, chunk_delay=args.chunk_delay, reply=reply)
    server = FakeOpenAI(behaviour=behaviour, port=args.port)
    server.start_in_thread()
    print(f"Fake OpenAI server on {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
