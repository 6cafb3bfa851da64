"""`make bench`: load-test `make serve` beside the reference apps, then report.

For each database (SQLite, and PostgreSQL when a server answers), it runs
three scenarios, then checks the billing:

- wrk: our app under gunicorn with the configuration `make serve` uses, and
  ../shared/bench/limit_app.py (the same work with no framework) under the
  same gunicorn settings, driven by wrk at 16 and 64 connections; and a
  history page at 1,000 and 1,000,000 stored exchanges.
- slow: 500 chats at once against an OpenAI-compatible server that takes 2 s
  per reply (tests/fake_openai.py), under `make serve`'s own defaults.
- streams: held streams. Clients loop streamed chats (bench/streams.py)
  against a model that streams 20 pieces over 20 s, at 500, 1,200 and 3,000
  clients at once: our app under `make serve`'s defaults, and as it was
  served before ASGI (gunicorn gthread, 5 workers x 128 threads); and, once
  per client count (it has no database), the floor:
  ../shared/bench/limit_streams.py under uvicorn, 2 workers.

Then it writes docs/benchmarks.md, with a chart when wrk ran. A missed target
of issue 11 (held streams) is written in the report; errors in the wrk runs,
and billing that does not add up, also fail the run.

usage: python -m bench.run [--seconds 10] [--workers 2] [--threads 1]
           [--only wrk,slow,streams] [--stream-clients 500,1200,3000] [--stream-seconds 60]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.held_streams import (
    STREAM_CLIENTS,
    STREAM_PIECE_SECONDS,
    STREAM_PIECES,
    StreamRun,
    floor_streams,
    held_streams,
)
from bench.processes import (
    BALANCE,
    POSTGRES_URL,
    ROOT,
    SERVE,
    SHARED_BENCH,
    Server,
    drop_postgres,
    free_port,
    json_result,
    postgres_admin,
    postgres_up,
    postgres_url,
    run_python,
)
from bench.report import stream_targets
from tests.server import UNTHROTTLED

LUA = Path(__file__).with_name("load.lua")
DOCS = ROOT / "docs"
USERS = 300
COST = 100
CONCURRENCY = (16, 64)
SECRET = "bench-only-secret-key-not-for-any-deployment-0123456789"
BENCH_DB = "bench_chat_api"
CHAT_BODY = '{"message": "How fast is this?"}'
# The target is at 500; the smaller counts show where the time starts to grow.
SLOW_CONNECTIONS = (100, 250, 500)
SLOW_REPLY_SECONDS = 2.0
SCENARIOS = ("wrk", "slow", "streams")


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


@dataclass
class DatabaseResult:
    runs: list[Run] = field(default_factory=list)
    history: dict[int, Run] = field(default_factory=dict)
    slow: list[Run] = field(default_factory=list)
    streams: list[StreamRun] = field(default_factory=list)
    billing: dict[str, Any] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads a process: the bare app's gunicorn; ours: SYNC_THREADS",
    )
    parser.add_argument(
        "--only",
        type=_scenarios,
        default=SCENARIOS,
        help=f"scenarios to run, comma-separated, of {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--stream-clients",
        type=_counts,
        default=STREAM_CLIENTS,
        help="held streams: clients at once, comma-separated (default: 500,1200,3000)",
    )
    parser.add_argument(
        "--stream-seconds", type=int, default=60, help="held streams: how long clients loop"
    )
    args = parser.parse_args()
    if {"wrk", "slow"} & set(args.only) and not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    for scenario, app in (("wrk", "limit_app.py"), ("streams", "limit_streams.py")):
        if scenario in args.only and not (SHARED_BENCH / app).exists():
            sys.exit(f"The reference app is missing: {SHARED_BENCH}/{app}")

    databases = ["sqlite"] + (["postgres"] if postgres_up() else [])
    if "postgres" not in databases:
        print(f"*** PostgreSQL leg SKIPPED: no server at {POSTGRES_URL}")
    results: dict[str, DatabaseResult] = {}
    floor: list[StreamRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if "streams" in args.only:
            print("=== the floor for held streams (no database)")
            floor = floor_streams(work, args)
        for database in databases:
            print(f"=== {database}")
            results[database] = bench_database(database, work / database, args)
    runs = [run for result in results.values() for run in result.runs]
    history = {database: result.history for database, result in results.items() if result.history}
    slow = {database: result.slow for database, result in results.items() if result.slow}
    streams = [*floor, *(run for result in results.values() for run in result.streams)]
    billing = {database: result.billing for database, result in results.items()}
    failures = problems([*runs, *(run for some in slow.values() for run in some)], billing, streams)
    write_report(runs, history, slow, streams, billing, args, failures)
    print(f"Wrote {DOCS / 'benchmarks.md'}")
    for failure in failures:
        print(f"- {failure}")
    if any(not failure.startswith(TARGET_MISSED) for failure in failures):
        sys.exit("Benchmark checks failed (see above and the report)")


def _scenarios(text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = set(chosen) - set(SCENARIOS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SCENARIOS)}")
    return chosen


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("whole numbers, comma-separated") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("at least one count, each at least 1")
    return counts


def bench_database(database: str, work: Path, args: argparse.Namespace) -> DatabaseResult:
    work.mkdir(parents=True)
    ours_env = _ours_env(database, work)
    run_python("manage.py", "migrate", "--no-input", "-v0", env=ours_env)
    # As `make serve`: with DEBUG off and no REDIS_URL, the cache is this table.
    run_python("manage.py", "createcachetable", env=ours_env)
    tokens, history_tokens = work / "tokens", work / "history-tokens"
    if "wrk" in args.only:
        print("seeding (1,000,000 stored exchanges take a while)")
        seed = [str(USERS), str(BALANCE), str(tokens), str(history_tokens)]
    else:
        print("seeding")
        seed = [str(USERS), str(BALANCE), str(tokens)]
    run_python("-m", "bench.seed", *seed, env=ours_env)
    result = DatabaseResult()
    if "wrk" in args.only:
        result.runs, result.history = _throughput(
            database, work, ours_env, tokens, history_tokens, args
        )
    if "slow" in args.only:
        result.slow = _slow_chats(database, ours_env, tokens, args.seconds * 2)
    done_ids = work / "stream-done-ids"
    if "streams" in args.only:
        result.streams = held_streams(database, ours_env, tokens, done_ids, args)
    check = [str(BALANCE), *([str(done_ids)] if result.streams else [])]
    billing = json.loads(run_python("-m", "bench.check", *check, env=ours_env))
    chats = [
        r for r in [*result.runs, *result.slow] if r.app == "ours" and r.endpoint.startswith("POST")
    ]
    billing["successful_chats"] = sum(r.requests + r.warmup_requests for r in chats) + sum(
        r.done for r in result.streams
    )
    # wrk: up to one request per connection in flight at each deadline; held
    # streams: a chat that did not end in `done` may have been stored and charged.
    billing["in_flight_at_most"] = sum(2 * r.connections for r in chats) + sum(
        r.started - r.done for r in result.streams
    )
    result.billing = billing
    if database == "postgres":
        drop_postgres(BENCH_DB)
        if "wrk" in args.only:
            drop_postgres("bench_limit_app")
    return result


def _throughput(
    database: str,
    work: Path,
    ours_env: dict[str, str],
    tokens: Path,
    history_tokens: Path,
    args: argparse.Namespace,
) -> tuple[list[Run], dict[int, Run]]:
    """wrk against our app and the bare reference app, and the history page."""
    bare_env, bare_tokens = _bare_setup(database, work)
    runs: list[Run] = []
    ours_port, bare_port = free_port(), free_port()
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
    with (
        Server(ours_cmd, server_env, ours_port, "/healthz/"),
        Server(bare_cmd, bare_env, bare_port, None),
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
    return runs, history


def _slow_chats(database: str, ours_env: dict[str, str], tokens: Path, seconds: int) -> list[Run]:
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
        f"{database:8} {app:4} {endpoint:24} c={connections:<3} {run.rps:8.0f} req/s"
        f"  p50 {run.p50_ms:6.1f}  p95 {run.p95_ms:6.1f}  p99 {run.p99_ms:6.1f} ms"
        f"  non-2xx {run.non_2xx}"
    )
    return run


TARGET_MISSED = "target missed: "


def problems(
    runs: list[Run], billing: dict[str, dict[str, Any]], streams: list[StreamRun]
) -> list[str]:
    """What makes a run invalid (errors in the wrk runs, billing that does not
    add up), then the held-streams targets it missed, each starting TARGET_MISSED."""
    found = [
        f"{r.database} {r.app} {r.endpoint} c={r.connections}: "
        f"{r.non_2xx} non-2xx, {r.socket_errors} socket errors"
        for r in runs
        if r.non_2xx or r.socket_errors
    ]
    for database, b in billing.items():
        # A failed chat is refunded: its charge stays, a refund follows, its exchange goes.
        kept = b["tokens_charged"] - b["tokens_refunded"]
        if not (kept == b["tokens_spent"] == COST * b["exchanges"]):
            found.append(f"{database}: billing mismatch {b}")
        # wrk counts the 201s it read; requests in flight when a run's time is
        # up (at most one per connection) were answered and charged unread.
        if not 0 <= b["exchanges"] - b["successful_chats"] <= b["in_flight_at_most"]:
            found.append(f"{database}: charges and answered chats disagree {b}")
        if b["charges"] - b["refunds"] != b["exchanges"] or not b["ledgers_match"]:
            found.append(f"{database}: ledger mismatch {b}")
        if b["exchanges_pending"]:
            found.append(f"{database}: {b['exchanges_pending']} reservations left pending {b}")
        if b.get("streamed_done_charged_once", 0) != b.get("streamed_done", 0):
            found.append(
                f"{database}: of {b['streamed_done']} streamed chats that ended in `done`, "
                f"{b['streamed_done_charged_once']} are stored complete and charged once"
            )
    found += [
        f"{TARGET_MISSED}{t.target} ({t.database}): {t.measured}"
        for t in stream_targets(streams, STREAM_PIECES * STREAM_PIECE_SECONDS)
        if t.met is False
    ]
    return found


# --- Servers and databases ---------------------------------------------------


def _ours_env(database: str, work: Path) -> dict[str, str]:
    url = f"sqlite:///{work / 'ours.sqlite3'}"
    if database == "postgres":
        name = BENCH_DB
        drop_postgres(name)
        postgres_admin(f'CREATE DATABASE "{name}"')
        url = postgres_url(name)
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
        drop_postgres("bench_limit_app")
        postgres_admin('CREATE DATABASE "bench_limit_app"')
        env["LIMIT_PG_DSN"] = postgres_url("bench_limit_app")
    tokens = work / "bare-tokens"
    subprocess.run(
        [sys.executable, "limit_setup.py", str(USERS), str(BALANCE), str(tokens)],
        cwd=SHARED_BENCH, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return env, tokens


# --- The report ---------------------------------------------------------------


def write_report(
    runs: list[Run],
    history: dict[str, dict[int, Run]],
    slow: dict[str, list[Run]],
    streams: list[StreamRun],
    billing: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    failures: list[str],
) -> None:
    from bench.report import render

    DOCS.mkdir(exist_ok=True)
    setup = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}",
        "scenarios": ", ".join(args.only)
        + ("" if set(args.only) == set(SCENARIOS) else f" (of {', '.join(SCENARIOS)})"),
    }
    if "wrk" in args.only:
        setup["server"] = (
            f"gunicorn, {args.workers} workers x {args.threads} threads, access log off, both apps"
        )
        setup["load"] = (
            f"wrk, 2 threads, {args.seconds} s per measurement after a 2 s warm-up, "
            "on the same machine"
        )
    if "streams" in args.only:
        setup["held streams"] = (
            f"{', '.join(f'{c:,}' for c in args.stream_clients)} clients at once, "
            f"looping for {args.stream_seconds} s, bench/streams.py on the same machine"
        )
    chart = DOCS / "benchmarks.png"
    text = render(
        runs=runs,
        history=history,
        slow=slow,
        slow_reply_ms=SLOW_REPLY_SECONDS * 1000,
        streams=streams,
        stream_reply_seconds=STREAM_PIECES * STREAM_PIECE_SECONDS,
        billing=billing,
        failures=failures,
        chart=chart,
        setup=setup,
    )
    (DOCS / "benchmarks.md").write_text(text)


if __name__ == "__main__":
    main()
