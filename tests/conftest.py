import gc
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from conversations.providers import get_provider
from tests.chromium import CHROMIUM
from tests.factories import UserFactory
from tests.fake_openai import FakeOpenAI
from tests.server import free_port, redis_is_up
from users.models import User
from users.tokens import SessionRefreshToken as RefreshToken

# Under CI=true (.ci/run sets it) a test whose service is missing fails
# instead of skipping: CI must not pass a change that never ran against it.
CI = os.environ.get("CI") == "true"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="Fail the run if any test skipped (a leg that exists to run them: make test-browser)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `redis` skip without the Redis, and those marked `browser`
    without Chromium; under CI=true both fail instead."""
    if CI and item.get_closest_marker("browser") and CHROMIUM is None:
        pytest.fail("Chromium is not installed, and CI=true needs it", pytrace=False)
    if item.get_closest_marker("redis") and not redis_is_up():
        reason = "no Redis at 127.0.0.1:6379 (.ci/run starts one)"
        if CI:
            pytest.fail(f"{reason}, and CI=true needs it", pytrace=False)
        pytest.skip(reason)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With --no-skips, a run that skipped anything fails (the skips stay listed)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not session.config.getoption("no_skips") or reporter is None:
        return
    skipped = len(reporter.stats.get("skipped", []))
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"{skipped} test(s) skipped, and --no-skips makes that a failure")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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


@pytest.fixture
def collector_at_defaults() -> Iterator[None]:
    """Python's garbage collector as a new process has it (nothing frozen,
    thresholds 700, 10, 10) for a test that sets it for serving
    (api.collector), and as it was after it."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.fixture
def cache_down(settings: Any) -> None:
    """The cache is a Redis nobody answers at: every call fails at once, as
    when Redis is stopped (tests/config/test_redis_outage.py stops a real one)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }


@pytest.fixture
def rates(settings: Any) -> Iterator[Callable[..., None]]:
    """Set some throttle scopes' rates; the others stay unlimited. Starts from an
    empty cache, and leaves one."""
    cache.clear()

    def set_rates(**rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                scope: rates.get(scope, UNLIMITED)
                for scope in ("login_ip", "login_username", "register", "chat")
            },
        }

    yield set_rates
    cache.clear()


UNLIMITED = "1000000/s"
