"""One normalisation of usernames (users/usernames.py) for registration, log-in,
the log-in limit and uniqueness alike: no spelling of a name gets a budget,
an account or a match of its own."""

from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from tests.assertions import error_codes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from users.models import User
from users.usernames import username_key, username_normalise

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("auth-login")
REGISTER_URL = reverse("auth-register")
UNLIMITED = "1000000/s"
PASSWORD = "a-perfectly-fine-passphrase"

# Every spelling of `alice` a client could send: the variants a hostile review
# used, and more (spaces, invisible characters, letter case, width).
ALICE_SPELLINGS = [
    "alice",
    "alice ",
    " alice",
    "alice\t",
    "alice\n",
    "alice\u3000",  # ideographic space
    "\u00a0alice",  # no-break space
    "alice  ",
    "\u2003alice\u2009",  # em space, thin space
    "\u202falice",  # narrow no-break space
    "alice\u200b",  # zero-width space
    "\u200balice",
    "ali\u200bce",
    "al\u200dice",  # zero-width joiner
    "alic\u200ce",  # zero-width non-joiner
    "\ufeffalice",  # byte-order mark
    "alice\u2060",  # word joiner
    "\u00adalice",  # soft hyphen
    "\u202ealice\u202c",  # bidi override
    "ALICE",
    "Alice",
    "aLiCe",
    "\uff41\uff4c\uff49\uff43\uff45",  # full width
    "\uff21\uff2c\uff29\uff23\uff25",  # full width, upper case
    " \uff21lice\u200b ",
    "\u0430lice",  # Cyrillic a
    "al\u0131ce",  # dotless i
    "AL\u0130CE",  # dotted capital I
    "a1ice",  # one for l
]


@pytest.fixture
def login_limit(settings):
    """The log-in limit per account at `rate`; the per-address one out of the way."""
    cache.clear()

    def set_rate(rate: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "login_ip": UNLIMITED,
                "login_username": rate,
                "register": UNLIMITED,
                "chat": UNLIMITED,
            },
        }

    yield set_rate
    cache.clear()


def log_in(username: str, password: str = "wrong-password", address: str = "10.0.0.1"):
    return APIClient().post(
        LOGIN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


@pytest.mark.parametrize("spelling", ALICE_SPELLINGS)
def test_every_spelling_is_one_name(spelling):
    assert username_key(spelling) == username_key("alice")


def test_an_account_gets_ten_guesses_per_window_whatever_the_spelling(login_limit):
    alice = UserFactory(username="alice")
    login_limit("10/min")

    # Each guess in another spelling, from another address.
    statuses = [
        log_in(spelling, address=f"10.0.{i // 250}.{i % 250 + 1}").status_code
        for i, spelling in enumerate(ALICE_SPELLINGS)
    ]

    assert statuses == [HTTPStatus.UNAUTHORIZED] * 10 + [HTTPStatus.TOO_MANY_REQUESTS] * (
        len(ALICE_SPELLINGS) - 10
    )
    # Over the limit, not even the right password in a fresh spelling gets through.
    for spelling in ("alice  ", "\u00a0Alice\u200b", "\uff41lice"):
        assert log_in(spelling, DEFAULT_PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS
    alice.refresh_from_db()
    assert alice.last_login is None


def test_each_spelling_alone_is_limited_too(login_limit):
    UserFactory(username="alice")
    login_limit("10/min")
    for _ in range(10):
        log_in("alice")

    over = [log_in(spelling).status_code for spelling in ALICE_SPELLINGS]

    assert set(over) == {HTTPStatus.TOO_MANY_REQUESTS}


@pytest.mark.parametrize(
    "spelling", ["alice  ", " alice", "\u00a0ALICE\u3000", "ali\u200bce", "\uff41\uff4c\uff49ce"]
)
def test_log_in_accepts_the_spellings_the_limit_counts(spelling):
    alice = UserFactory(username="alice")

    response = log_in(spelling, DEFAULT_PASSWORD)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["user"]["id"] == str(alice.pk)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("  bob  ", "bob"),
        ("\u00a0Bob\u3000", "Bob"),
        ("b\u200bob\u200d", "bob"),
        ("\uff42\uff4f\uff42", "bob"),
        ("\ufeffÉlodie", "Élodie"),
    ],
)
def test_registration_stores_the_normalised_name(sent, stored):
    response = APIClient().post(
        REGISTER_URL, {"username": sent, "password": PASSWORD}, format="json"
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["username"] == stored
    assert User.objects.get().username == stored
    assert username_normalise(sent) == stored


@pytest.mark.parametrize("spelling", ALICE_SPELLINGS)
def test_registration_refuses_every_spelling_of_a_taken_name(spelling):
    UserFactory(username="alice")

    response = APIClient().post(
        REGISTER_URL, {"username": spelling, "password": PASSWORD}, format="json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("username", "unique")]
    assert User.objects.count() == 1


@pytest.mark.parametrize("name", ["\u200b", " \u200d\u3000 ", "\u00ad"])
def test_a_name_of_invisible_characters_is_no_name(name):
    response = APIClient().post(
        REGISTER_URL, {"username": name, "password": PASSWORD}, format="json"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not User.objects.exists()
