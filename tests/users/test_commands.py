import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from users.models import RevokedSession, User
from users.tokens import SessionRefreshToken


@pytest.mark.django_db
def test_createsuperuser_needs_only_a_username_and_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "an-admin-password-1")

    call_command("createsuperuser", interactive=False, username="root")

    admin = User.objects.get(username="root")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("an-admin-password-1")


@pytest.mark.django_db
def test_purge_revoked_sessions_deletes_only_expired_rows(user):
    now = timezone.now()
    RevokedSession.objects.create(sid=uuid.uuid4(), user=user, expires_at=now - timedelta(1))
    alive = RevokedSession.objects.create(
        sid=uuid.uuid4(), user=user, expires_at=now + timedelta(1)
    )
    out = io.StringIO()

    call_command("purge_revoked_sessions", stdout=out)

    assert list(RevokedSession.objects.all()) == [alive]
    assert out.getvalue().strip() == "Deleted 1 expired revoked sessions."


@pytest.mark.django_db
def test_flushexpiredtokens_deletes_expired_refresh_tokens(user):
    expired = SessionRefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    alive = SessionRefreshToken.for_user(user)

    call_command("flushexpiredtokens")

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [alive["jti"]]
