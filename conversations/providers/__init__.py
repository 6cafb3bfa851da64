"""AI providers: where a reply comes from, chosen by the AI_PROVIDER setting."""

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from conversations.providers.base import ChatProvider, Message, Reply
from conversations.providers.echo import EchoProvider
from conversations.providers.openai_compatible import OpenAIProvider

PROVIDERS: dict[str, type[ChatProvider]] = {
    EchoProvider.name: EchoProvider,
    OpenAIProvider.name: OpenAIProvider,
}


@cache
def get_provider() -> ChatProvider:
    try:
        provider_class = PROVIDERS[settings.AI_PROVIDER]
    except KeyError:
        choices = ", ".join(sorted(PROVIDERS))
        raise ImproperlyConfigured(
            f"AI_PROVIDER={settings.AI_PROVIDER!r} is unknown; choose one of: {choices}."
        ) from None
    return provider_class()


__all__ = ["ChatProvider", "Message", "Reply", "get_provider"]
