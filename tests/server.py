"""The app in real processes, for tests that need them: `manage.py` commands,
and the app under a real multi-process HTTP server.

The server runs with a database of its own, on the engine the suite runs on
(a fresh SQLite file, or a new database on the same PostgreSQL server), so
the test talks to it only over HTTP, like a client would.
"""

import atexit
import functools
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
BOOT_TIMEOUT_SECONDS = 60
REDIS_SERVER = shutil.which("redis-server") or "redis-server"


@dataclass(frozen=True)
class HTTPResult:
    status: int
    body: Any
    # Case-insensitive, as HTTP header names are (uvicorn sends them lower-case).
    headers: Message


@dataclass(frozen=True)
class LiveServer:
    url: str
    # The server's own database, for checks after the fact.
    database_url: str = ""
    # gunicorn's master process.
    pid: int = 0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResult:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (always our loopback URL)
            self.url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                body = _json_or_none(response.read())
                return HTTPResult(response.status, body, response.headers)
        except urllib.error.HTTPError as error:
            return HTTPResult(error.code, _json_or_none(error.read()), error.headers)

    def login(self, username: str, password: str) -> str:
        self.request("POST", "/api/v1/auth/register/", {"username": username, "password": password})
        result = self.request(
            "POST", "/api/v1/auth/login/", {"username": username, "password": password}
        )
        assert result.status == 200, result
        return str(result.body["access"])

    def all_pages(self, path: str, token: str) -> list[dict[str, Any]]:
        """Every result of a cursor-paginated list, page by page."""
        results: list[dict[str, Any]] = []
        url: str | None = f"{path}?page_size=100"
        while url:
            page = self.request("GET", url, token=token).body
            results.extend(page["results"])
            url = page["next"] and page["next"].removeprefix(self.url)
        return results


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `manage.py` with the real settings and `env`, without the test secrets."""
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# Load tests send far more than a person would; a test of the limits sets its own.
UNTHROTTLED = {
    f"THROTTLE_{scope}": "1000000/s" for scope in ("LOGIN_IP", "LOGIN_USERNAME", "REGISTER", "CHAT")
}


def server_env(*, database_url: str, port: int, static_root: Path, **env: str) -> dict[str, str]:
    """The environment of the app in production mode on 127.0.0.1:`port`."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "live-server-test-secret-key-not-for-deployment",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(static_root),
        "BIND": f"127.0.0.1:{port}",
        **UNTHROTTLED,
        **env,
    }


def _json_or_none(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


def redis_is_up() -> bool:
    """Whether the Redis the Redis tests use answers at 127.0.0.1:6379."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


class RedisServer:
    """A redis-server of a test's own on a loopback port (not the shared one at
    6379), which the test may stop and start again; nothing is saved to disk."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server_database(tmp_path: Path) -> Iterator[str]:
    """A new database for the server, migrated and with the cache table (as
    `make serve` leaves it), copied from a template; yields its URL."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        path = tmp_path / "live.sqlite3"
        # The backup API copies a database in WAL mode whole, -wal file or not.
        with (
            closing(sqlite3.connect(_sqlite_template())) as template,
            closing(sqlite3.connect(path)) as copy,
        ):
            template.backup(copy)
        yield f"sqlite:///{path}"
        return
    name = f"live_{os.getpid()}_{time.monotonic_ns()}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template()}"')
    try:
        yield _postgres_url(name)
    finally:
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Migrating a new database takes seconds (two processes that each load
# Django): each test process does it once, into a template every live server
# then copies.


@functools.cache
def _sqlite_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="live-template-")) / "template.sqlite3"
    _migrate(f"sqlite:///{path}")
    atexit.register(shutil.rmtree, path.parent, ignore_errors=True)
    return path


@functools.cache
def _postgres_template() -> str:
    name = f"live_template_{os.getpid()}"
    with _postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_postgres_drop, name)
    _migrate(_postgres_url(name))
    return name


def _postgres_drop(name: str) -> None:
    with _postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(database_url: str) -> None:
    environment = server_env(database_url=database_url, port=0, static_root=Path(os.devnull))
    for command in (["migrate", "--no-input"], ["createcachetable"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v0"], cwd=ROOT, env=environment, check=True
        )


def _postgres_server() -> dict[str, Any]:
    database = settings.DATABASES["default"]
    return {
        "host": database["HOST"] or "127.0.0.1",
        "port": database["PORT"] or 5432,
        "user": database["USER"],
        "password": database["PASSWORD"] or None,
    }


def _postgres_admin() -> psycopg.Connection[Any]:
    # CREATE/DROP DATABASE cannot run in a transaction: its own connection.
    return psycopg.connect(dbname="postgres", autocommit=True, **_postgres_server())


def _postgres_url(name: str) -> str:
    server = _postgres_server()
    password = f":{server['password']}" if server["password"] else ""
    return f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}"


@contextmanager
def live_server(
    tmp_path: Path,
    *,
    workers: int = 2,
    threads: int = 8,
    env: dict[str, str] | None = None,
    collect_static: bool = False,
) -> Iterator[LiveServer]:
    """Serve the app with gunicorn on a new, migrated database.

    `collect_static` runs collectstatic first, as a deployment must, for
    tests that load pages with their static files.
    """
    with _server_database(tmp_path) as database_url:
        yield from _serve(tmp_path, database_url, workers, threads, env or {}, collect_static)


def _serve(
    tmp_path: Path,
    database_url: str,
    workers: int,
    threads: int,
    env: dict[str, str],
    collect_static: bool,
) -> Iterator[LiveServer]:
    port = free_port()
    environment = server_env(
        database_url=database_url,
        port=port,
        static_root=tmp_path / "static",
        WEB_CONCURRENCY=str(workers),
        SYNC_THREADS=str(threads),
        ACCESS_LOG="",
        **env,
    )
    python = sys.executable
    if collect_static:
        subprocess.run(
            [python, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env=environment,
            check=True,
        )
    log = (tmp_path / "server.log").open("wb")
    # The same server and configuration as `make serve`.
    process = subprocess.Popen(
        [python, "-m", "gunicorn", "--config", "config/gunicorn.py"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(url=f"http://127.0.0.1:{port}", database_url=database_url, pid=process.pid)
    try:
        wait_until_healthy(server, process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=90)
        log.close()


def wait_until_healthy(server: LiveServer, process: subprocess.Popen[Any]) -> None:
    """Wait for /healthz/; fail at once if the server process exits."""
    deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited with {process.returncode} before answering")
        try:
            if server.request("GET", "/healthz/").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("The server did not answer /healthz/ in time")
