"""api/rate_windows.py: counts in a fixed window, on each store the cache may be."""

import os
import time
import uuid

import pytest
import redis

from api.models import RateWindow
from api.rate_windows import window_hit, window_resets_in
from tests.server import redis_is_up

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/8"
STORES = {
    "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "unused"},
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
}


@pytest.fixture(params=list(STORES))
def store(request, settings):
    if request.param == "redis":
        # As the `redis` marker does (tests/conftest.py), for one parameter.
        if not redis_is_up():
            if os.environ.get("CI") == "true":
                pytest.fail("no Redis at 127.0.0.1:6379, and CI=true needs it")
            pytest.skip("no Redis at 127.0.0.1:6379")
        redis.Redis.from_url(REDIS_URL).flushdb()
    settings.CACHES = {"default": STORES[request.param]}
    return request.param


def test_each_hit_gets_the_next_count(store):
    bucket = f"rate:test:{uuid.uuid4().hex}"

    counts = [window_hit(bucket, 60) for _ in range(5)]

    assert counts == [1, 2, 3, 4, 5]
    assert window_hit(f"rate:test:{uuid.uuid4().hex}", 60) == 1


def test_the_window_says_when_it_ends(store):
    bucket = f"rate:test:{uuid.uuid4().hex}"
    window_hit(bucket, 60)

    assert 55 < window_resets_in(bucket, 60) <= 60
    # A bucket never counted: a whole period, the most a client could wait.
    assert window_resets_in(f"rate:test:{uuid.uuid4().hex}", 60) == 60


def test_the_count_starts_again_when_the_window_ends(store):
    bucket = f"rate:test:{uuid.uuid4().hex}"
    assert [window_hit(bucket, 1) for _ in range(3)] == [1, 2, 3]

    time.sleep(1.1)

    assert window_hit(bucket, 1) == 1


def test_the_database_counts_in_its_table(settings):
    settings.CACHES = {"default": STORES["database"]}
    bucket = f"rate:test:{uuid.uuid4().hex}"

    window_hit(bucket, 60)
    window_hit(bucket, 60)

    row = RateWindow.objects.get(bucket=bucket)
    assert row.count == 2
    assert time.time() + 55 < row.expires_at <= time.time() + 60
