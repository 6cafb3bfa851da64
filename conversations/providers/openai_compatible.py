"""Any server that speaks the OpenAI Chat Completions API, through the official SDK.

OpenAI itself, Azure-style gateways, Ollama, vLLM, llama.cpp's server, LM
Studio, OpenRouter: AI_BASE_URL says where, AI_API_KEY and AI_MODEL what.
"""

import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import openai
from django.conf import settings

from conversations.exceptions import ProviderError, ProviderTimeout
from conversations.providers.base import Message, Reply


class OpenAIProvider:
    name: ClassVar[str] = "openai"

    def __init__(self) -> None:
        self.model = settings.AI_MODEL
        self.timeout = settings.AI_TIMEOUT_SECONDS
        # No retries: the charge is refunded and the client may retry, so a
        # reply never takes more than one AI_TIMEOUT_SECONDS.
        self.client = openai.OpenAI(
            base_url=settings.AI_BASE_URL,
            api_key=settings.AI_API_KEY,
            timeout=self.timeout,
            max_retries=0,
        )

    def reply(self, *, messages: Sequence[Message]) -> Reply:
        with _provider_errors():
            completion = self.client.chat.completions.create(**self._request(messages))
        choice = completion.choices[0] if completion.choices else None
        if choice is None or choice.message.content is None:
            raise ProviderError
        usage = completion.usage
        return Reply(
            text=choice.message.content,
            model=completion.model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def stream(self, *, messages: Sequence[Message]) -> Generator[str | Reply]:
        # The SDK's timeout bounds each read; this bounds the whole reply.
        deadline = time.monotonic() + self.timeout
        pieces: list[str] = []
        model, usage, finished = self.model, None, False
        with _provider_errors():
            stream = self.client.chat.completions.create(
                **self._request(messages),
                stream=True,
                stream_options={"include_usage": True},
            )
            with stream:
                for chunk in stream:
                    if time.monotonic() > deadline:
                        raise ProviderTimeout
                    model = chunk.model or model
                    usage = chunk.usage or usage
                    for choice in chunk.choices:
                        finished = finished or choice.finish_reason is not None
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                            yield choice.delta.content
        if not finished:
            # The server closed the stream cleanly but never said the reply was over.
            raise ProviderError
        yield Reply(
            text="".join(pieces),
            model=model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def _request(self, messages: Sequence[Message]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            # max_tokens rather than max_completion_tokens: every compatible
            # server (Ollama, vLLM, llama.cpp, LM Studio) understands it.
            "max_tokens": settings.AI_MAX_OUTPUT_TOKENS,
        }


@contextmanager
def _provider_errors() -> Iterator[None]:
    """Turns the SDK's failures into ours; anything else is our own bug."""
    try:
        yield
    except openai.APITimeoutError as error:
        raise ProviderTimeout from error
    except openai.OpenAIError as error:
        raise ProviderError from error
