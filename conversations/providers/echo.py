"""The default provider: deterministic, instant, no network."""

from collections.abc import AsyncGenerator, Sequence
from typing import ClassVar

from conversations.providers.base import Message, Reply


class EchoProvider:
    name: ClassVar[str] = "echo"
    remote: ClassVar[bool] = False
    model = "echo"

    async def open(self) -> None:
        pass  # it keeps nothing

    # max_tokens and temperature are taken and ignored: the echo is fixed.
    async def reply(
        self,
        *,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Reply:
        return self._reply(messages)

    async def stream(
        self,
        *,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncGenerator[str | Reply]:
        reply = self._reply(messages)
        first, *rest = reply.text.split(" ")
        yield first
        for word in rest:
            yield f" {word}"
        yield reply

    def _reply(self, messages: Sequence[Message]) -> Reply:
        text = f"AI response to: {messages[-1].content}"
        # Word counts stand in for a model's token counts.
        return Reply(
            text=text,
            model=self.model,
            prompt_tokens=sum(len(message.content.split()) for message in messages),
            completion_tokens=len(text.split()),
        )
