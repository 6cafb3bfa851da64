"""Held streams: clients looping streamed chats against a model that streams
for 20 s, served by our app as `make serve` serves it (on `/api/v1/chat/`
and on the OpenAI-compatible `/v1/chat/completions`), as it was served
before ASGI (gunicorn gthread, `/api/v1/chat/`), and by the floors
(../shared/bench/limit_streams.py relaying with aiohttp, and through the
official SDK: bench/sdk_floor.py)."""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import (
    BALANCE,
    ROOT,
    SERVE,
    SHARED_BENCH,
    Server,
    Usage,
    free_port,
    run_python,
)
from tests.server import UNTHROTTLED

# Held streams: the model streams this many pieces, one every so many
# seconds (a 20-s reply), to clients that each loop streamed chats.
STREAM_PIECES = 20
STREAM_PIECE_SECONDS = 1.0
STREAM_CLIENTS = (500, 1_200, 3_000)
# The chat endpoints our app is measured on, by their name in --stream-paths:
# our own event stream with access tokens, OpenAI's chunks with API keys.
STREAM_PATHS = {"api": "/api/v1/chat/", "v1": "/v1/chat/completions"}
# The longest a client waits for one chat (a queue before the reply included).
STREAM_TIMEOUT_SECONDS = 180
# The floors' runs have no database.
NO_DATABASE = "none"
# The floors, each as (name, RELAY, ASGI application): the shared app relaying
# with aiohttp (the floor issue 11's targets are measured against), and the
# same app relaying through the official SDK.
FLOOR, SDK_FLOOR = "floor", "floor+SDK"
FLOORS = (
    (FLOOR, "aiohttp", "limit_streams:application"),
    (SDK_FLOOR, "sdk", "bench.sdk_floor:application"),
)
# Our app as it was served before ASGI (every chat holds a thread;
# keep-alive and preloading as its configuration had them).
GTHREAD = [
    "-m", "gunicorn", "config.wsgi:application", "-k", "gthread",
    "--workers", "5", "--threads", "128", "--worker-connections", "160",
    "--keep-alive", "5", "--preload",
]  # fmt: skip
# The fake model's name: AI_MODEL, and the model /v1 clients ask for.
MODEL = "bench"
# After a run in which some chats did not end in `done`, the longest to wait
# for the server to settle what it still holds before it is stopped.
SETTLE_SECONDS = 90


@dataclass
class StreamRun:
    """One held-streams measurement: bench/streams.py's figures and the server's usage."""

    database: str  # NO_DATABASE for the floors
    app: str  # "ours", "gthread", or one of FLOORS
    path: str  # of STREAM_PATHS: "api" (the floor relays a stream of that shape) or "v1"
    clients: int
    seconds: float
    started: int
    done: int
    elapsed: float
    chats_per_second: float
    p50: float  # seconds, of the chats that ended in `done`
    p95: float
    p99: float
    max: float
    # p95 of the seconds until the response's headers: of each client's first
    # chat (all sent at once) and of the others
    headers_first_p95: float
    headers_later_p95: float
    errors: dict[str, int]
    rss_start: int  # bytes, the server's processes summed
    rss_peak: int
    rss_end: int
    cpu_seconds: float
    processes: int  # the server's, at most at once (a master and its workers)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def held_streams(
    database: str,
    ours_env: dict[str, str],
    credentials: dict[str, Path],
    done_ids: Path,
    args: argparse.Namespace,
) -> list[StreamRun]:
    """Held streams against our app: `make serve`'s configuration on each of
    args.stream_paths, then the gthread one on `/api/v1/chat/` (with "api").

    `credentials` holds, by path name, the file of bearer tokens to use: access
    tokens for "api", API keys for "v1".
    """
    servers = [("ours", SERVE, path) for path in args.stream_paths]
    if "api" in args.stream_paths:
        servers.append(("gthread", GTHREAD, "api"))
    runs: list[StreamRun] = []
    with _fake_model() as provider_port:
        env = {
            key: value
            for key, value in ours_env.items()
            if key not in {"WEB_CONCURRENCY", "SYNC_THREADS"}
        }
        env |= {
            "ACCESS_LOG": "",
            "AI_PROVIDER": "openai",
            "AI_BASE_URL": f"http://127.0.0.1:{provider_port}/v1",
            "AI_API_KEY": "bench",
            "AI_MODEL": MODEL,
            "AI_TIMEOUT_SECONDS": "60",
            **UNTHROTTLED,
        }
        for clients in args.stream_clients:
            for app, command, path in servers:
                port = free_port()
                bind = f"127.0.0.1:{port}"
                server = Server(
                    [sys.executable, *command, "--bind", bind],
                    env | {"BIND": bind},
                    port,
                    "/healthz/",
                )
                ids = done_ids.with_name(f"{done_ids.name}-{app}-{path}-{clients}")
                credential = credentials[path]
                runs.append(
                    _stream_run(
                        database, (app, path), server, credential, clients, args, ids, ours_env
                    )
                )
                with done_ids.open("a") as out:
                    out.write(ids.read_text())
    return runs


