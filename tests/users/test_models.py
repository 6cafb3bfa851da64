"""The rules users.models holds in the database itself."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.assertions import assert_ledger_matches_balance
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sync import chat_send
from users.ledger import tokens_adjust
from users.models import BalanceNotWritable, TokenTransaction, User

pytestmark = pytest.mark.django_db


def test_tokens_cannot_go_below_zero_even_in_raw_sql_updates(user):
    balance = user.tokens
    # An UPDATE bypasses every Python check: only the constraint stands in the way.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(tokens=-1)

    user.refresh_from_db()
    assert user.tokens == balance


def test_tokens_can_be_zero(user):
    User.objects.filter(pk=user.pk).update(tokens=0)

    user.refresh_from_db()
    assert user.tokens == 0


@pytest.mark.parametrize("other_case", ["edward", "EDWARD", "eDwArD"])
def test_usernames_are_unique_in_any_letter_case(other_case):
    UserFactory(username="Edward")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username=other_case)

    assert list(User.objects.values_list("username", flat=True)) == ["Edward"]


@pytest.mark.parametrize("lookup", ["Edward", "edward", "EDWARD"])
def test_get_by_natural_key_ignores_letter_case(lookup):
    edward = UserFactory(username="Edward")
    UserFactory(username="Edwina")

    assert User.objects.get_by_natural_key(lookup) == edward


# "Edward " is Edward: surrounding spaces are no part of a name
# (tests/users/test_username_normalisation.py).
@pytest.mark.parametrize("lookup", ["Edwar", "Edwards", "Ed ward", "", None])
def test_get_by_natural_key_matches_whole_names_only(lookup):
    UserFactory(username="Edward")

    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key(lookup)


def test_usernames_are_unique_in_any_letter_case_beyond_ascii():
    # Django's username characters include every Unicode letter.
    UserFactory(username="Élodie")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="élodie")

    assert User.objects.count() == 1


def test_saving_a_user_never_writes_back_a_stale_balance(user):
    stale = User.objects.get(pk=user.pk)
    chat_send(user=user, message="spend")  # balance 4000 -> 3900 in the database

    stale.first_name = "Renamed"
    stale.save()

    stale.refresh_from_db()
    assert stale.first_name == "Renamed"
    assert stale.tokens == 3900
    assert_ledger_matches_balance(stale)


@pytest.mark.parametrize(
    "save",
    [
        lambda user: user.save(),
        lambda user: user.save(update_fields=["tokens"]),
        lambda user: user.save(update_fields=["first_name"]),
    ],
    ids=["save", "update_fields_tokens", "update_fields_other"],
)
def test_a_balance_set_by_hand_is_refused_not_dropped(user, save):
    user.tokens = 0

    with pytest.raises(BalanceNotWritable):
        save(user)

    user.refresh_from_db()
    assert user.tokens == 4000
    assert_ledger_matches_balance(user)


def test_a_new_user_cannot_start_with_a_balance_outside_the_ledger(db):
    with pytest.raises(BalanceNotWritable):
        User.objects.create(username="rich", tokens=10**6)

    assert not User.objects.exists()


def test_the_ledger_keeps_the_object_saveable(user):
    tokens_adjust(user=user, amount=5, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)
    user.first_name = "Still saveable"

    user.save()

    user.refresh_from_db()
    assert (user.first_name, user.tokens) == ("Still saveable", 4005)


def test_the_admin_change_form_does_not_undo_charges_made_meanwhile(admin_client, user):
    url = reverse("admin:users_user_change", args=[user.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None}
    data |= {"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "last_name": "X"}
    chat_send(user=user, message="spend while the form is open")

    admin_client.post(url, data)

    user.refresh_from_db()
    assert user.last_name == "X"
    assert user.tokens == 3900


def test_saving_a_stale_user_never_brings_revoked_tokens_back(user):
    stale = User.objects.get(pk=user.pk)
    user.end_all_sessions()

    stale.first_name = "Renamed"
    stale.save()

    stale.refresh_from_db()
    assert stale.first_name == "Renamed"
    assert stale.token_version == 1


def test_a_new_password_by_any_path_ends_every_session(user):
    # As the admin's password form and `changepassword` do it.
    user.set_password("a-brand-new-passphrase")
    user.save()

    assert user.token_version == 1
    user.refresh_from_db()
    assert user.token_version == 1


def test_a_password_hash_upgrade_at_log_in_is_no_password_change(settings):
    user = UserFactory()
    assert user.password.startswith("md5$")
    # A hash by any hasher but the first is upgraded when the password is checked.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    assert user.check_password(DEFAULT_PASSWORD)

    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    assert user.token_version == 0


def test_registration_starts_at_token_version_zero(db):
    user = User(username="edward")
    user.set_password("a-brand-new-passphrase")
    user.save()

    user.refresh_from_db()
    assert user.token_version == 0
