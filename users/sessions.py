"""Ended log-in sessions: ending one, and asking whether one has ended.

Every token of a log-in carries its session id (`sid`). Ending a session
(log-out, or a spent refresh token presented again) ends all its tokens at
once: the database records it (RevokedSession: its refresh tokens are refused
at refresh), and the shared cache holds it for as long as any of its access
tokens can live, so authentication asks the cache, not the database, on
every request.

When the cache cannot be reached, nothing that was ended comes back:

- asking falls back to the database (one primary-key query per request,
  only while the cache is down), so requests go on being served (refusing
  them all would take the whole API down with the cache);
- ending a session that the cache cannot be told about ends every session of
  the user instead, through the token version the user row carries (see
  User.end_all_sessions), which needs no cache;
- a cache that comes back empty (a Redis restarted without its data) lacks
  the marker that says it holds the ended sessions: the first request to
  notice loads the ones whose access tokens may still live from the
  database, and sets the marker again.
"""

import uuid
from datetime import timedelta

import structlog
from django.core.cache import cache
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from api.cache import CACHE_FAILURES
from users.models import RevokedSession, User

logger = structlog.get_logger(__name__)

# An access token minted by a refresh that raced the log-out may outlive the
# revocation by the time that refresh took; a minute covers it.
_IN_FLIGHT = timedelta(minutes=1)
# Present while the cache holds every session ended within an access token's
# lifetime; missing from a cache that started empty.
LOADED_KEY = "revoked-sessions:loaded"


def session_revoke(*, user: User, session: uuid.UUID) -> None:
    """End a session: its refresh tokens and its access tokens, at once."""
    # Any refresh token of the session was issued before now, so none
    # outlives now + its lifetime; after that the row can be purged.
    expires_at = timezone.now() + jwt_settings.REFRESH_TOKEN_LIFETIME
    # Two revocations of one session may race: either row will do.
    RevokedSession.objects.bulk_create(
        [RevokedSession(sid=session, user=user, expires_at=expires_at)], ignore_conflicts=True
    )
    try:
        cache.set(_cache_key(session), True, timeout=_window_seconds())
    except CACHE_FAILURES:
        logger.warning(
            "session.cache_unavailable",
            session=str(session),
            user_id=str(user.pk),
            fallback="all_sessions_ended",
            exc_info=True,
        )
        user.end_all_sessions()


def session_is_revoked(session: uuid.UUID) -> bool:
    """Whether the session has ended, asked of the cache (no query while it answers)."""
    key = _cache_key(session)
    try:
        found = cache.get_many([key, LOADED_KEY])
        if LOADED_KEY not in found:
            _load_into_cache()
            return RevokedSession.objects.filter(sid=session).exists()
    except CACHE_FAILURES:
        logger.warning("session.cache_unavailable", session=str(session), fallback="database")
        return RevokedSession.objects.filter(sid=session).exists()
    return bool(found.get(key))


def _load_into_cache() -> None:
    """Put every session whose access tokens may still live in the cache, then the marker."""
    # A session's row expires a refresh lifetime after it ended (session_revoke).
    ended_since = timezone.now() - timedelta(seconds=_window_seconds())
    sessions = RevokedSession.objects.filter(
        expires_at__gte=ended_since + jwt_settings.REFRESH_TOKEN_LIFETIME
    ).values_list("sid", flat=True)
    cache.set_many({_cache_key(sid): True for sid in sessions}, timeout=_window_seconds())
    cache.set(LOADED_KEY, True, timeout=None)
    logger.info("Loaded the recently ended sessions into the cache")


def _window_seconds() -> int:
    """How long an ended session's access tokens may still be presented."""
    return int((jwt_settings.ACCESS_TOKEN_LIFETIME + _IN_FLIGHT).total_seconds())


def _cache_key(session: uuid.UUID) -> str:
    return f"revoked-session:{session.hex}"
