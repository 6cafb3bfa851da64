"""users.services without HTTP: registration, log-in, refresh and log-out."""

import pytest
from django.contrib.auth.hashers import identify_hasher
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.assertions import assert_ledger_matches_balance
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.hashers import CountingPasswordHasher
from users.exceptions import USERNAME_TAKEN, InvalidCredentials, UsernameTaken
from users.models import RevokedSession, TokenTransaction, User
from users.services import token_refresh, user_login, user_logout, user_register
from users.tokens import SessionRefreshToken

pytestmark = pytest.mark.django_db

PASSWORD = "a-perfectly-fine-passphrase"


def is_blacklisted(token: RefreshToken) -> bool:
    return BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()


# --- user_register -----------------------------------------------------------


def test_register_grants_the_signup_tokens_from_the_setting(settings):
    settings.SIGNUP_TOKENS = 250

    user = user_register(username="edward", password=PASSWORD)

    user.refresh_from_db()
    assert user.username == "edward"
    assert user.tokens == 250
    grant = TokenTransaction.objects.get(user=user)
    assert grant.kind == TokenTransaction.Kind.SIGNUP_GRANT
    assert grant.amount == 250
    assert grant.balance_after == 250
    assert not hasattr(grant, "exchange")
    assert_ledger_matches_balance(user)


def test_register_grants_4000_tokens_by_default():
    user = user_register(username="edward", password=PASSWORD)

    user.refresh_from_db()
    assert user.tokens == 4000
    assert_ledger_matches_balance(user)


def test_register_with_no_signup_grant_writes_no_ledger_row(settings):
    # A zero-amount ledger row would be noise (and the ledger refuses it).
    settings.SIGNUP_TOKENS = 0

    user = user_register(username="edward", password=PASSWORD)

    user.refresh_from_db()
    assert user.tokens == 0
    assert not TokenTransaction.objects.filter(user=user).exists()
    assert_ledger_matches_balance(user)


def test_register_stores_the_password_hashed():
    user = user_register(username="edward", password=PASSWORD)

    user.refresh_from_db()
    assert PASSWORD not in user.password
    assert identify_hasher(user.password)  # a recognised hash, not the raw text
    assert user.check_password(PASSWORD)


def test_register_normalizes_the_username():
    # NFKC, as Django does: full-width letters are the plain letters.
    user = user_register(username="\uff45dward", password=PASSWORD)

    assert user.username == "edward"


@pytest.mark.parametrize("taken", ["Edward", "edward", "EDWARD", "eDWARD"])
def test_register_refuses_a_taken_name_in_any_letter_case(taken):
    existing = UserFactory(username="Edward")

    with pytest.raises(UsernameTaken) as exc_info:
        user_register(username=taken, password=PASSWORD)

    assert exc_info.value.get_codes() == {"username": ["unique"]}
    assert exc_info.value.detail == {"username": [USERNAME_TAKEN]}
    # Nothing of the failed registration is left behind.
    assert list(User.objects.all()) == [existing]
    assert TokenTransaction.objects.count() == 1
    assert_ledger_matches_balance(existing)


# --- user_login --------------------------------------------------------------


def test_login_issues_a_token_pair_for_the_user():
    user = UserFactory(username="edward")

    result = user_login(username="edward", password=DEFAULT_PASSWORD)

    assert result.user == user
    assert result.refresh["user_id"] == str(user.pk)
    assert AccessToken(result.access)["user_id"] == str(user.pk)
    user.refresh_from_db()
    assert user.last_login is not None


@pytest.mark.parametrize("username", ["EDWARD", "Edward", "eDwArD"])
def test_login_matches_the_username_in_any_letter_case(username):
    user = UserFactory(username="edward")

    result = user_login(username=username, password=DEFAULT_PASSWORD)

    assert result.user == user


def test_login_with_a_wrong_password_fails():
    user = UserFactory(username="edward")

    with pytest.raises(InvalidCredentials):
        user_login(username="edward", password=DEFAULT_PASSWORD + "x")

    user.refresh_from_db()
    assert user.last_login is None


def test_login_of_an_unknown_user_fails():
    with pytest.raises(InvalidCredentials):
        user_login(username="nobody", password=DEFAULT_PASSWORD)


def test_login_of_an_inactive_user_fails():
    user = UserFactory(username="edward", is_active=False)

    with pytest.raises(InvalidCredentials):
        user_login(username="edward", password=DEFAULT_PASSWORD)

    user.refresh_from_db()
    assert user.last_login is None


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.hashers.CountingPasswordHasher"]
    CountingPasswordHasher.calls = 0
    return CountingPasswordHasher


