"""WSGI entry point, for a WSGI server where an ASGI one is not an option
(docs/deployment.md); `make serve` runs config/asgi.py."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
# Every view is imported now, once (in gunicorn's master with --preload),
# rather than by each worker's first request, as config/asgi.py does.
get_resolver().url_patterns  # noqa: B018 (a cached property: loads the URLconf)
