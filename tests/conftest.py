from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from conversations.providers import get_provider
from tests.factories import UserFactory
from tests.fake_openai import FakeOpenAI
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


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A real OpenAI-compatible server on 127.0.0.1, answering at once."""
    server = FakeOpenAI().start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def openai_provider(settings: Any, fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """AI_PROVIDER=openai, talking to `fake_openai` through the real SDK."""
    settings.AI_PROVIDER = "openai"
    settings.AI_BASE_URL = fake_openai.base_url
    settings.AI_API_KEY = "test-key"
    settings.AI_MODEL = "m"
    settings.AI_TIMEOUT_SECONDS = 2.0
    get_provider.cache_clear()
    yield fake_openai
    get_provider.cache_clear()
