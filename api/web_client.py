"""The web client's files (web/), which WhiteNoise serves at the site's root.

Static files under STATIC_URL have hashed names and are cached for ever; the
client's files keep their names (its ES modules import each other by name, and
there is no build step to hash them), so a browser must ask again each time
(a 304 when nothing changed). Otherwise, for a minute after a deploy, a page
could run new modules beside old ones.
"""

from collections.abc import MutableMapping

STATIC_PREFIX = "/static/"


def web_client_headers(headers: MutableMapping[str, str], path: str, url: str) -> None:
    """WHITENOISE_ADD_HEADERS_FUNCTION: `no-cache` for the client's files."""
    if not url.startswith(STATIC_PREFIX):
        headers["Cache-Control"] = "no-cache"
