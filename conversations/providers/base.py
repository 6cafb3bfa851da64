"""The interface every AI provider implements."""

from typing import ClassVar, Protocol


class ChatProvider(Protocol):
    name: ClassVar[str]

    def reply(self, *, message: str) -> str:
        """The AI's answer to `message`."""
        ...
