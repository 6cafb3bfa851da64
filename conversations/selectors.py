"""Reads, each scoped to one user: the one place that keeps users apart."""

import uuid

from django.db.models import QuerySet

from conversations.models import Conversation, Exchange, TokenTransaction
from users.models import User


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=user)


def exchange_list(*, user: User, conversation_id: uuid.UUID | None = None) -> QuerySet[Exchange]:
    exchanges = Exchange.objects.filter(user=user)
    if conversation_id is not None:
        exchanges = exchanges.filter(conversation_id=conversation_id)
    return exchanges


def token_transaction_list(*, user: User) -> QuerySet[TokenTransaction]:
    return TokenTransaction.objects.filter(user=user)
