"""Chat errors, each with a stable code (a short balance is users.exceptions.InsufficientTokens)."""

from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail

CONVERSATION_NOT_FOUND = "Conversation not found"
MESSAGE_REQUIRED = "Message is required"


class ConversationNotFound(exceptions.NotFound):
    """Unknown, or someone else's: the two are deliberately indistinguishable."""

    default_detail = CONVERSATION_NOT_FOUND
    default_code = "not_found"


CONVERSATION_BUSY = "A reply in this conversation is still on its way; delete it after"


class ConversationBusy(exceptions.APIException):
    """Deleting now would refund a reply being read, or charge for one never read."""

    status_code = 409
    default_detail = CONVERSATION_BUSY
    default_code = "conversation_busy"


IDEMPOTENCY_KEY_INVALID = (
    "Idempotency-Key must be 1 to 255 characters, with no whitespace at either end"
)
IDEMPOTENCY_KEY_REUSED = "This Idempotency-Key was used with a different request body"
IDEMPOTENCY_KEY_IN_PROGRESS = "A request with this Idempotency-Key is still being processed"
IDEMPOTENCY_KEY_WITH_STREAM = "Idempotency-Key applies to non-streamed chats only"


class IdempotencyKeyInvalid(exceptions.ValidationError):
    def __init__(self) -> None:
        super().__init__(
            {"Idempotency-Key": [ErrorDetail(IDEMPOTENCY_KEY_INVALID, code="invalid")]}
        )


class IdempotencyKeyWithStream(exceptions.ValidationError):
    """A stream cannot be replayed, so a key would promise what it cannot keep."""

    def __init__(self) -> None:
        super().__init__(
            {"Idempotency-Key": [ErrorDetail(IDEMPOTENCY_KEY_WITH_STREAM, code="invalid")]}
        )


class IdempotencyKeyReused(exceptions.APIException):
    """Same key, different body: almost certainly a client bug, never replayed."""

    status_code = 422
    default_detail = IDEMPOTENCY_KEY_REUSED
    default_code = "idempotency_key_reused"


class IdempotencyKeyInProgress(exceptions.APIException):
    """The first request with this key has not finished: retry later."""

    status_code = 409
    default_detail = IDEMPOTENCY_KEY_IN_PROGRESS
    default_code = "idempotency_key_in_progress"


PROVIDER_ERROR = "The AI provider failed; you were not charged"
PROVIDER_TIMEOUT = "The AI provider took too long; you were not charged"


class ProviderError(exceptions.APIException):
    """The model's server failed or answered nonsense: the charge was refunded."""

    status_code = 502
    default_detail = PROVIDER_ERROR
    default_code = "provider_error"


class ProviderTimeout(exceptions.APIException):
    """No whole reply within AI_TIMEOUT_SECONDS: the charge was refunded."""

    status_code = 504
    default_detail = PROVIDER_TIMEOUT
    default_code = "provider_timeout"


MODEL_NOT_FOUND = "The model does not exist here; GET /v1/models lists the one served"


class ModelNotFound(exceptions.NotFound):
    """The OpenAI-compatible endpoint was asked for a model it does not serve."""

    default_detail = MODEL_NOT_FOUND
    default_code = "model_not_found"
