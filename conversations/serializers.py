"""Request and response shapes of the chat endpoints."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers

from api.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from api.openapi import error_body, server_sent_event
from conversations.exceptions import MESSAGE_REQUIRED
from conversations.models import Conversation, Exchange
from conversations.services import pricing
from users.models import TokenTransaction


class ChatCreateInputSerializer(serializers.Serializer):
    conversation = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="Continue this conversation; leave out to start a new one.",
    )
    stream = StrictBooleanField(
        required=False,
        default=False,
        help_text=(
            "`true`: answer with server-sent events (`text/event-stream`) as the reply is "
            "written: `start`, `delta`…, then `done` or `error`."
        ),
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built per instance, so the length limit follows the setting, and
        # the schema shows it (maxLength, the max_length error code).
        message = StrictCharField(
            max_length=settings.MAX_MESSAGE_CHARS,
            error_messages={
                "required": MESSAGE_REQUIRED,
                "blank": MESSAGE_REQUIRED,
                "null": MESSAGE_REQUIRED,
            },
            help_text="At most maxLength characters as sent; stored without the whitespace "
            "around it.",
        )
        return {"message": message, **super().get_fields()}


class UsageSerializer(serializers.Serializer):
    """The model's own token counts, as its provider reported them (not billing tokens)."""

    prompt_tokens = serializers.IntegerField(allow_null=True)
    completion_tokens = serializers.IntegerField(allow_null=True)


class ExchangeSerializer(serializers.ModelSerializer[Exchange]):
    status = serializers.ChoiceField(
        choices=[Exchange.Status.COMPLETE, Exchange.Status.INCOMPLETE],
        read_only=True,
        help_text="`incomplete`: a streamed reply the client left, kept as far as it got.",
    )
    usage = UsageSerializer(source="*", read_only=True)
    timestamp = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Exchange
        fields = [
            "id",
            "conversation",
            "message",
            "response",
            "status",
            "model",
            "usage",
            "tokens_charged",
            "timestamp",
        ]
        read_only_fields = fields


class ChatOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="exchange.id")
    conversation = serializers.UUIDField(source="exchange.conversation_id")
    message = serializers.CharField(source="exchange.message")
    response = serializers.CharField(source="exchange.response")
    model = serializers.CharField(source="exchange.model")
    usage = UsageSerializer(source="exchange")
    tokens_charged = serializers.IntegerField(source="exchange.tokens_charged")
    remaining_tokens = serializers.IntegerField()
    timestamp = serializers.DateTimeField(source="exchange.created_at")


def chat_output(result: Any) -> dict[str, Any]:
    """What ChatOutputSerializer makes of a ChatResult, from one shared instance.

    Building a serializer's fields (a deep copy of each, for every instance)
    costs more than rendering them; rendering keeps no state on the
    serializer, so every chat can share one.
    """
    return _CHAT_OUTPUT.to_representation(result)


_CHAT_OUTPUT = ChatOutputSerializer()


def _price_per_1k(help_text: str) -> serializers.DecimalField:
    # As the settings allow: up to 1,000,000 with six decimal places.
    return serializers.DecimalField(
        max_digits=13,
        decimal_places=6,
        coerce_to_string=False,
        min_value=Decimal(0),
        help_text=help_text,
    )


class PerTokenPricesSerializer(serializers.Serializer):
    prompt_per_1k = _price_per_1k("Tokens of balance per 1,000 prompt tokens the model counts.")
    completion_per_1k = _price_per_1k(
        "Tokens of balance per 1,000 completion tokens the model writes."
    )
    max_output_tokens = serializers.IntegerField(
        help_text="The reply's limit a chat reserves for unless it asks for less."
    )


