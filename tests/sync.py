"""Synchronous entry points to the async chat, for tests that call it directly.

async_to_sync runs the coroutine on an event loop of its own, and brings
the chat's database steps back to the calling thread: the test's
connection and transaction.
"""

from collections.abc import Sequence

from asgiref.sync import async_to_sync

from conversations.providers import ChatProvider, Message, Reply
from conversations.services import chat

chat_send = async_to_sync(chat.chat_send)


def provider_reply(provider: ChatProvider, messages: Sequence[Message]) -> Reply:
    return async_to_sync(provider.reply)(messages=messages)


def provider_stream(provider: ChatProvider, messages: Sequence[Message]) -> list[str | Reply]:
    """Every item the provider's stream yields, until it ends or raises."""

    async def collect() -> list[str | Reply]:
        return [item async for item in provider.stream(messages=messages)]

    return async_to_sync(collect)()
