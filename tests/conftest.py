from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from users.models import User
from users.tokens import SessionRefreshToken as RefreshToken


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def make_auth_client() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def auth_client(user: User, make_auth_client: Callable[[User], APIClient]) -> APIClient:
    return make_auth_client(user)
