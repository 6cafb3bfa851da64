"""The chat's rate limit."""

from api.throttling import UserRateThrottle


class ChatThrottle(UserRateThrottle):
    """Chat messages by one user (THROTTLE_CHAT).

    While the cache is unreachable the limit is skipped (and logged): every
    chat is paid for from the balance, so a chat past the limit costs its
    sender, not us, and refusing them all would stop the service.
    """

    scope = "chat"
    skip_when_cache_fails = True
