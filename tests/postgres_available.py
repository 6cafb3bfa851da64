"""Exit 0 when a PostgreSQL server answers at the URL given, 1 otherwise.

Used by `make test` to decide whether to run the PostgreSQL leg, and by
tests that need the server itself (`server_url`, `answers`).
"""

import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg


def server_url(url: str) -> str:
    """The server's own `postgres` database at `url`, not the one it names:
    pytest-django creates its own."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def answers(url: str) -> bool:
    try:
        psycopg.connect(server_url(url), connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def main(url: str) -> int:
    return 0 if answers(url) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
