"""The wrk scenarios of `make bench`: our app beside the bare reference app
(../shared/bench/limit_app.py) and beside itself as it was served before
ASGI (gunicorn's gthread worker), all three under the same worker and thread
counts; the history page at 1,000 and 1,000,000 stored exchanges; and many
slow chats at once."""

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.processes import (
    BALANCE,
    SERVE,
    SHARED_BENCH,
    USERS,
    Server,
    drop_postgres,
    free_port,
    json_result,
    postgres_admin,
    postgres_url,
)
from tests.server import UNTHROTTLED

LUA = Path(__file__).with_name("load.lua")
CONCURRENCY = (16, 64)
CHAT_BODY = '{"message": "How fast is this?"}'
# The target is at 500; the smaller counts show where the time starts to grow.
SLOW_CONNECTIONS = (100, 250, 500)
SLOW_REPLY_SECONDS = 2.0
# The bare app's database on PostgreSQL (bare_setup makes it anew).
BARE_DATABASE = "bench_limit_app"


@dataclass
class Run:
    database: str
    app: str  # "ours", "gthread" (ours before ASGI) or "bare"
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


def throughput(
    database: str,
    work: Path,
    ours_env: dict[str, str],
    tokens: Path,
    history_tokens: Path,
    args: argparse.Namespace,
) -> tuple[list[Run], dict[int, Run]]:
    """wrk against our app and the bare reference app, and the history page."""
    bare_env, bare_tokens = bare_setup(database, work)
    runs: list[Run] = []
    ours_port, bare_port, gthread_port = free_port(), free_port(), free_port()
    ours_cmd = [sys.executable, *SERVE]
    server_env = {
        **ours_env,
        "BIND": f"127.0.0.1:{ours_port}",
        "WEB_CONCURRENCY": str(args.workers),
        "SYNC_THREADS": str(args.threads),
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
    gthread_cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "-k", "gthread",
        "--bind", f"127.0.0.1:{gthread_port}",
        "--workers", str(args.workers), "--threads", str(args.threads),
    ]  # fmt: skip
    with (
        Server(ours_cmd, server_env, ours_port, "/healthz/"),
        Server(bare_cmd, bare_env, bare_port, None),
        Server(gthread_cmd, server_env, gthread_port, "/healthz/"),
    ):
        ours = f"http://127.0.0.1:{ours_port}"
        bare = f"http://127.0.0.1:{bare_port}"
        gthread = f"http://127.0.0.1:{gthread_port}"
        # First, while the database holds only the seeded history.
        history = _history(database, ours, history_tokens, args.seconds)
        for connections in CONCURRENCY:
            for endpoint, method, body, bare_path in (
                ("GET /api/v1/balance/", "GET", None, "/balance"),
                ("POST /api/v1/chat/", "POST", CHAT_BODY, "/chat"),
                ("GET /api/v1/chats/", "GET", None, None),
            ):
                path = endpoint.split()[1]
                for app, base in (("ours", ours), ("gthread", gthread)):
                    runs.append(
                        _wrk(database, app, endpoint, base + path, tokens, method, body,
                             connections, args.seconds)
                    )  # fmt: skip
                if bare_path:
                    runs.append(
                        _wrk(database, "bare", endpoint, bare + bare_path, bare_tokens, method,
                             body, connections, args.seconds)
                    )  # fmt: skip
    return runs, history


def slow_chats(database: str, ours_env: dict[str, str], tokens: Path, seconds: int) -> list[Run]:
    """Up to 500 chats at once, each waiting 2 s on the model, under `make serve`'s defaults."""
    provider_port, ours_port = free_port(), free_port()
    provider_cmd = [
        sys.executable, "-m", "tests.fake_openai",
        "--port", str(provider_port), "--delay", str(SLOW_REPLY_SECONDS),
    ]  # fmt: skip
    server_env = {
        key: value
        for key, value in ours_env.items()
        if key not in {"WEB_CONCURRENCY", "SYNC_THREADS"}
    }
    server_env |= {
        "BIND": f"127.0.0.1:{ours_port}",
        "ACCESS_LOG": "",
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": f"http://127.0.0.1:{provider_port}/v1",
        "AI_API_KEY": "bench",
        "AI_MODEL": "bench",
    }
    ours_cmd = [sys.executable, *SERVE]
    with (
        Server(provider_cmd, ours_env, provider_port, None),
        Server(ours_cmd, server_env, ours_port, "/healthz/"),
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
    warmup = json_result([*command[:-1], "-d2s", url], env)
    data = json_result([*command[:-1], f"-d{seconds}s", url], env)
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
        f"{database:8} {app:7} {endpoint:24} c={connections:<3} {run.rps:8.0f} req/s"
        f"  p50 {run.p50_ms:6.1f}  p95 {run.p95_ms:6.1f}  p99 {run.p99_ms:6.1f} ms"
        f"  non-2xx {run.non_2xx}"
    )
    return run


def bare_setup(database: str, work: Path) -> tuple[dict[str, str], Path]:
    """The bare app's database, made anew by its limit_setup.py with USERS
    users of BALANCE tokens: the environment that points the app at it, and
    the file of the users' tokens."""
    env = {**os.environ, "LIMIT_DB": database, "LIMIT_SQLITE_PATH": str(work / "bare.sqlite3")}
    if database == "postgres":
        drop_postgres(BARE_DATABASE)
        postgres_admin(f'CREATE DATABASE "{BARE_DATABASE}"')
        env["LIMIT_PG_DSN"] = postgres_url(BARE_DATABASE)
    tokens = work / "bare-tokens"
    subprocess.run(
        [sys.executable, "limit_setup.py", str(USERS), str(BALANCE), str(tokens)],
        cwd=SHARED_BENCH, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return env, tokens
