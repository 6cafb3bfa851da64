"""The chat's rate limit."""

from api.throttling import UserRateThrottle


class ChatThrottle(UserRateThrottle):
    """Chat messages by one user (THROTTLE_CHAT)."""

    scope = "chat"
