"""The interface every AI provider implements, and what passes through it."""

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol


@dataclass(frozen=True)
class Message:
    """One turn of the conversation, as chat-completion APIs take them."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Reply:
    """A whole reply: its text, the model that wrote it, and the model's own token
    counts (None when it did not report them; per-token pricing then charges
    the reservation)."""

    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatProvider(Protocol):
    """Where replies come from.

    Both methods are async: a chat waits on the model without holding a
    thread. They raise ProviderError when the model's server fails and
    ProviderTimeout when it takes longer than AI_TIMEOUT_SECONDS.
    """

    name: ClassVar[str]
    # Whether a reply means waiting on another server (seconds, not microseconds).
    remote: ClassVar[bool]
    # The model asked for; a Reply names the one that answered.
    model: str

    async def open(self) -> None:
        """Called on the server's event loop as it starts (config/asgi.py):
        make ready what the provider keeps for the loop's life, so that the
        first chats, which may arrive by the thousand, do not pay for it."""
        ...

    async def reply(
        self,
        *,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Reply:
        """The reply to the last message, given the ones before it.

        At most `max_tokens` tokens (AI_MAX_OUTPUT_TOKENS when None), at
        `temperature` (the model's default when None).
        """
        ...

    def stream(
        self,
        *,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncGenerator[str | Reply]:
        """The reply in pieces of text as the model writes them, then the whole
        Reply (with the model's usage, when it reports it)."""
        ...
