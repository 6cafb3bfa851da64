"""Any server that speaks the OpenAI Chat Completions API, through the official SDK.

OpenAI itself, Azure-style gateways, Ollama, vLLM, llama.cpp's server, LM
Studio, OpenRouter: AI_BASE_URL says where, AI_API_KEY and AI_MODEL what.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import httpx2
import openai
from django.conf import settings

from api import lifespan
from api.middleware import REQUEST_ID_HEADER, current_request_id
from conversations.exceptions import ProviderError, ProviderTimeout
from conversations.providers.base import Message, Reply


class OpenAIProvider:
    name: ClassVar[str] = "openai"
    remote: ClassVar[bool] = True

    def __init__(self) -> None:
        self.model = settings.AI_MODEL
        self.timeout = settings.AI_TIMEOUT_SECONDS
        # The server's loop keeps one client, and its connections, for its
        # life; see `session`.
        self._clients: WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
            WeakKeyDictionary()
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[openai.AsyncOpenAI]:
        """A client for the running event loop.

        Connections belong to the loop that opened them. The server's loop
        (api.lifespan) keeps one client for its whole life; any
        other loop (a test's, or a WSGI server's one loop per request) gets a
        client of its own, closed after the call.
        """
        loop = asyncio.get_running_loop()
        if lifespan.is_serving(loop):
            yield self._loop_client(loop)
            return
        client = self._new_client()
        try:
            yield client
        finally:
            await client.close()

    async def open(self) -> None:
        # Building a client reads the certificate authorities' bundle: tens
        # of milliseconds that every worker's first chat would otherwise wait.
        loop = asyncio.get_running_loop()
        if lifespan.is_serving(loop):
            self._loop_client(loop)

    def _loop_client(self, loop: asyncio.AbstractEventLoop) -> openai.AsyncOpenAI:
        if loop not in self._clients:
            self._clients[loop] = self._new_client()
            lifespan.on_shutdown(loop, self._clients[loop].close)
        return self._clients[loop]

    def _new_client(self) -> openai.AsyncOpenAI:
        # No retries: the charge is refunded and the client may retry; a
        # retry here would double the wait.
        return openai.AsyncOpenAI(
            base_url=settings.AI_BASE_URL,
            api_key=settings.AI_API_KEY,
            timeout=self.timeout,
            max_retries=0,
            # aiohttp, not httpx: httpx's pool scans every connection on each
            # request and close, which dominates a process holding thousands
            # of streams (docs/performance.md). Each chat holds one connection
            # for its reply, so no cap (aiohttp's 0).
            http_client=openai.DefaultAioHttpClient(
                timeout=self.timeout, limits=httpx2.Limits(max_connections=0)
            ),
        )

    async def reply(
        self,
        *,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Reply:
        with _provider_errors():
            async with self.session() as client:
                completion = await self._create(
                    client, messages, max_tokens, temperature, stream=False
                )
            text = _message_content(completion)
            if text is None:
                raise ProviderError
            usage = _get(completion, "usage")
            return Reply(
                text=_clean(text),
                model=self._model_of(completion),
                prompt_tokens=_count(_get(usage, "prompt_tokens")),
                completion_tokens=_count(_get(usage, "completion_tokens")),
            )

    async def stream(
        self,
        *,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncGenerator[str | Reply]:
        # The SDK's timeout bounds each wait for the server; this bounds the
        # whole reply, checked as each piece arrives.
        deadline = time.monotonic() + self.timeout
        pieces: list[str] = []
        model, usage, finished = self.model, None, False
        with _provider_errors():
            async with self.session() as client:
                stream = await self._create(client, messages, max_tokens, temperature, stream=True)
                async with stream:
                    async for chunk in stream:
                        if time.monotonic() > deadline:
                            raise ProviderTimeout
                        if not isinstance(chunk, dict):
                            raise ProviderError
                        model = self._model_of(chunk, default=model)
                        usage = chunk.get("usage") or usage
                        for choice in chunk.get("choices") or ():
                            finished = finished or _finish_reason(choice) is not None
                            piece = _delta_content(choice)
                            if piece:
                                piece = _clean(piece)
                                pieces.append(piece)
                                yield piece
            if not finished:
                # The server closed the stream cleanly but never said the reply was over.
                raise ProviderError
            yield Reply(
                text="".join(pieces),
                model=model,
                prompt_tokens=_count(_get(usage, "prompt_tokens")),
                completion_tokens=_count(_get(usage, "completion_tokens")),
            )

    def _model_of(self, answer: Any, default: str | None = None) -> str:
        model = _get(answer, "model")
        return _clean(model) if isinstance(model, str) and model else (default or self.model)

    async def _create(
        self,
        client: openai.AsyncOpenAI,
        messages: Sequence[Message],
        max_tokens: int | None,
        temperature: float | None,
        *,
        stream: bool,
    ) -> Any:
        """What `client.chat.completions.create` sends, without its parameter transform.

        `create` first walks every message through the SDK's typed-dict
        transform (about 0.2 ms of CPU per message here: 4 ms for a chat
        with ten exchanges of context), which for plain role/content strings
        changes nothing. `client.post` is the SDK's documented way to send a
        body as it is, with the same client options, errors and parsing.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            # max_tokens rather than max_completion_tokens: every compatible
            # server (Ollama, vLLM, llama.cpp, LM Studio) understands it.
            "max_tokens": max_tokens or settings.AI_MAX_OUTPUT_TOKENS,
        }
        if temperature is not None:
            body["temperature"] = temperature
        if stream:
            # The usage comes in a last chunk of its own, only when asked for:
            # per-token pricing settles by it.
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        # The model's server may log it too: one id across both servers' logs.
        request_id = current_request_id()
        headers = {REQUEST_ID_HEADER: request_id} if request_id else {}
        # The answer, or each streamed piece, as the JSON the server sent (the
        # SDK's `object`), not a ChatCompletion(Chunk): building those models
        # cost more CPU than all the rest of relaying a piece
        # (docs/performance.md), and we read four fields of them.
        return await client.post(
            "/chat/completions",
            body=body,
            options={"headers": headers},
            cast_to=object,
            stream=stream,
            stream_cls=openai.AsyncStream[object],
        )


