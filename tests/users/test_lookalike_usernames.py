"""Look-alike usernames are one name (UTS #39 confusable skeleton over the
normalised name), and accounts that already held look-alike names before
keep working: the migration marks and reports them."""

from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from tests.assertions import error_codes
from tests.factories import UserFactory
from tests.migrating import migrate, migrate_to_latest
from users.forms import USERNAME_TAKEN_IN_ANY_CASE
from users.models import User

REGISTER_URL = reverse("auth-register")
LOGIN_URL = reverse("auth-login")
PASSWORD = "a-perfectly-fine-passphrase"

# What a hostile review registered beside `admin`, and more of the same.
ADMIN_LOOKALIKES = [
    "adm\u0131n",  # dotless i
    "\u0430dmin",  # Cyrillic a
    "ADM\u0130N",  # dotted capital I
    "\u0430dm\u0456n",  # Cyrillic a and i
    "adrnin",  # r n for m
    "\u0251dmin",  # Latin alpha
    "adm\u03b9n",  # Greek iota
    "\uff41dmin",  # full-width a
]


def register(username: str):
    return APIClient().post(
        REGISTER_URL, {"username": username, "password": PASSWORD}, format="json"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("lookalike", ADMIN_LOOKALIKES)
def test_registration_refuses_a_name_that_looks_like_a_taken_one(lookalike):
    admin = UserFactory(username="admin")

    response = register(lookalike)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("username", "unique")]
    assert list(User.objects.all()) == [admin]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["adm", "admins", "Édmin", "\u0430\u0434\u043c\u0438\u043d"])
def test_names_that_merely_resemble_are_separate(name):
    UserFactory(username="admin")

    assert register(name).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
@pytest.mark.parametrize("lookalike", ADMIN_LOOKALIKES[:3])
def test_the_database_refuses_a_lookalike_whatever_the_path(lookalike):
    UserFactory(username="admin")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username=lookalike)


@pytest.mark.django_db
def test_the_admin_add_form_refuses_a_lookalike(admin_client):
    UserFactory(username="editor")

    response = admin_client.post(
        reverse("admin:users_user_add"),
        {"username": "\u0435ditor", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == HTTPStatus.OK
    assert USERNAME_TAKEN_IN_ANY_CASE in response.context["adminform"].form.errors["username"]
    assert User.objects.filter(username="\u0435ditor").count() == 0


# --- existing look-alikes: the migration -----------------------------------

BEFORE = [("users", "0003_tokentransaction")]
AFTER = [("users", "0004_username_lookalikes")]
# In the order they registered: each later one looks like the first.
EXISTING = ["admin", "\u0430dmin", "adm\u0131n", "ADM\u0130N", "editor"]


@pytest.fixture
def database_with_lookalikes(transactional_db):
    """A database from before look-alikes were refused, holding four of `admin`."""
    apps = migrate(BEFORE)
    OldUser = apps.get_model("users", "User")
    for name in EXISTING:
        OldUser.objects.create(
            username=name,
            username_key=name.casefold(),
            password=make_password(f"{name}-{PASSWORD}"),
        )
    yield
    migrate_to_latest()


def test_the_migration_keeps_every_account_and_reports_each_clash(database_with_lookalikes, capsys):
    migrate(AFTER)

    report = capsys.readouterr().out
    assert "3 existing username(s) look like an older account's" in report
    for name in EXISTING[1:4]:
        assert f"{name!r} (" in report
    assert "'editor'" not in report
    rows = {user.username: user for user in User.objects.all()}
    assert set(rows) == set(EXISTING)
    assert not rows["admin"].lookalike
    assert not rows["editor"].lookalike
    assert all(rows[name].lookalike for name in EXISTING[1:4])
    assert len({rows[name].username_key for name in EXISTING[:4]}) == 1


def test_after_the_migration_every_account_logs_in_by_its_own_spelling(database_with_lookalikes):
    migrate(AFTER)
    client = APIClient()

    for name in EXISTING:
        response = client.post(
            LOGIN_URL, {"username": name, "password": f"{name}-{PASSWORD}"}, format="json"
        )
        assert response.status_code == HTTPStatus.OK, name
        assert response.json()["user"]["username"] == name
    # Any other spelling of the name is the original account's.
    other = client.post(
        LOGIN_URL, {"username": "ADMIN", "password": f"admin-{PASSWORD}"}, format="json"
    )
    assert other.json()["user"]["username"] == "admin"


def test_after_the_migration_no_new_lookalike_registers(database_with_lookalikes):
    migrate(AFTER)

    assert register("\u0251dmin").status_code == HTTPStatus.BAD_REQUEST
    assert register("ed\u0456tor").status_code == HTTPStatus.BAD_REQUEST
    assert User.objects.count() == len(EXISTING)


def test_a_grandfathered_lookalike_stays_editable_in_the_admin(database_with_lookalikes):
    migrate(AFTER)
    staff = User.objects.create_superuser(username="boss", password=PASSWORD)
    client = APIClient()
    client.force_login(staff)
    cyrillic = User.objects.get(username="\u0430dmin")

    response = client.post(
        reverse("admin:users_user_change", args=[cyrillic.pk]),
        {"username": "\u0430dmin", "is_active": "on", "first_name": "Ann"},
    )

    assert response.status_code == HTTPStatus.FOUND
    cyrillic.refresh_from_db()
    assert cyrillic.first_name == "Ann"
    assert cyrillic.lookalike


def test_the_migration_reverses(database_with_lookalikes):
    migrate(AFTER)
    migrate(BEFORE)

    apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    keys = dict(apps.get_model("users", "User").objects.values_list("username", "username_key"))
    assert keys["\u0430dmin"] == "\u0430dmin"
    assert keys["ADM\u0130N"] == "adm\u0069\u0307n"
