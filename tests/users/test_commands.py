import pytest
from django.core.management import call_command

from users.models import User


@pytest.mark.django_db
def test_createsuperuser_needs_only_a_username_and_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "an-admin-password-1")

    call_command("createsuperuser", interactive=False, username="root")

    admin = User.objects.get(username="root")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("an-admin-password-1")
