"""`make bench`: load-test `make serve` beside the bare reference app, then report.

For each database (SQLite, and PostgreSQL when a server answers), it starts
our app under gunicorn with the configuration `make serve` uses, and
../shared/bench/limit_app.py (the same work with no framework) under the same
gunicorn settings; drives both with wrk at 16 and 64 connections; checks the
billing; measures a history page at 1,000 and 1,000,000 stored exchanges;
holds 500 chats at once against an OpenAI-compatible server that takes 2 s
per reply (tests/fake_openai.py), under `make serve`'s own worker and thread
counts; and writes docs/benchmarks.md with a chart.

usage: python -m bench.run [--seconds 10] [--workers 2] [--threads 1]
"""

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from tests.server import UNTHROTTLED

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = (ROOT.parent / "shared" / "bench").resolve()
LUA = Path(__file__).with_name("load.lua")
DOCS = ROOT / "docs"
USERS = 300
BALANCE = 1_000_000_000
COST = 100
CONCURRENCY = (16, 64)
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/chat_api")
SECRET = "bench-only-secret-key-not-for-any-deployment-0123456789"
BENCH_DB = "bench_chat_api"
CHAT_BODY = '{"message": "How fast is this?"}'
# The target is at 500; the smaller counts show where the time starts to grow.
SLOW_CONNECTIONS = (100, 250, 500)
SLOW_REPLY_SECONDS = 2.0


@dataclass
class Run:
    database: str
    app: str  # "ours" or "bare"
    endpoint: str
    connections: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    warmup_requests: int  # answered during the warm-up, not measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads, both apps")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    if not (SHARED_BENCH / "limit_app.py").exists():
        sys.exit(f"The reference app is missing: {SHARED_BENCH}/limit_app.py")

    databases = ["sqlite"] + (["postgres"] if _postgres_up() else [])
    if "postgres" not in databases:
        print(f"*** PostgreSQL leg SKIPPED: no server at {POSTGRES_URL}")
    runs: list[Run] = []
    history: dict[str, dict[int, Run]] = {}
    slow: dict[str, list[Run]] = {}
    billing: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        for database in databases:
            print(f"=== {database}")
            result = bench_database(database, work / database, args)
            runs += result[0]
            history[database] = result[1]
            billing[database] = result[2]
            slow[database] = result[3]
    failures = problems([*runs, *(run for some in slow.values() for run in some)], billing)
    write_report(runs, history, slow, billing, args, failures)
    print(f"Wrote {DOCS / 'benchmarks.md'}")
    if failures:
        sys.exit("Benchmark checks failed:\n- " + "\n- ".join(failures))


