"""REDIS_URL makes the cache one Redis shared by every server process."""

import uuid

import pytest

from tests.server import manage

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.redis
def test_processes_share_the_redis_cache():
    key = f"test-{uuid.uuid4()}"
    env = {"DEBUG": "1", "REDIS_URL": REDIS_URL}
    write = (
        "from django.core.cache import cache, caches\n"
        f"cache.set('{key}', 'written by another process', 60)\n"
        "print(type(caches['default']).__name__)\n"
    )
    read = (
        f"from django.core.cache import cache\nprint(cache.get('{key}'))\ncache.delete('{key}')\n"
    )

    first = manage("shell", "-v0", "-c", write, env=env)
    second = manage("shell", "-v0", "-c", read, env=env)

    assert first.stdout.strip() == "RedisCache", first.stderr
    assert second.stdout.strip() == "written by another process", second.stderr


def test_in_development_without_redis_each_process_has_its_own_cache():
    probe = "from django.core.cache import caches\nprint(type(caches['default']).__name__)\n"

    result = manage("shell", "-v0", "-c", probe, env={"DEBUG": "1", "REDIS_URL": ""})

    assert result.stdout.strip() == "LocMemCache", result.stderr


def test_in_production_without_redis_processes_share_the_database_cache(tmp_path):
    """DEBUG off and no REDIS_URL (`make serve`): a table every process shares,
    never a per-process memory, so the limits hold across processes."""
    env = {
        "DEBUG": "0",
        "SECRET_KEY": "test-secret-key-for-the-database-cache-test",
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    created = manage("createcachetable", env=env)
    write = (
        "from django.core.cache import cache, caches\n"
        "cache.set('shared', 'written by another process', 60)\n"
        "print(type(caches['default']).__name__)\n"
    )

    first = manage("shell", "-v0", "-c", write, env=env)
    second = manage(
        "shell",
        "-v0",
        "-c",
        "from django.core.cache import cache\nprint(cache.get('shared'))",
        env=env,
    )

    assert created.returncode == 0, created.stderr
    assert first.stdout.strip() == "DatabaseCache", first.stderr
    assert second.stdout.strip() == "written by another process", second.stderr
