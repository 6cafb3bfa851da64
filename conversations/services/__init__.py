"""Writes: the chat (chat.py), how a reservation ends (reservations.py),
what a chat costs (pricing.py), conversations (conversations.py) and
idempotent retries (idempotency.py).

Money moves only through users.ledger; these modules decide when.
"""
