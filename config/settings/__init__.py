"""Settings, read from the environment (and an optional `.env` file).

One module per subject; this package gathers them, so DJANGO_SETTINGS_MODULE
stays `config.settings` and `from config.settings import *` still works:

    environment  the environment reader, DEBUG, and the start-up refusal
    core         secrets, hosts, apps, middleware, templates, static files
    security     HTTPS, cookies, browser clients (CORS), password hashing
    database     the database and its connections; the cache
    api          REST framework, rate limits, error format, JWT, OpenAPI
    product      the signup grant, a message's cost, the AI, idempotent retries
    observability  logs, metrics, error reports (Sentry)

Every setting an operator may change is listed in docs/settings.md, and
tests/config/test_settings_reference.py fails when the two disagree.
Development needs none: `make run` sets DEBUG=1, which allows the built-in
development secret and local host names. With DEBUG off, the app refuses to
start until SECRET_KEY and ALLOWED_HOSTS are given.
"""

# In this order, not alphabetical: with several mistakes the first refusal
# an operator sees is the most basic one (the secret, then the hosts).
# isort: off
from config.settings.environment import *  # noqa: F403
from config.settings.core import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.api import *  # noqa: F403
from config.settings.product import *  # noqa: F403
from config.settings.observability import *  # noqa: F403
