"""Exit 0 when a PostgreSQL server answers at the URL given, 1 otherwise.

Used by `make test` to decide whether to run the PostgreSQL leg.
"""

import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg


def main(url: str) -> int:
    # The server, not the named database: pytest-django creates its own.
    server = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.Error:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
