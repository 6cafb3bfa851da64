"""The default provider: deterministic, instant, no network."""

from collections.abc import Generator, Sequence
from typing import ClassVar

from conversations.providers.base import Message, Reply


class EchoProvider:
    name: ClassVar[str] = "echo"
    remote: ClassVar[bool] = False
    model = "echo"

    def reply(self, *, messages: Sequence[Message]) -> Reply:
        text = f"AI response to: {messages[-1].content}"
        # Word counts stand in for a model's token counts.
        return Reply(
            text=text,
            model=self.model,
            prompt_tokens=sum(len(message.content.split()) for message in messages),
            completion_tokens=len(text.split()),
        )

    def stream(self, *, messages: Sequence[Message]) -> Generator[str | Reply]:
        reply = self.reply(messages=messages)
        first, *rest = reply.text.split(" ")
        yield first
        for word in rest:
            yield f" {word}"
        yield reply
