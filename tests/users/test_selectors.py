import uuid

import pytest
from django.db.models import Model

from tests.factories import UserFactory
from users.models import User
from users.selectors import user_get_by_id

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
