"""Chat and billing errors, each with a stable code."""

from rest_framework import exceptions

INSUFFICIENT_TOKENS = "Insufficient tokens"
CONVERSATION_NOT_FOUND = "Conversation not found"
MESSAGE_REQUIRED = "Message is required"


class InsufficientTokens(exceptions.APIException):
    """The balance does not cover the cost: nothing was charged or saved."""

    status_code = 402
    default_detail = INSUFFICIENT_TOKENS
    default_code = "insufficient_tokens"


class ConversationNotFound(exceptions.NotFound):
    """Unknown, or someone else's: the two are deliberately indistinguishable."""

    default_detail = CONVERSATION_NOT_FOUND
    default_code = "not_found"