LOGIN_ATTEMPTS = {
    "right password": ("edward", DEFAULT_PASSWORD),
    "wrong password": ("edward", "wrong-password"),
    "unknown username": ("nobody", "wrong-password"),
    "inactive user": ("inactive", DEFAULT_PASSWORD),
    "no usable password": ("unusable", "wrong-password"),
}


@pytest.mark.parametrize("attempt", LOGIN_ATTEMPTS)
def test_every_login_attempt_hashes_exactly_once(counting_hasher, attempt):
    # Equal work whatever the outcome: the time a login takes cannot tell
    # whether a username exists (counted, since timing would be flaky).
    UserFactory(username="edward")
    UserFactory(username="inactive", is_active=False)
    unusable = UserFactory(username="unusable")
    unusable.set_unusable_password()
    unusable.save()
    username, password = LOGIN_ATTEMPTS[attempt]
    counting_hasher.calls = 0

    try:
        user_login(username=username, password=password)
    except InvalidCredentials:
        assert attempt != "right password"

    assert counting_hasher.calls == 1


def test_login_upgrades_an_older_hash_to_argon2_and_keeps_the_session(settings):
    user = UserFactory(username="edward")
    assert user.password.startswith("md5$")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    result = user_login(username="edward", password=DEFAULT_PASSWORD)

    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    assert user.check_password(DEFAULT_PASSWORD)
    # Re-hashing is not a password change: the new tokens stay valid.
    assert result.refresh["ver"] == user.token_version == 0
    assert token_refresh(refresh=str(result.refresh))


# --- token_refresh -----------------------------------------------------------


def test_refresh_rotates_the_pair_and_blacklists_the_old_refresh_token(user):
    old = SessionRefreshToken.for_user(user)

    pair = token_refresh(refresh=str(old))

    assert set(pair) == {"access", "refresh"}
    new = RefreshToken(pair["refresh"])
    assert new["jti"] != old["jti"]
    assert new["user_id"] == str(user.pk)
    assert AccessToken(pair["access"])["user_id"] == str(user.pk)
    assert is_blacklisted(old)
    assert not is_blacklisted(new)


def test_refresh_refuses_a_refresh_token_used_before(user):
    old = str(SessionRefreshToken.for_user(user))
    token_refresh(refresh=old)

    with pytest.raises(InvalidToken):
        token_refresh(refresh=old)


def test_refresh_refuses_a_token_whose_user_is_gone(user):
    refresh = str(SessionRefreshToken.for_user(user))
    user.delete()

    with pytest.raises(InvalidToken):
        token_refresh(refresh=refresh)


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c"])
def test_refresh_refuses_garbage(garbage):
    with pytest.raises(InvalidToken):
        token_refresh(refresh=garbage)


def test_refresh_refuses_an_access_token(user):
    access = str(SessionRefreshToken.for_user(user).access_token)

    with pytest.raises(InvalidToken):
        token_refresh(refresh=access)


# --- user_logout -------------------------------------------------------------


def test_logout_ends_the_session_of_the_refresh_token(user):
    refresh = SessionRefreshToken.for_user(user)
    rotated = token_refresh(refresh=str(refresh))["refresh"]

    user_logout(user=user, refresh=str(refresh))

    assert RevokedSession.objects.filter(sid=refresh["sid"], user=user).exists()
    with pytest.raises(InvalidToken):
        token_refresh(refresh=rotated)


def test_logout_refuses_someone_elses_refresh_token(user):
    other = UserFactory()
    others_refresh = SessionRefreshToken.for_user(other)

    with pytest.raises(InvalidToken):
        user_logout(user=user, refresh=str(others_refresh))

    assert not is_blacklisted(others_refresh)
    assert not RevokedSession.objects.exists()


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c"])
def test_logout_refuses_garbage(user, garbage):
    with pytest.raises(InvalidToken):
        user_logout(user=user, refresh=garbage)

    assert not RevokedSession.objects.exists()


def test_logout_refuses_a_session_already_ended(user):
    refresh = str(SessionRefreshToken.for_user(user))
    user_logout(user=user, refresh=refresh)

    with pytest.raises(InvalidToken):
        user_logout(user=user, refresh=refresh)

    assert RevokedSession.objects.count() == 1


def test_token_refresh_of_a_token_without_a_user_is_invalid(db):
    token = RefreshToken()  # signed by us, but for nobody

    with pytest.raises(InvalidToken):
        token_refresh(refresh=str(token))
