"""GET /api/v1/users/: every account, newest first, for staff only."""

from http import HTTPStatus

import pytest

from tests.assertions import only_error
from tests.factories import UserFactory
from tests.users.views.accounts import USERS_URL
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(make_auth_client):
    return make_auth_client(UserFactory(username="staff", is_staff=True))


def test_staff_list_every_user_newest_first(staff_client):
    users = [UserFactory() for _ in range(3)]

    response = staff_client.get(USERS_URL)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"next", "previous", "next_cursor", "previous_cursor", "results"}
    assert body["next"] is None
    assert body["previous"] is None
    staff = User.objects.get(username="staff")
    assert [row["id"] for row in body["results"]] == [str(u.pk) for u in [*reversed(users), staff]]
    newest = users[-1]
    assert body["results"][0] == {
        "id": str(newest.pk),
        "username": newest.username,
        "tokens": 4000,
        "date_joined": body["results"][0]["date_joined"],
    }
    assert body["results"][0]["date_joined"].endswith("Z")


def test_users_list_pages_with_a_cursor(staff_client):
    users = [UserFactory() for _ in range(3)]

    first = staff_client.get(USERS_URL, {"page_size": 2}).json()
    second = staff_client.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [str(users[2].pk), str(users[1].pk)]
    assert first["previous"] is None
    staff = User.objects.get(username="staff")
    assert [row["id"] for row in second["results"]] == [str(users[0].pk), str(staff.pk)]
    assert second["next"] is None
    assert second["previous"] is not None


def test_users_list_is_staff_only(auth_client):
    response = auth_client.get(USERS_URL)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert only_error(response)["code"] == "permission_denied"


def test_users_list_needs_authentication(api_client):
    response = api_client.get(USERS_URL)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert only_error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("page_size", [1, 50])
def test_users_list_runs_the_same_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    UserFactory.create_batch(60)

    # One to authenticate the caller, one for the page.
    with django_assert_num_queries(2):
        response = staff_client.get(USERS_URL, {"page_size": page_size})

    assert response.status_code == HTTPStatus.OK
    assert len(response.json()["results"]) == page_size
