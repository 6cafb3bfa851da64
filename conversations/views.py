"""Chat endpoints: thin views over conversations.services and selectors."""

from django.db.models import QuerySet
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.asynchronous import AsyncAPIView
from api.list_views import OneSerializerListAPIView
from api.negotiation import EventStreamNegotiation
from api.openapi import (
    ErrorResponse402Serializer,
    ErrorResponse409ConversationSerializer,
    ErrorResponse409Serializer,
    ErrorResponse422Serializer,
    ErrorResponse502Serializer,
    ErrorResponse504Serializer,
)
from api.pagination import RecentlyActiveCursorPagination
from conversations import selectors, streaming
from conversations.exceptions import IdempotencyKeyWithStream
from conversations.models import Conversation, Exchange
from conversations.serializers import (
    BalanceSerializer,
    ChatCreateInputSerializer,
    ChatOutputSerializer,
    ChatStreamEventSerializer,
    ConversationSerializer,
    ExchangeListFilterSerializer,
    ExchangeSerializer,
    TokenTransactionSerializer,
    balance_output,
    chat_output,
)
from conversations.services.chat import ChatArguments, chat_open, chat_send
from conversations.services.conversations import conversation_delete
from conversations.services.idempotency import (
    KEY_MAX_CHARS,
    KEY_PATTERN,
    IdempotencyRequest,
    request_fingerprint,
)
from conversations.throttling import ChatThrottle
from users.authentication import KEY_OR_JWT, authenticated_user
from users.models import TokenTransaction

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The caller's balance, on every chat response and the balance: after this
# chat's charge (a stream's, as the stream starts), or now.
REMAINING_HEADER = "X-Tokens-Remaining"


def remaining_parameter(*statuses: int) -> OpenApiParameter:
    """The X-Tokens-Remaining response header, in the schema."""
    return OpenApiParameter(
        REMAINING_HEADER,
        int,
        OpenApiParameter.HEADER,
        response=list(statuses),
        description="Your balance after this request, in tokens.",
    )


