"""OpenAI's request and response shapes, as far as this API takes and gives them."""

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.fields import StrictBooleanField, StrictCharField, StrictFloatField, StrictIntegerField
from conversations.providers import Message
from conversations.services.reservations import ChatResult

# Enough for any conversation a client would resend; the body's size limit
# (DATA_UPLOAD_MAX_MEMORY_SIZE) bounds them anyway.
MAX_MESSAGES = 100
LAST_MESSAGE_NOT_USER = "The last message must be the user's"
# OpenAI's own words and code for a request that sets both.
BOTH_LIMITS = "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported."
BOTH_LIMITS_CODE = "invalid_parameter_combination"
# OpenAI's newer name for a system message.
ROLES = ["system", "developer", "user", "assistant"]
MAX_USER_CHARS = 256


class ChatCompletionMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)

    def get_fields(self) -> dict[str, serializers.Field]:
        # Per instance, so the length limit follows the setting.
        content = StrictCharField(
            max_length=settings.MAX_MESSAGE_CHARS,
            help_text="Text only (content parts are refused).",
        )
        return {**super().get_fields(), "content": content}


class ChatCompletionInputSerializer(serializers.Serializer):
    model = StrictCharField(max_length=255, help_text="The model `GET /v1/models` lists.")
    messages = serializers.ListField(
        child=ChatCompletionMessageSerializer(),
        min_length=1,
        max_length=MAX_MESSAGES,
        help_text=(
            "The conversation so far, ending with the user's message: passed to the model "
            "as they are (AI_SYSTEM_PROMPT first when no system message is given)."
        ),
    )
    stream = StrictBooleanField(
        required=False, default=False, help_text="`true`: `chat.completion.chunk` events."
    )
    temperature = StrictFloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=2,
        help_text="Passed on to the model; the model's default when left out.",
    )
    user = StrictCharField(
        required=False,
        max_length=MAX_USER_CHARS,
        help_text="Accepted and checked; neither stored nor logged.",
    )
    n = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1,
        help_text="How many choices: one (or null), the only number answered (more is 400, "
        "not a silent single choice).",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # Per instance, so the limit follows the setting.
        limits = {
            name: StrictIntegerField(
                required=False,
                allow_null=True,
                min_value=1,
                max_value=settings.AI_MAX_OUTPUT_TOKENS,
                help_text=help_text,
            )
            for name, help_text in (
                (
                    "max_tokens",
                    "The reply's limit, passed on to the model (AI_MAX_OUTPUT_TOKENS when "
                    "left out; above it, 400). Under per-token pricing the chat reserves its "
                    "prompt plus this many completion tokens (docs/billing.md).",
                ),
                (
                    "max_completion_tokens",
                    "OpenAI's newer name for `max_tokens`, taken the same way; giving both "
                    "(neither null) is 400 `invalid_parameter_combination`.",
                ),
            )
        }
        return {**super().get_fields(), **limits}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["messages"][-1]["role"] != "user":
            error = ErrorDetail(LAST_MESSAGE_NOT_USER, code="invalid")
            raise serializers.ValidationError({"messages": [error]})
        newer = attrs.pop("max_completion_tokens", None)
        if newer is not None:
            if attrs.get("max_tokens") is not None:
                error = ErrorDetail(BOTH_LIMITS, code=BOTH_LIMITS_CODE)
                # Named as OpenAI names it: the older member.
                raise serializers.ValidationError({"max_tokens": [error]})
            attrs["max_tokens"] = newer
        return attrs


def provider_messages(messages: list[dict[str, str]]) -> list[Message]:
    """The client's messages as the model is sent them."""
    given = [
        Message("system" if m["role"] == "developer" else m["role"], m["content"])  # type: ignore[arg-type]
        for m in messages
    ]
    if settings.AI_SYSTEM_PROMPT and not any(m.role == "system" for m in given):
        given.insert(0, Message("system", settings.AI_SYSTEM_PROMPT))
    return given


def completion_id(result: ChatResult) -> str:
    return f"chatcmpl-{result.exchange.pk.hex}"


def created(result: ChatResult) -> int:
    return int(result.exchange.created_at.timestamp())


def usage(result: ChatResult) -> dict[str, int]:
    # The model's own counts; 0 where the provider reported none.
    prompt = result.exchange.prompt_tokens or 0
    completion = result.exchange.completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_completion(result: ChatResult) -> dict[str, Any]:
    exchange = result.exchange
    return {
        "id": completion_id(result),
        "object": "chat.completion",
        "created": created(result),
        "model": exchange.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": exchange.response},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(result),
    }


# The shapes below document the responses (schema.yml); the dicts above are
# what is sent.


class ChatCompletionResponseMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["assistant"])
    content = serializers.CharField()


class ChatCompletionChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = ChatCompletionResponseMessageSerializer()
    finish_reason = serializers.ChoiceField(choices=["stop"])
    logprobs = serializers.JSONField(allow_null=True)


class ChatCompletionUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="`chatcmpl-` and the exchange's id.")
    object = serializers.ChoiceField(choices=["chat.completion"])
    created = serializers.IntegerField(help_text="Unix seconds.")
    model = serializers.CharField()
    choices = ChatCompletionChoiceSerializer(many=True)
    usage = ChatCompletionUsageSerializer()


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["model"])
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.ChoiceField(choices=["list"])

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built here because a field named "data" would hide Serializer.data.
        return {**super().get_fields(), "data": ModelSerializer(many=True)}


class ChatCompletionChunkEventSerializer(serializers.Serializer):
    """One event of a streamed completion: a `data:` line, no `event:` line."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built here because a field named "data" would hide Serializer.data.
        data = serializers.CharField(
            help_text=(
                "A `chat.completion.chunk` as JSON (`id`, `object`, `created`, `model`, "
                "`choices: [{index, delta: {role?, content?}, finish_reason}]`, and `usage` "
                'on the last), or `{"error": {…}}` after a failure, then `[DONE]` (not JSON).'
            )
        )
        return {"data": data}


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorDetailSerializer()