@contextmanager
def _provider_errors() -> Iterator[None]:
    """Turns every way the model's server can fail into ours.

    The SDK's errors, and also answers it accepts but that are not a chat
    completion (an HTML page from a wrong AI_BASE_URL, JSON of another
    shape): whatever the server sent, the client gets 502, not 500.
    """
    try:
        yield
    except (ProviderError, ProviderTimeout):
        raise
    except openai.APITimeoutError as error:
        if _refused(error):
            raise ProviderError from error
        raise ProviderTimeout from error
    except Exception as error:
        raise ProviderError from error


def _refused(error: BaseException) -> bool:
    """A connection refused or reset, which the SDK's aiohttp transport reports
    as a connect timeout (its exception map takes aiohttp's ClientConnectorError
    for its parent, ClientConnectionError): the server is down, not slow."""
    cause = error.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionError):
            return True
        cause = cause.__cause__
    return False


def _clean(text: str) -> str:
    # What a database can store: PostgreSQL refuses NUL in text, and a lone
    # surrogate (valid in JSON, not in UTF-8) fails to encode.
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _get(answer: Any, name: str) -> Any:
    """A field of a JSON object, or None when it is not one."""
    return answer.get(name) if isinstance(answer, dict) else None


def _message_content(completion: Any) -> str | None:
    choices = _get(completion, "choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    content = _get(_get(first, "message"), "content")
    return content if isinstance(content, str) else None


def _finish_reason(choice: Any) -> Any:
    return _get(choice, "finish_reason")


def _delta_content(choice: Any) -> str | None:
    content = _get(_get(choice, "delta"), "content")
    return content if isinstance(content, str) else None


def _count(value: object) -> int | None:
    # The model's own count, when it gave a sensible one.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None
