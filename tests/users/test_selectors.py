import uuid
from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from tests.factories import UserFactory
from users.keys import key_create
from users.models import ApiKey, RevokedSession, User
from users.selectors import api_key_get_by_lookup, user_get_by_id, user_get_for_session

pytestmark = pytest.mark.django_db


def field_values(instance: Model) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_user_get_by_id_returns_what_the_orm_returns():
    user = UserFactory(is_staff=True)

    fetched = user_get_by_id(user.pk)

    expected = field_values(User.objects.get(pk=user.pk))
    assert fetched is not None
    assert field_values(fetched) == expected
    # Same types too: UUID, aware datetimes, booleans, not the raw column values.
    assert {k: type(v) for k, v in field_values(fetched).items()} == {
        k: type(v) for k, v in expected.items()
    }
    assert fetched._state.adding is False


def test_user_get_by_id_of_an_unknown_id_is_none():
    assert user_get_by_id(uuid.uuid4()) is None


def test_user_get_for_session_reads_the_user_and_whether_the_session_ended(
    django_assert_num_queries,
):
    user = UserFactory()
    live, ended = uuid.uuid4(), uuid.uuid4()
    RevokedSession.objects.create(
        sid=ended, user=user, expires_at=timezone.now() + timedelta(days=1)
    )

    with django_assert_num_queries(1):
        found = user_get_for_session(user.pk, live)
    assert found is not None
    assert field_values(found[0]) == field_values(User.objects.get(pk=user.pk))
    assert found[1] is False
    assert user_get_for_session(user.pk, ended) == (user, True)
    assert user_get_for_session(uuid.uuid4(), ended) is None


def test_api_key_get_by_lookup_returns_what_the_orm_returns():
    user = UserFactory(is_staff=True)
    created = key_create(
        user=user, name="k", daily_cap=5, expires_at=timezone.now() + timedelta(days=1)
    ).key
    ApiKey.objects.filter(pk=created.pk).update(
        spent_day=timezone.now().date(), spent_today=3, last_used_at=timezone.now()
    )

    fetched = api_key_get_by_lookup(created.lookup)

    expected = ApiKey.objects.select_related("user").get(pk=created.pk)
    assert fetched is not None
    for got, want in ((fetched, expected), (fetched.user, expected.user)):
        assert field_values(got) == field_values(want)
        assert {k: type(v) for k, v in field_values(got).items()} == {
            k: type(v) for k, v in field_values(want).items()
        }
        assert got._state.adding is False
    assert fetched.user_id == user.pk


def test_api_key_get_by_lookup_of_an_unknown_lookup_is_none():
    assert api_key_get_by_lookup("nosuchlookup") is None
