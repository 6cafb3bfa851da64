"""`POST /v1/chat/completions`, `GET /v1/models` and `GET /v1/models/{model}`:
thin views over the chat services; any other path under /v1/ is OpenAI's 404."""

from typing import Any

from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.asynchronous import AsyncAPIView
from api.negotiation import EventStreamNegotiation
from conversations.exceptions import ModelNotFound
from conversations.openai_compat.errors import OpenAIErrors, UnknownURL
from conversations.openai_compat.schema import OpenAIAutoSchema
from conversations.openai_compat.serializers import (
    ChatCompletionChunkEventSerializer,
    ChatCompletionInputSerializer,
    ChatCompletionSerializer,
    ModelListSerializer,
    ModelSerializer,
    OpenAIErrorSerializer,
    chat_completion,
    provider_messages,
)
from conversations.openai_compat.streaming import chunk_stream_response
from conversations.providers import get_provider
from conversations.services.chat import ChatArguments, chat_open, chat_send
from conversations.streaming import MEDIA_TYPE
from conversations.throttling import ChatThrottle
from conversations.views import REMAINING_HEADER, remaining_parameter
from users.authentication import ApiKeyAuthentication, authenticated_user

# An API key only: OpenAI's clients hold one long-lived key, not a JWT pair.
KEY_ONLY = (ApiKeyAuthentication,)
# What /v1/models reports as the model's owner and creation time (there is
# no meaningful date for a model behind a configurable provider).
OWNER = "chat-api"

UNAUTHORIZED = {
    401: OpenApiResponse(OpenAIErrorSerializer, description="`invalid_api_key`."),
}
MODEL_NOT_FOUND = {
    404: OpenApiResponse(OpenAIErrorSerializer, description="`model_not_found`."),
}
# Every operation reads the database, if only to check the key.
UNAVAILABLE = {
    503: OpenApiResponse(
        OpenAIErrorSerializer, description="A dependency (the database, the cache) is down."
    ),
}


def served_model() -> dict[str, Any]:
    """The one model served, as OpenAI's Model object."""
    return {"id": get_provider().model, "object": "model", "created": 0, "owned_by": OWNER}


class ChatCompletionView(OpenAIErrors, AsyncAPIView):
    """OpenAI's Create chat completion, metered as CHAT_PRICING says (docs/billing.md).

    Takes an API key (`Authorization: Bearer chatkey_…`). `messages` ends
    with the user's message; the model is sent them as they are (with
    AI_SYSTEM_PROMPT first when no system message is given), not a stored
    conversation. Each request is charged and kept like `POST /api/v1/chat/`:
    a new conversation with the last user message and the reply. A short
    balance or a key's spending cap is 402 `insufficient_quota`; a provider
    failure (502) or timeout (504) is refunded. `stream: true` answers with
    `chat.completion.chunk` events ending with `data: [DONE]`. Errors have
    OpenAI's shape, `{"error": {message, type, param, code}}`.
    """

    authentication_classes = KEY_ONLY
    content_negotiation_class = EventStreamNegotiation
    throttle_classes = (ChatThrottle,)
    schema = OpenAIAutoSchema()

    @extend_schema(
        tags=["openai"],
        summary="Create a chat completion (OpenAI-compatible)",
        operation_id="v1_chat_completions",
        request=ChatCompletionInputSerializer,
        examples=[
            OpenApiExample(
                "A completion",
                value={"model": "echo", "messages": [{"role": "user", "content": "Hello!"}]},
                request_only=True,
            )
        ],
        parameters=[remaining_parameter(200)],
        responses={
            (200, "application/json"): ChatCompletionSerializer,
            (200, MEDIA_TYPE): OpenApiResponse(
                ChatCompletionChunkEventSerializer,
                description=(
                    "`stream: true`: `data: <chat.completion.chunk JSON>` lines, the last "
                    'one with `finish_reason` and `usage` (or `{"error": …}`), then '
                    "`data: [DONE]`."
                ),
            ),
            400: OpenApiResponse(OpenAIErrorSerializer, description="`invalid_request_error`."),
            **UNAUTHORIZED,
            402: OpenApiResponse(
                OpenAIErrorSerializer,
                description="`insufficient_quota`: the balance or the key's spending cap.",
            ),
            **MODEL_NOT_FOUND,
            413: OpenApiResponse(OpenAIErrorSerializer, description="The body is too large."),
            415: OpenApiResponse(OpenAIErrorSerializer, description="Not JSON."),
            429: OpenApiResponse(
                OpenAIErrorSerializer, description="`rate_limit_exceeded`, with Retry-After."
            ),
            502: OpenApiResponse(OpenAIErrorSerializer, description="`provider_error`, refunded."),
            **UNAVAILABLE,
            504: OpenApiResponse(
                OpenAIErrorSerializer, description="`provider_timeout`, refunded."
            ),
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        serializer = ChatCompletionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = get_provider().model
        if data["model"] != model:
            raise ModelNotFound
        user = authenticated_user(request)
        messages = data["messages"]
        chat: ChatArguments = {
            "user": user,
            "message": messages[-1]["content"],
            "context": provider_messages(messages),
            "max_tokens": data.get("max_tokens"),
            "temperature": data.get("temperature"),
        }
        if data["stream"]:
            reservation = await chat_open(**chat)
            stream = chunk_stream_response(reservation, model=model)
            stream[REMAINING_HEADER] = str(reservation.remaining_tokens)
            return stream
        result = await chat_send(**chat)
        return Response(chat_completion(result), headers={REMAINING_HEADER: str(user.tokens)})


class ModelListView(OpenAIErrors, APIView):
    """OpenAI's List models: the one model this server serves (AI_MODEL, or
    `echo`), the `model` a chat completion must name. Takes an API key."""

    authentication_classes = KEY_ONLY
    schema = OpenAIAutoSchema()

    @extend_schema(
        tags=["openai"],
        summary="List models (OpenAI-compatible)",
        operation_id="v1_models",
        responses={200: ModelListSerializer, **UNAUTHORIZED, **UNAVAILABLE},
    )
    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": [served_model()]})


class ModelView(OpenAIErrors, APIView):
    """OpenAI's Retrieve model: the served model (as `GET /v1/models` lists
    it) when `model` is its id; any other id is 404 `model_not_found`. Takes
    an API key."""

    authentication_classes = KEY_ONLY
    schema = OpenAIAutoSchema()

    @extend_schema(
        tags=["openai"],
        summary="Retrieve a model (OpenAI-compatible)",
        operation_id="v1_models_retrieve",
        parameters=[
            OpenApiParameter(
                "model",
                str,
                OpenApiParameter.PATH,
                description="A model's id, as `GET /v1/models` lists it.",
            )
        ],
        responses={200: ModelSerializer, **UNAUTHORIZED, **MODEL_NOT_FOUND, **UNAVAILABLE},
    )
    def get(self, request: Request, model: str) -> Response:
        served = served_model()
        if model != served["id"]:
            raise ModelNotFound
        return Response(served)


class UnknownURLView(OpenAIErrors, APIView):
    """Any other path under /v1/, whatever the method and credentials: 404
    `unknown_url` in OpenAI's shape (not Django's HTML page, which an OpenAI
    SDK can only quote), even with DEBUG on."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    # Not an operation: left out of schema.yml.
    schema = None

    @property
    def default_response_headers(self) -> dict[str, str]:
        # DRF's would say `Allow: OPTIONS`: no method is allowed here.
        headers = dict(super().default_response_headers)
        headers.pop("Allow", None)
        return headers

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise UnknownURL(method=request.method or "", path=request.path)
