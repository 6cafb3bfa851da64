"""Fixtures of the accounts API tests."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from users.models import User


@pytest.fixture
def api_client(api_client: APIClient) -> APIClient:
    # Every request of this API is JSON.
    api_client.default_format = "json"
    return api_client


@pytest.fixture
def edward(db: None) -> User:
    return UserFactory.create(username="Edward")