@extend_validation_errors(["invalid"], field_name=IDEMPOTENCY_HEADER, methods=["post"])
class ChatView(AsyncAPIView):
    """Send a message and get the AI's reply, for CHAT_MESSAGE_COST tokens (or,
    under per-token pricing, what the model used: docs/billing.md).

    Without `conversation`, a new conversation starts, titled from the
    message. A balance below the cost gets 402 and changes nothing. The
    model sees the conversation's last AI_CONTEXT_EXCHANGES exchanges. If it
    fails (502 `provider_error`) or takes too long (504 `provider_timeout`),
    the charge is refunded and nothing is kept.

    With `"stream": true` the reply comes as server-sent events
    (`text/event-stream`, status 200): `start` with the exchange's and the
    conversation's ids, `delta` events with text as the model writes it, then
    `done` with the body a non-streamed chat returns, or `error` with an
    error body (refunded). A client that leaves mid-stream is charged, and
    the reply is kept as far as it got, with status `incomplete`.

    Safe retries: send an `Idempotency-Key` header (1 to 255 characters, no
    whitespace at either end, yours alone, kept 24 hours). A retry with the
    same key and body gets the first response again, with
    `Idempotent-Replayed: true`, and is not charged again.
    The same key with another body gets 422; a retry that arrives while the
    first request is still running gets 409 (retry it later). Keys apply to
    the non-streamed form only.
    """

    authentication_classes = KEY_OR_JWT
    content_negotiation_class = EventStreamNegotiation
    throttle_classes = (ChatThrottle,)

    @extend_schema(
        tags=["chat"],
        summary="Send a message",
        request=ChatCreateInputSerializer,
        examples=[
            OpenApiExample("A reply", value={"message": "Hello!"}, request_only=True),
            OpenApiExample(
                "A streamed reply", value={"message": "Hello!", "stream": True}, request_only=True
            ),
        ],
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": KEY_MAX_CHARS,
                    "pattern": KEY_PATTERN,
                },
                OpenApiParameter.HEADER,
                description=(
                    "Makes retries safe: 1 to 255 characters, no whitespace at either end, "
                    "unique per request. Not with "
                    '`"stream": true` (400 `invalid` on `Idempotency-Key`): a stream cannot '
                    "be replayed."
                ),
            ),
            remaining_parameter(200, 201),
            OpenApiParameter(
                REPLAYED_HEADER,
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="`true` when this is the stored response of an earlier request.",
            ),
        ],
        responses={
            (201, "application/json"): ChatOutputSerializer,
            (200, streaming.MEDIA_TYPE): OpenApiResponse(
                ChatStreamEventSerializer,
                description=(
                    "`stream: true`: server-sent events, `start`, `delta` repeated, then "
                    "`done` or `error`; each is a `ChatStreamEvent`, its `data` one line of "
                    "JSON (`ChatStreamStart`, `ChatStreamDelta`, `ChatOutput`, "
                    "`ErrorResponseChatStream`). Read the body as text, as it arrives."
                ),
            ),
            402: ErrorResponse402Serializer,
            409: ErrorResponse409Serializer,
            422: ErrorResponse422Serializer,
            502: ErrorResponse502Serializer,
            504: ErrorResponse504Serializer,
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        idempotency_key = (
            None if key is None else IdempotencyRequest(key, request_fingerprint(request.data))
        )
        serializer = ChatCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        chat: ChatArguments = {
            "user": authenticated_user(request),
            "message": serializer.validated_data["message"],
            "conversation_id": serializer.validated_data.get("conversation"),
        }
        if serializer.validated_data["stream"]:
            if idempotency_key is not None:
                raise IdempotencyKeyWithStream
            reservation = await chat_open(**chat)
            stream = streaming.event_stream_response(reservation)
            stream[REMAINING_HEADER] = str(reservation.remaining_tokens)
            return stream
        result = await chat_send(**chat, idempotency_key=idempotency_key)
        # The balance now: after this charge, or (a replay) after the last one.
        headers = {REMAINING_HEADER: str(chat["user"].tokens)}
        if result.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(chat_output(result), status=status.HTTP_201_CREATED, headers=headers)


class BalanceView(APIView):
    """The caller's token balance and how chats are priced: `cost_per_message`
    under flat pricing, the prices per 1,000 model tokens under per-token
    pricing (`per_token`)."""

    authentication_classes = KEY_OR_JWT

    @extend_schema(
        tags=["chat"],
        summary="Token balance",
        responses={200: BalanceSerializer},
        parameters=[remaining_parameter(200)],
    )
    def get(self, request: Request) -> Response:
        tokens = authenticated_user(request).tokens
        return Response(balance_output(tokens), headers={REMAINING_HEADER: str(tokens)})


@extend_schema(tags=["conversations"], summary="List conversations")
class ConversationListView(OneSerializerListAPIView[Conversation]):
    """The caller's conversations, most recently active first."""

    authentication_classes = KEY_OR_JWT

    serializer_class = ConversationSerializer
    pagination_class = RecentlyActiveCursorPagination

    def get_queryset(self) -> QuerySet[Conversation]:
        return selectors.conversation_list(user=authenticated_user(self.request))


class ConversationDetailView(generics.RetrieveDestroyAPIView[Conversation]):
    """One of the caller's conversations. Deleting it deletes its exchanges;
    the ledger keeps the charges. While a reply in it is on its way, deleting
    gets 409 `conversation_busy`: try again once it has arrived."""

    authentication_classes = KEY_OR_JWT

    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        return selectors.conversation_list(user=authenticated_user(self.request))

    @extend_schema(tags=["conversations"], summary="Get a conversation")
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["conversations"],
        summary="Delete a conversation",
        responses={204: None, 409: ErrorResponse409ConversationSerializer},
    )
    def delete(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().delete(request, *args, **kwargs)

    def perform_destroy(self, instance: Conversation) -> None:
        conversation_delete(conversation=instance)


@extend_schema(tags=["chat"], summary="Chat history", parameters=[ExchangeListFilterSerializer])
@extend_validation_errors(["invalid"], field_name="conversation", methods=["get"])
class ExchangeListView(OneSerializerListAPIView[Exchange]):
    """The caller's exchanges, newest first; `?conversation=<id>` narrows to one."""

    authentication_classes = KEY_OR_JWT

    serializer_class = ExchangeSerializer

    def get_queryset(self) -> QuerySet[Exchange]:
        # A plain dict: from a QueryDict, DRF would read `?conversation=` as
        # leaving the filter out.
        filters = ExchangeListFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return selectors.exchange_list(
            user=authenticated_user(self.request),
            conversation_id=filters.validated_data.get("conversation"),
        )


@extend_schema(tags=["chat"], summary="Token ledger")
class TokenTransactionListView(OneSerializerListAPIView[TokenTransaction]):
    """Every change to the caller's balance, newest first. It sums to the balance."""

    authentication_classes = KEY_OR_JWT

    serializer_class = TokenTransactionSerializer

    def get_queryset(self) -> QuerySet[TokenTransaction]:
        return selectors.token_transaction_list(user=authenticated_user(self.request))
