"""Ended log-in sessions.

Every token of a log-in carries its session id (`sid`). Ending a session
(log-out, or a spent refresh token presented again) ends all its tokens at
once: the database records it (RevokedSession), its refresh tokens are
refused at refresh, and its access tokens by authentication, which reads
the record in the query that loads the user (users.selectors
.user_get_for_session). Nothing of it lives in a cache, so an ended session
stays ended in every process at once, whether Redis is up, down or
restarted empty.
"""

import uuid

from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from users.models import RevokedSession, User


def session_revoke(*, user: User, session: uuid.UUID) -> None:
    """End a session: its refresh tokens and its access tokens, at once."""
    # Any refresh token of the session was issued before now, so none
    # outlives now + its lifetime; after that the row can be purged.
    expires_at = timezone.now() + jwt_settings.REFRESH_TOKEN_LIFETIME
    # Two revocations of one session may race: either row will do.
    RevokedSession.objects.bulk_create(
        [RevokedSession(sid=session, user=user, expires_at=expires_at)], ignore_conflicts=True
    )
