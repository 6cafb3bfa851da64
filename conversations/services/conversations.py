"""Writes to conversations themselves: marking one active, deleting one."""

import uuid

from django.db import transaction
from django.utils import timezone

from conversations.exceptions import ConversationBusy, ConversationNotFound
from conversations.models import Conversation, Exchange
from conversations.services.reservations import (
    EXPIRED,
    REFUND_FIELDS,
    reservation_cutoff,
    reservation_refund,
)
from users.models import User


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation and its exchanges; their ledger rows stay.

    The row lock makes a chat being added to it either finish first (and be
    deleted with it) or wait and find it gone (404). While a reply is on its
    way, ConversationBusy: deleting would either refund a reply the client
    is already reading, or charge for one it never gets. Reservations past
    their expiry belong to requests that died; they are refunded as the
    sweeper would.
    """
    Conversation.objects.select_for_update().filter(pk=conversation.pk).exists()
    pending = Exchange.objects.filter(conversation=conversation, status=Exchange.Status.PENDING)
    if pending.filter(created_at__gte=reservation_cutoff()).exists():
        raise ConversationBusy
    for exchange in pending.only(*REFUND_FIELDS):
        reservation_refund(exchange=exchange, reason=EXPIRED)
    conversation.delete()


def conversation_touch(*, user: User, conversation_id: uuid.UUID) -> None:
    """Check that the conversation is the user's and mark it active, in one statement.

    Raises ConversationNotFound for an unknown or foreign conversation.
    """
    touched = Conversation.objects.filter(pk=conversation_id, user=user).update(
        updated_at=timezone.now()
    )
    if not touched:
        raise ConversationNotFound
