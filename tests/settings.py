"""Settings for the test run: the real settings, with test-only secrets.

The environment still decides the database, so DATABASE_URL=postgres://...
runs the same suite on PostgreSQL.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-any-deployment")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from config.settings import *  # noqa: F403

# Hashing at full strength would dominate the run; tests need no strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Pages render without a collectstatic run (the browser test does run one).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the apps, as in development.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# The test client and the live test servers speak plain HTTP.
SECURE_SSL_REDIRECT = False

# The throttles run in every test but never trip: tests share one cache, and
# a limit reached by one test must not fail another. The throttle tests set
# their own rates (tests/config/test_throttling.py).
THROTTLE_RATES = dict.fromkeys(THROTTLE_RATES, "1000000/s")  # noqa: F405
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": THROTTLE_RATES}  # noqa: F405

# The in-process tests share one process, and reset the cache with
# cache.clear(): its memory, as `make run` has it. The database and Redis
# caches are tested on their own (tests/config/test_cache.py) and under the
# real servers of tests/server.py.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
