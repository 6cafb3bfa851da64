"""Reads, each scoped to one user: the one place that keeps users apart."""

import uuid

from django.db.models import F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from conversations.models import Conversation, Exchange
from users.models import TokenTransaction, User


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    """The user's conversations, each with `total_cost`: the tokens its
    exchanges were charged (refunded ones are gone with their exchange).
    A subquery per row of the page, on the (conversation, id) index: the
    page stays one query."""
    cost = (
        Exchange.objects.filter(conversation=OuterRef("pk"))
        .order_by()
        .values("conversation")
        .annotate(total=Sum("tokens_charged"))
        .values("total")
    )
    return Conversation.objects.filter(user=user).annotate(
        total_cost=Coalesce(Subquery(cost), Value(0))
    )


def exchange_list(*, user: User, conversation_id: uuid.UUID | None = None) -> QuerySet[Exchange]:
    """History: replies that came, whole or (streams the client left) in part."""
    exchanges = Exchange.objects.filter(user=user).exclude(status=Exchange.Status.PENDING)
    if conversation_id is not None:
        exchanges = exchanges.filter(conversation_id=conversation_id)
    return exchanges


def token_transaction_list(*, user: User) -> QuerySet[TokenTransaction]:
    """The ledger, each charge with the exchange it paid for (`exchange_id`)."""
    return TokenTransaction.objects.filter(user=user).annotate(exchange_id=F("exchange__id"))


def exchange_context(*, user: User, conversation_id: uuid.UUID, limit: int) -> list[Exchange]:
    """The last `limit` finished exchanges of a conversation, oldest first: the
    memory the model gets. One bounded index range, however long the conversation."""
    if limit == 0:
        return []
    newest = (
        Exchange.objects.filter(user=user, conversation_id=conversation_id)
        .exclude(status=Exchange.Status.PENDING)
        .only("message", "response")
        .order_by("-id")[:limit]
    )
    return list(reversed(newest))