class BalanceSerializer(serializers.Serializer):
    tokens = serializers.IntegerField()
    pricing = serializers.ChoiceField(
        choices=["flat", "per_token"],
        help_text="`flat`: each chat costs `cost_per_message`; `per_token`: what the model "
        "used, at `per_token`'s prices (docs/billing.md).",
    )
    cost_per_message = serializers.IntegerField(
        allow_null=True, help_text="What each chat costs; null under per-token pricing."
    )
    per_token = PerTokenPricesSerializer(
        allow_null=True, help_text="The prices under per-token pricing; null under flat."
    )


def balance_output(tokens: int) -> dict[str, Any]:
    """The balance and how chats are priced, as BalanceSerializer describes them."""
    if not pricing.per_token():
        prices = None
        cost_per_message = settings.CHAT_MESSAGE_COST
    else:
        cost_per_message = None
        prices = {
            "prompt_per_1k": settings.CHAT_PROMPT_PRICE_PER_1K,
            "completion_per_1k": settings.CHAT_COMPLETION_PRICE_PER_1K,
            "max_output_tokens": settings.AI_MAX_OUTPUT_TOKENS,
        }
    balance = {
        "tokens": tokens,
        "pricing": settings.CHAT_PRICING,
        "cost_per_message": cost_per_message,
        "per_token": prices,
    }
    return _BALANCE_OUTPUT.to_representation(balance)


# One instance, as _CHAT_OUTPUT: building the fields per request cost a
# tenth of the balance endpoint's time.
_BALANCE_OUTPUT = BalanceSerializer()


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    # Annotated by the selector (conversations.selectors.conversation_list).
    total_cost = serializers.IntegerField(
        read_only=True, help_text="Tokens charged for the conversation's exchanges so far."
    )

    class Meta:
        model = Conversation
        fields = ["id", "title", "total_cost", "created_at", "updated_at"]
        read_only_fields = fields


class ExchangeListFilterSerializer(serializers.Serializer):
    conversation = StrictUUIDField(
        required=False, help_text="Only the exchanges of this conversation."
    )


class TokenTransactionSerializer(serializers.ModelSerializer[TokenTransaction]):
    # The exchange a charge paid for (Exchange.charge), annotated by the
    # selector; null for other kinds, and once the exchange is deleted.
    exchange = serializers.UUIDField(source="exchange_id", read_only=True, allow_null=True)

    class Meta:
        model = TokenTransaction
        fields = ["id", "amount", "kind", "balance_after", "exchange", "created_at"]
        read_only_fields = fields


class ChatStreamStartSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The exchange this reply will be kept as.")
    conversation = serializers.UUIDField()


class ChatStreamDeltaSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The next piece of the reply.")


# The codes a stream's `error` event can carry: the provider failed or was
# too slow (refunded), the conversation was deleted meanwhile, or our fault.
STREAM_ERROR_CODES = ["provider_error", "provider_timeout", "not_found", "error"]
ChatStreamErrorSerializer = error_body(
    "ChatStream", STREAM_ERROR_CODES, [*ClientErrorEnum.choices, *ServerErrorEnum.choices]
)

# One server-sent event of a streamed chat (`text/event-stream`), for the
# schema: `start`, `delta` repeated, then `done` or `error`.
ChatStreamEventSerializer = PolymorphicProxySerializer(
    component_name="ChatStreamEvent",
    serializers={
        "start": server_sent_event(
            "ChatStream",
            "start",
            ChatStreamStartSerializer,
            "JSON: the exchange's and the conversation's ids. Always the first event.",
        ),
        "delta": server_sent_event(
            "ChatStream", "delta", ChatStreamDeltaSerializer, "JSON: the next piece of the reply."
        ),
        "done": server_sent_event(
            "ChatStream",
            "done",
            ChatOutputSerializer,
            "JSON: the body a non-streamed chat returns (201). The last event.",
        ),
        "error": server_sent_event(
            "ChatStream",
            "error",
            ChatStreamErrorSerializer,
            "JSON: an error body; the charge is refunded, except `not_found` when the "
            "conversation was deleted meanwhile. The last event.",
        ),
    },
    resource_type_field_name="event",
    many=False,
)