def floor_streams(work: Path, args: argparse.Namespace) -> list[StreamRun]:
    """Held streams against ../shared/bench/limit_streams.py (no auth, database
    or billing), relaying with aiohttp ("floor") and through the official SDK
    as our provider calls it (bench/sdk_floor.py, "floor+SDK")."""
    work.mkdir(parents=True, exist_ok=True)
    tokens = work / "floor-tokens"
    tokens.write_text("unused\n")  # the floor reads no token
    runs = []
    with _fake_model() as provider_port:
        for clients in args.stream_clients:
            for app, relay, module in FLOORS:
                server = floor_server(relay, module, provider_port, workers=2)
                app_path = (app, "api")
                runs.append(
                    _stream_run(NO_DATABASE, app_path, server, tokens, clients, args, None, None)
                )
    return runs


def floor_server(relay: str, module: str, provider_port: int, *, workers: int) -> Server:
    """One of FLOORS (its RELAY and ASGI application) under uvicorn, relaying
    the model at `provider_port`, with SHARED_BENCH and ROOT on its path
    (limit_streams, bench.sdk_floor)."""
    env = {
        **os.environ,
        "UPSTREAM": f"http://127.0.0.1:{provider_port}",
        "RELAY": relay,
        "PYTHONPATH": os.pathsep.join([str(SHARED_BENCH), str(ROOT)]),
    }
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", module, "--workers", str(workers),
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    return Server(command, env, port, "/healthz/", cwd=SHARED_BENCH)


def _fake_model(piece_seconds: float = STREAM_PIECE_SECONDS) -> "Server":
    """tests/fake_openai.py streaming STREAM_PIECES pieces, one every `piece_seconds`."""
    port = free_port()
    command = [
        sys.executable, "-m", "tests.fake_openai", "--port", str(port),
        "--pieces", str(STREAM_PIECES), "--chunk-delay", str(piece_seconds),
    ]  # fmt: skip
    return Server(command, {**os.environ, "PYTHONPATH": str(ROOT)}, port, None)


def _stream_run(
    database: str,
    app_path: tuple[str, str],
    server: "Server",
    tokens: Path,
    clients: int,
    args: argparse.Namespace,
    done_ids: Path | None,
    database_env: dict[str, str] | None,
) -> StreamRun:
    """bench/streams.py, in a process of its own, against one server started for it.

    Given the database's environment, a server that still holds chats when the
    clients are done (they gave up on some) is let finish them before it stops.
    """
    app, path = app_path
    with server as port:
        with Usage(server.process.pid) as usage:
            command = [
                sys.executable, "-m", "bench.streams", f"http://127.0.0.1:{port}{STREAM_PATHS[path]}",
                str(tokens), "--format", path, "--model", MODEL,
                "--clients", str(clients), "--seconds", str(args.stream_seconds),
                "--pieces", str(STREAM_PIECES), "--timeout", str(STREAM_TIMEOUT_SECONDS),
                *(["--ids", str(done_ids)] if done_ids else []),
            ]  # fmt: skip
            output = subprocess.run(
                command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
            ).stdout
        data = json.loads(output)
        if database_env and data["started"] > data["done"]:
            _wait_settled(database_env)
    run = StreamRun(
        database=database,
        app=app,
        path=path,
        clients=clients,
        seconds=data["seconds"],
        started=data["started"],
        done=data["done"],
        elapsed=data["elapsed"],
        chats_per_second=data["chats_per_second"],
        p50=data["p50"],
        p95=data["p95"],
        p99=data["p99"],
        max=data["max"],
        headers_first_p95=data["headers_first"]["p95"],
        headers_later_p95=data["headers_later"]["p95"],
        errors=data["errors"],
        rss_start=usage.rss_start,
        rss_peak=usage.rss_peak,
        rss_end=usage.rss_end,
        cpu_seconds=usage.cpu_seconds,
        processes=usage.processes,
    )
    print(
        f"{database:8} {app:9} {STREAM_PATHS[path]:21} c={clients:<5}"
        f" {run.chats_per_second:6.1f} chats/s"
        f"  p50 {run.p50:5.1f}  p95 {run.p95:5.1f}  p99 {run.p99:5.1f} s"
        f"  headers p95 {run.headers_first_p95:4.1f} / {run.headers_later_p95:4.1f} s"
        f"  errors {run.error_count}  RSS peak {run.rss_peak / 2**20:,.0f} MiB"
        f"  CPU {run.cpu_seconds:.0f} s"
    )
    return run


def _wait_settled(env: dict[str, str]) -> None:
    """Until no reservation is pending, or SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        if not json.loads(run_python("-m", "bench.check", str(BALANCE), env=env))[
            "exchanges_pending"
        ]:
            return
        time.sleep(2)