def bench_database(
    database: str, work: Path, args: argparse.Namespace
) -> tuple[list[Run], dict[int, Run], dict[str, Any], list[Run]]:
    work.mkdir(parents=True)
    ours_env = _ours_env(database, work)
    _django("manage.py", "migrate", "--no-input", "-v0", env=ours_env)
    tokens, history_tokens = work / "tokens", work / "history-tokens"
    print("seeding (1,000,000 stored exchanges take a while)")
    _django(
        "-m", "bench.seed", str(USERS), str(BALANCE), str(tokens), str(history_tokens),
        env=ours_env,
    )  # fmt: skip
    bare_env, bare_tokens = _bare_setup(database, work)
    runs: list[Run] = []
    ours_port, bare_port = _free_port(), _free_port()
    ours_cmd = [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"]
    server_env = {
        **ours_env,
        "BIND": f"127.0.0.1:{ours_port}",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
        "ACCESS_LOG": "",
        # wrk measures the app, not the rate limits (the chat limit is per user).
        **UNTHROTTLED,
    }
    bare_cmd = [
        sys.executable, "-m", "gunicorn", "--chdir", str(SHARED_BENCH),
        "--bind", f"127.0.0.1:{bare_port}",
        "--workers", str(args.workers), "--threads", str(args.threads),
        "limit_app:app",
    ]  # fmt: skip
    with (
        _server(ours_cmd, server_env, ours_port, "/healthz/"),
        _server(bare_cmd, bare_env, bare_port, None),
    ):
        ours = f"http://127.0.0.1:{ours_port}"
        bare = f"http://127.0.0.1:{bare_port}"
        # First, while the database holds only the seeded history.
        history = _history(database, ours, history_tokens, args.seconds)
        for connections in CONCURRENCY:
            for endpoint, method, body, bare_path in (
                ("GET /api/v1/balance/", "GET", None, "/balance"),
                ("POST /api/v1/chat/", "POST", CHAT_BODY, "/chat"),
                ("GET /api/v1/chats/", "GET", None, None),
            ):
                path = endpoint.split()[1]
                runs.append(
                    _wrk(database, "ours", endpoint, ours + path, tokens, method, body,
                         connections, args.seconds)
                )  # fmt: skip
                if bare_path:
                    runs.append(
                        _wrk(database, "bare", endpoint, bare + bare_path, bare_tokens, method,
                             body, connections, args.seconds)
                    )  # fmt: skip
    slow = _slow_chats(database, ours_env, tokens, args.seconds * 2)
    billing = json.loads(_django("-m", "bench.check", str(BALANCE), env=ours_env))
    chats = [r for r in [*runs, *slow] if r.app == "ours" and r.endpoint.startswith("POST")]
    billing["successful_chats"] = sum(r.requests + r.warmup_requests for r in chats)
    billing["in_flight_at_most"] = sum(2 * r.connections for r in chats)
    if database == "postgres":
        _drop_postgres(BENCH_DB)
        _drop_postgres("bench_limit_app")
    return runs, history, billing, slow


def _slow_chats(database: str, ours_env: dict[str, str], tokens: Path, seconds: int) -> list[Run]:
    """Up to 500 chats at once, each waiting 2 s on the model, under `make serve`'s defaults."""
    provider_port, ours_port = _free_port(), _free_port()
    provider_cmd = [
        sys.executable, "-m", "tests.fake_openai",
        "--port", str(provider_port), "--delay", str(SLOW_REPLY_SECONDS),
    ]  # fmt: skip
    server_env = {
        key: value
        for key, value in ours_env.items()
        if key not in {"WEB_CONCURRENCY", "GUNICORN_THREADS"}
    }
    server_env |= {
        "BIND": f"127.0.0.1:{ours_port}",
        "ACCESS_LOG": "",
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": f"http://127.0.0.1:{provider_port}/v1",
        "AI_API_KEY": "bench",
        "AI_MODEL": "bench",
    }
    ours_cmd = [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"]
    with (
        _server(provider_cmd, ours_env, provider_port, None),
        _server(ours_cmd, server_env, ours_port, "/healthz/"),
    ):
        url = f"http://127.0.0.1:{ours_port}/api/v1/chat/"
        endpoint = "POST /api/v1/chat/ (AI takes 2 s)"
        return [
            _wrk(
                database,
                "ours",
                endpoint,
                url,
                tokens,
                "POST",
                CHAT_BODY,
                connections,
                seconds,
                timeout_seconds=30,
            )
            for connections in SLOW_CONNECTIONS
        ]


def _history(database: str, base: str, tokens_file: Path, seconds: int) -> dict[int, Run]:
    """The first page of /chats/ for a user with 1,000 and one with 1,000,000 exchanges."""
    results = {}
    lines = tokens_file.read_text().split()
    for size, token in zip((1_000, 1_000_000), lines, strict=True):
        single = tokens_file.with_name(f"history-{size}")
        single.write_text(token + "\n")
        results[size] = _wrk(
            database, "ours", f"history {size:,}", base + "/api/v1/chats/", single, "GET",
            None, 16, seconds,
        )  # fmt: skip
    return results


def _wrk(
    database: str,
    app: str,
    endpoint: str,
    url: str,
    tokens: Path,
    method: str,
    body: str | None,
    connections: int,
    seconds: int,
    timeout_seconds: int = 2,
) -> Run:
    env = {**os.environ, "TOKENS": str(tokens), "METHOD": method, "BODY": body or ""}
    if not body:
        env.pop("BODY")
    command = [
        "wrk", "-t2", f"-c{connections}", f"--timeout={timeout_seconds}s", "--latency",
        "-s", str(LUA), url,
    ]  # fmt: skip
    # A short warm-up first: imports, connections and caches settle.
    warmup = _result([*command[:-1], "-d2s", url], env)
    data = _result([*command[:-1], f"-d{seconds}s", url], env)
    run = Run(
        database=database,
        app=app,
        endpoint=endpoint,
        connections=connections,
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        non_2xx=data["non_2xx"] + warmup["non_2xx"],
        socket_errors=data["socket_errors"] + warmup["socket_errors"],
        warmup_requests=warmup["requests"],
    )
    print(
        f"{database:8} {app:4} {endpoint:24} c={connections:<3} {run.rps:8.0f} req/s"
        f"  p50 {run.p50_ms:6.1f}  p95 {run.p95_ms:6.1f}  p99 {run.p99_ms:6.1f} ms"
        f"  non-2xx {run.non_2xx}"
    )
    return run


def _result(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run wrk; the RESULT line load.lua prints, as a dict."""
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line.removeprefix("RESULT ")))


def problems(runs: list[Run], billing: dict[str, dict[str, Any]]) -> list[str]:
    """What makes a run invalid: errors, or billing that does not add up."""
    found = [
        f"{r.database} {r.app} {r.endpoint} c={r.connections}: "
        f"{r.non_2xx} non-2xx, {r.socket_errors} socket errors"
        for r in runs
        if r.non_2xx or r.socket_errors
    ]
    for database, b in billing.items():
        if not (b["tokens_charged"] == b["tokens_spent"] == COST * b["exchanges"]):
            found.append(f"{database}: billing mismatch {b}")
        # wrk counts the 201s it read; requests in flight when a run's time is
        # up (at most one per connection) were answered and charged unread.
        if not 0 <= b["exchanges"] - b["successful_chats"] <= b["in_flight_at_most"]:
            found.append(f"{database}: charges and answered chats disagree {b}")
        if b["charges"] != b["exchanges"] or not b["ledgers_match"]:
            found.append(f"{database}: ledger mismatch {b}")
    return found


# --- Servers and databases ---------------------------------------------------


def _ours_env(database: str, work: Path) -> dict[str, str]:
    url = f"sqlite:///{work / 'ours.sqlite3'}"
    if database == "postgres":
        name = BENCH_DB
        _drop_postgres(name)
        _postgres_admin(f'CREATE DATABASE "{name}"')
        url = _postgres_url(name)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": url,
        "JWT_ACCESS_LIFETIME_SECONDS": "86400",
        "CHAT_MESSAGE_COST": str(COST),
        "PYTHONPATH": str(ROOT),
    }


def _bare_setup(database: str, work: Path) -> tuple[dict[str, str], Path]:
    env = {**os.environ, "LIMIT_DB": database, "LIMIT_SQLITE_PATH": str(work / "bare.sqlite3")}
    if database == "postgres":
        _drop_postgres("bench_limit_app")
        _postgres_admin('CREATE DATABASE "bench_limit_app"')
        env["LIMIT_PG_DSN"] = _postgres_url("bench_limit_app")
    tokens = work / "bare-tokens"
    subprocess.run(
        [sys.executable, "limit_setup.py", str(USERS), str(BALANCE), str(tokens)],
        cwd=SHARED_BENCH, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return env, tokens


class _server:
    def __init__(self, command: list[str], env: dict[str, str], port: int, health: str | None):
        self.command, self.env, self.port, self.health = command, env, port, health

    def __enter__(self) -> None:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.health:
                    url = f"http://127.0.0.1:{self.port}{self.health}"
                    urllib.request.urlopen(url, timeout=2).close()
                else:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.command} did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _django(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    ).stdout


def _postgres_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def _postgres_admin(sql: str) -> None:
    with psycopg.connect(_postgres_url("postgres"), autocommit=True) as connection:
        connection.execute(sql.encode())


def _drop_postgres(name: str) -> None:
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_up() -> bool:
    try:
        psycopg.connect(_postgres_url("postgres"), connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- The report ---------------------------------------------------------------


def write_report(
    runs: list[Run],
    history: dict[str, dict[int, Run]],
    slow: dict[str, list[Run]],
    billing: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    failures: list[str],
) -> None:
    from bench.report import render

    DOCS.mkdir(exist_ok=True)
    chart = DOCS / "benchmarks.png"
    text = render(
        runs=runs,
        history=history,
        slow=slow,
        slow_reply_ms=SLOW_REPLY_SECONDS * 1000,
        billing=billing,
        failures=failures,
        chart=chart,
        setup={
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}",
            "server": f"gunicorn, {args.workers} workers x {args.threads} threads, "
            "access log off, both apps",
            "load": f"wrk, 2 threads, {args.seconds} s per measurement after a 2 s warm-up, "
            "on the same machine",
        },
    )
    (DOCS / "benchmarks.md").write_text(text)


if __name__ == "__main__":
    main()
