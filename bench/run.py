"""`make bench`: load-test `make serve` beside the reference apps, then report.

For each database (SQLite, and PostgreSQL when a server answers), it runs
three scenarios, then checks the billing:

- wrk: our app under gunicorn with the configuration `make serve` uses, our
  app as it was served before ASGI (gunicorn's gthread worker) and
  ../shared/bench/limit_app.py (the same work with no framework), all three
  with the same worker and thread counts, driven by wrk at 16 and 64
  connections; and a history page at 1,000 and 1,000,000 stored exchanges.
- slow: 500 chats at once against an OpenAI-compatible server that takes 2 s
  per reply (tests/fake_openai.py), under `make serve`'s own defaults.
- streams: held streams. Clients loop streamed chats (bench/streams.py)
  against a model that streams 20 pieces over 20 s, at 500, 1,200 and 3,000
  clients at once: our app under `make serve`'s defaults on `/api/v1/chat/`
  (access tokens) and on `/v1/chat/completions` (OpenAI's format, an API key
  per user), and as it was served before ASGI (gunicorn gthread, 5 workers x
  128 threads, `/api/v1/chat/`); and, once per client count (it has no
  database), the floor: ../shared/bench/limit_streams.py under uvicorn, 2
  workers, relaying with aiohttp, and the same app relaying through the
  official SDK (bench/sdk_floor.py). --stream-paths api or v1 runs ours on
  one endpoint only (v1 alone also leaves out the gthread runs).

Then it writes docs/benchmarks.md, with a chart when wrk ran. A missed target
of issue 11 (held streams, on either endpoint) is written in the report;
errors in the wrk runs, and billing that does not add up, also fail the run.
The wrk scenarios are bench/wrk.py; the held streams, bench/held_streams.py.

usage: python -m bench.run [--seconds 10] [--workers 2] [--threads 1]
           [--only wrk,slow,streams] [--stream-clients 500,1200,3000] [--stream-seconds 60]
           [--stream-paths api,v1]
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.held_streams import (
    STREAM_CLIENTS,
    STREAM_PATHS,
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
    USERS,
    drop_postgres,
    postgres_admin,
    postgres_up,
    postgres_url,
    reference_app_required,
    run_python,
)
from bench.report_streams import stream_targets
from bench.wrk import BARE_DATABASE, SLOW_REPLY_SECONDS, Run, slow_chats, throughput

DOCS = ROOT / "docs"
COST = 100
SECRET = "bench-only-secret-key-not-for-any-deployment-0123456789"
BENCH_DB = "bench_chat_api"
SCENARIOS = ("wrk", "slow", "streams")


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
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers: all three apps")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads a process: gthread and bare; ours: SYNC_THREADS",
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
    parser.add_argument(
        "--stream-paths",
        type=_stream_paths,
        default=tuple(STREAM_PATHS),
        help="held streams: our endpoints, comma-separated, of api (/api/v1/chat/, and the "
        "gthread comparison) and v1 (/v1/chat/completions) (default: both)",
    )
    args = parser.parse_args()
    if {"wrk", "slow"} & set(args.only) and not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    for scenario, app in (("wrk", "limit_app.py"), ("streams", "limit_streams.py")):
        if scenario in args.only:
            reference_app_required(app)

    databases = ["sqlite"] + (["postgres"] if postgres_up() else [])
    if "postgres" not in databases:
        print(f"*** PostgreSQL leg SKIPPED: no server at {POSTGRES_URL}")
    results: dict[str, DatabaseResult] = {}
    floor: list[StreamRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if "streams" in args.only:
            print("=== the floors for held streams (no database)")
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


def _stream_paths(text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    if not chosen or set(chosen) - set(STREAM_PATHS):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(STREAM_PATHS)}")
    return tuple(dict.fromkeys(chosen))


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
    tokens, keys, history_tokens = work / "tokens", work / "keys", work / "history-tokens"
    seed = [str(USERS), str(BALANCE), str(tokens)]
    if "streams" in args.only and "v1" in args.stream_paths:
        seed += ["--keys", str(keys)]
    if "wrk" in args.only:
        print("seeding (1,000,000 stored exchanges take a while)")
        seed += ["--history", str(history_tokens)]
    else:
        print("seeding")
    run_python("-m", "bench.seed", *seed, env=ours_env)
    result = DatabaseResult()
    if "wrk" in args.only:
        result.runs, result.history = throughput(
            database, work, ours_env, tokens, history_tokens, args
        )
    if "slow" in args.only:
        result.slow = slow_chats(database, ours_env, tokens, args.seconds * 2)
    done_ids = work / "stream-done-ids"
    if "streams" in args.only:
        credentials = {"api": tokens, "v1": keys}
        result.streams = held_streams(database, ours_env, credentials, done_ids, args)
    check = [str(BALANCE), *([str(done_ids)] if result.streams else [])]
    billing = json.loads(run_python("-m", "bench.check", *check, env=ours_env))
    chats = [
        r
        for r in [*result.runs, *result.slow]
        if r.app in {"ours", "gthread"} and r.endpoint.startswith("POST")
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
            drop_postgres(BARE_DATABASE)
    return result


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
        found += [f"{database}: {problem} {b}" for problem in billing_problems(b)]
    found += [
        f"{TARGET_MISSED}{t.target} ({t.database}): {t.measured}"
        for t in stream_targets(streams, STREAM_PIECES * STREAM_PIECE_SECONDS)
        if t.met is False
    ]
    return found


def billing_problems(b: dict[str, Any]) -> list[str]:
    """What does not add up in bench.check's figures for one database (with
    run.py's count of the chats answered and of those that may be unread)."""
    found = []
    # A failed chat is refunded: its charge stays, a `refund` follows, its
    # exchange goes. A kept chat under per-token pricing may get part of its
    # charge back (`usage_refund`); its exchange stays, costing the rest.
    kept = b["tokens_charged"] - b["tokens_refunded"] - b["tokens_usage_refunded"]
    if not kept == b["tokens_spent"] == b["exchanges_cost"]:
        found.append("billing mismatch:")
    if b["pricing"] == "flat" and (
        b["usage_refunds"] or b["exchanges_cost"] != COST * b["exchanges"]
    ):
        found.append(f"billing mismatch: flat pricing, yet not {COST} a chat with no usage refund:")
    # wrk counts the 201s it read; requests in flight when a run's time is
    # up (at most one per connection) were answered and charged unread.
    if not 0 <= b["exchanges"] - b["successful_chats"] <= b["in_flight_at_most"]:
        found.append("charges and answered chats disagree:")
    if (
        b["charges"] - b["refunds"] != b["exchanges"]
        or b["usage_refunds"] > b["exchanges"]
        or not b["ledgers_match"]
    ):
        found.append("ledger mismatch:")
    if b["exchanges_pending"]:
        found.append(f"{b['exchanges_pending']} reservations left pending:")
    if b.get("streamed_done_charged_once", 0) != b.get("streamed_done", 0):
        found.append(
            f"of {b['streamed_done']} streamed chats done, "
            f"{b['streamed_done_charged_once']} are stored complete and charged once:"
        )
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
            f"gunicorn, {args.workers} workers x {args.threads} threads, access log off, "
            "ours, gthread and bare"
        )
        setup["load"] = (
            f"wrk, 2 threads, {args.seconds} s per measurement after a 2 s warm-up, "
            "on the same machine"
        )
    if "streams" in args.only:
        setup["held streams"] = (
            f"{', '.join(f'{c:,}' for c in args.stream_clients)} clients at once, "
            f"looping for {args.stream_seconds} s, bench/streams.py on the same machine; "
            f"ours on {', '.join(f'`{STREAM_PATHS[path]}`' for path in args.stream_paths)}"
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
