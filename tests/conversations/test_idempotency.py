import uuid
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from conversations.exceptions import (
    IDEMPOTENCY_KEY_IN_PROGRESS,
    IDEMPOTENCY_KEY_REUSED,
    ConversationNotFound,
    IdempotencyKeyInProgress,
)
from conversations.models import Exchange, IdempotencyKey
from conversations.services import chat as chat_service
from conversations.services import idempotency
from conversations.services.idempotency import IdempotencyRequest, request_fingerprint
from tests.assertions import assert_ledger_matches_balance, error_codes
from tests.factories import UserFactory
from tests.sync import chat_send
from users.ledger import tokens_adjust
from users.models import TokenTransaction

pytestmark = pytest.mark.django_db

CHAT_URL = reverse("chat")
BODY = {"message": "Hello"}


def chat(client, key, body=BODY):
    return client.post(CHAT_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def charges(user) -> int:
    return TokenTransaction.objects.filter(user=user, kind="chat_charge").count()


def refunds(user) -> int:
    return TokenTransaction.objects.filter(user=user, kind="refund").count()


def test_a_retry_gets_the_first_response_and_is_not_charged_again(auth_client, user):
    first = chat(auth_client, "key-1")
    retry = chat(auth_client, "key-1")

    assert first.status_code == retry.status_code == HTTPStatus.CREATED
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert charges(user) == 1
    assert Exchange.objects.count() == 1
    user.refresh_from_db()
    assert user.tokens == 3900
    assert_ledger_matches_balance(user)


def test_key_order_and_spacing_of_the_body_do_not_matter(auth_client, user):
    chat(auth_client, "key-1", {"message": "Hi", "conversation": None})

    retry = auth_client.post(
        CHAT_URL,
        '{ "conversation" : null , "message" : "Hi" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )

    assert retry.headers["Idempotent-Replayed"] == "true"
    assert charges(user) == 1


def test_the_same_key_with_another_body_is_422(auth_client, user):
    chat(auth_client, "key-1")

    response = chat(auth_client, "key-1", {"message": "Something else"})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["errors"] == [
        {"code": "idempotency_key_reused", "detail": IDEMPOTENCY_KEY_REUSED, "attr": None}
    ]
    assert charges(user) == 1


def test_a_retry_while_the_first_request_runs_is_409(auth_client, user):
    # What the first request leaves while it runs: its claim, no response yet.
    IdempotencyKey.objects.create(user=user, key="key-1", fingerprint=request_fingerprint(BODY))

    response = chat(auth_client, "key-1")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["errors"] == [
        {"code": "idempotency_key_in_progress", "detail": IDEMPOTENCY_KEY_IN_PROGRESS, "attr": None}
    ]
    assert charges(user) == 0


def test_a_claim_abandoned_by_a_dead_request_is_taken_over(auth_client, user, settings):
    # A request that died before committing charged nothing; after the lock
    # time its claim may be taken over.
    stale = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS + 1)
    IdempotencyKey.objects.create(
        user=user, key="key-1", fingerprint=request_fingerprint(BODY), created_at=stale
    )

    response = chat(auth_client, "key-1")

    assert response.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in response.headers
    assert chat(auth_client, "key-1").headers["Idempotent-Replayed"] == "true"
    assert charges(user) == 1


def test_keys_belong_to_one_user(auth_client, user, make_auth_client):
    other = UserFactory()

    chat(auth_client, "shared-key")
    response = chat(make_auth_client(other), "shared-key")

    assert response.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in response.headers
    assert charges(user) == charges(other) == 1


def test_a_failed_request_releases_its_key(make_auth_client):
    poor = UserFactory(balance=0)
    client = make_auth_client(poor)

    refused = chat(client, "key-1")
    tokens_adjust(user=poor, amount=100, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)
    retried = chat(client, "key-1")

    assert refused.status_code == HTTPStatus.PAYMENT_REQUIRED
    assert retried.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in retried.headers
    assert charges(poor) == 1
    assert_ledger_matches_balance(poor)


def test_an_expired_key_runs_again(auth_client, user, settings):
    chat(auth_client, "key-1")
    expired = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS + 1)
    IdempotencyKey.objects.update(created_at=expired)

    response = chat(auth_client, "key-1")

    assert response.status_code == HTTPStatus.CREATED
    assert "Idempotent-Replayed" not in response.headers
    assert charges(user) == 2


# Whitespace at either end too: HTTP strips it, so it is not the key that
# would arrive, and the schema's pattern refuses it.
@pytest.mark.parametrize("key", ["", "k" * 256, "   ", " key", "key\t", "key\n"])
def test_a_key_of_the_wrong_length_or_padded_is_400(auth_client, user, key):
    response = chat(auth_client, key)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error_codes(response) == [("Idempotency-Key", "invalid")]
    assert charges(user) == 0


def test_a_key_of_255_characters_is_accepted(auth_client):
    assert chat(auth_client, "k" * 255).status_code == HTTPStatus.CREATED


def test_whitespace_inside_a_key_is_part_of_it(auth_client):
    assert chat(auth_client, "a b\tc\nd").status_code == HTTPStatus.CREATED


def test_an_invalid_body_with_a_key_stores_nothing(auth_client, user):
    response = chat(auth_client, "key-1", {"message": ""})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not IdempotencyKey.objects.exists()


def test_purge_removes_only_expired_keys(user, settings):
    expired = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS + 1)
    IdempotencyKey.objects.create(user=user, key="old", fingerprint="x", created_at=expired)
    IdempotencyKey.objects.create(user=user, key="new", fingerprint="x")

    call_command("purge_idempotency_keys")

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


# --- A request that lost its key while it ran --------------------------------


@pytest.fixture
def taken_over_after_claiming(monkeypatch):
    """A retry in another process takes the key over (committed) right after
    this request claimed it: this request is the slow one."""
    claim = idempotency.idempotency_claim

    def claim_then_lose_it(**kwargs):
        claimed = claim(**kwargs)
        IdempotencyKey.objects.filter(pk=claimed.row.pk).update(claim=uuid.uuid4())
        return claimed

    monkeypatch.setattr(chat_service.idempotency, "idempotency_claim", claim_then_lose_it)


KEY_1 = IdempotencyRequest("key-1", request_fingerprint(BODY))


@pytest.mark.usefixtures("taken_over_after_claiming")
def test_a_slow_request_whose_key_was_taken_over_refunds_its_charge(user):
    with pytest.raises(IdempotencyKeyInProgress):
        chat_send(user=user, message="Hello", idempotency_key=KEY_1)

    user.refresh_from_db()
    assert user.tokens == 4000
    assert refunds(user) == charges(user) == 1
    assert not Exchange.objects.exists()
    assert IdempotencyKey.objects.get(key="key-1").result is None  # the retry's
    assert_ledger_matches_balance(user)


@pytest.mark.usefixtures("taken_over_after_claiming")
def test_a_failing_request_does_not_release_a_key_it_no_longer_holds(user):
    with pytest.raises(ConversationNotFound):
        chat_send(user=user, message="Hello", conversation_id=uuid.uuid4(), idempotency_key=KEY_1)

    assert IdempotencyKey.objects.filter(key="key-1").exists()


def test_a_replay_has_the_same_bytes(auth_client):
    first = chat(auth_client, "key-1")
    retry = chat(auth_client, "key-1")

    assert retry.content == first.content
