"""The held-streams part of docs/benchmarks.md: issue 11's targets for each of
our endpoints (`/api/v1/chat/` and `/v1/chat/completions`) on each database,
and the tables of every run beside the floors and the gthread configuration."""

from dataclasses import dataclass
from typing import Any

from bench.held_streams import FLOOR, FLOORS, NO_DATABASE, SDK_FLOOR, STREAM_PATHS

# Held streams (issue 11): at 1,200 clients, the median at most 10% and the
# p95 at most 15% above the model's own time; at 3,000, the p95 within 1.2 x
# the floor's in the same run and the server within 1.5 GiB; no errors.
STREAM_MEDIAN_CLIENTS, STREAM_MEDIAN_ADDED_TARGET, STREAM_P95_TARGET = 1_200, 0.10, 1.15
STREAM_FLOOR_CLIENTS, STREAM_FLOOR_P95_TARGET, STREAM_RSS_TARGET = 3_000, 1.2, 1.5 * 2**30


@dataclass
class Target:
    target: str
    database: str
    measured: str
    met: bool | None  # None: not measured in this run


def stream_targets(streams: list[Any], reply_seconds: float) -> list[Target]:
    """Issue 11's held-streams targets, for our app on each database and each
    of its endpoints measured (issue 14: the same targets on `/v1`)."""
    found = []
    ours = [r for r in streams if r.app == "ours"]
    for database, path in dict.fromkeys((r.database, r.path) for r in ours):
        mine = {r.clients: r for r in ours if (r.database, r.path) == (database, path)}
        floors = {(r.app, r.clients): r for r in streams if r.database == NO_DATABASE}
        found += _targets(mine, floors, title(database), STREAM_PATHS[path], reply_seconds)
    return found


def _targets(
    mine: dict[int, Any],
    floors: dict[tuple[str, int], Any],
    database: str,
    path: str,
    reply_seconds: float,
) -> list[Target]:
    """`floors`: the floors' runs by (app, clients). The target is against the
    floor; the floor through the SDK is shown beside it, for how much of the
    distance the SDK alone makes."""
    errors = {c: r.error_count for c, r in mine.items()}
    found = [
        Target(
            f"held streams on `{path}`: no errors",
            database,
            ", ".join(f"{n} at {c:,}" for c, n in errors.items()),
            not any(errors.values()),
        )
    ]
    run = mine.get(STREAM_MEDIAN_CLIENTS)
    at = f"{STREAM_MEDIAN_CLIENTS:,} streams at once on `{path}`"
    if run is None:
        found.append(Target(at, database, "not measured in this run", None))
    else:
        added = run.p50 / reply_seconds - 1
        found.append(
            Target(
                f"{at}: median + <= {STREAM_MEDIAN_ADDED_TARGET:.0%}",
                database,
                f"{run.p50:.1f} s (+{added:.1%})",
                added <= STREAM_MEDIAN_ADDED_TARGET,
            )
        )
        found.append(
            Target(
                f"{at}: p95 <= {STREAM_P95_TARGET} x {reply_seconds:g} s",
                database,
                f"{run.p95:.1f} s = {run.p95 / reply_seconds:.2f} x",
                run.p95 <= STREAM_P95_TARGET * reply_seconds,
            )
        )
    run, lowest = mine.get(STREAM_FLOOR_CLIENTS), floors.get((FLOOR, STREAM_FLOOR_CLIENTS))
    at = f"{STREAM_FLOOR_CLIENTS:,} streams at once on `{path}`"
    if run is None or lowest is None:
        return [*found, Target(at, database, "not measured in this run", None)]
    measured = f"{run.p95:.1f} s vs {lowest.p95:.1f} s = {run.p95 / lowest.p95:.2f} x"
    sdk = floors.get((SDK_FLOOR, STREAM_FLOOR_CLIENTS))
    if sdk is not None:
        measured += f" ({SDK_FLOOR}: {sdk.p95:.1f} s = {sdk.p95 / lowest.p95:.2f} x)"
    return [
        *found,
        Target(
            f"{at}: p95 <= {STREAM_FLOOR_P95_TARGET} x the floor's",
            database,
            measured,
            run.p95 <= STREAM_FLOOR_P95_TARGET * lowest.p95,
        ),
        Target(
            f"{at}: server RSS <= {STREAM_RSS_TARGET / 2**30:g} GiB",
            database,
            f"{run.rss_peak / 2**20:,.0f} MiB at its peak",
            run.rss_peak <= STREAM_RSS_TARGET,
        ),
    ]


def streams_section(streams: list[Any], reply_seconds: float) -> list[str]:
    seconds = streams[0].seconds
    lines = [
        "## Held streams",
        "",
        f"Clients loop streamed chats for {seconds:g} s, all started at once, against",
        f"tests/fake_openai.py streaming each reply in {reply_seconds:g} pieces, one a second; a",
        "chat started before the time is up is read to its end. The load generator is",
        "bench/streams.py (aiohttp, one process on the same machine). A chat is done when",
        'its answer is complete: on `/api/v1/chat/` (`"stream": true`, an access token) the',
        '`done` event; on `/v1/chat/completions` (OpenAI\'s request with `"stream": true`,',
        "an API key per user) the chunk with a `finish_reason`, then `data: [DONE]`.",
        "chats/s = chats done / the time until the last one ended; added = median",
        f"/ {reply_seconds:g} s - 1. Errors: a status other than 200, an error the stream sent",
        "(an `error` event or chunk), a broken or timed-out connection, a stream that ended",
        "before its answer was complete or with pieces missing.",
        "",
        "- *ours*: this project under `make serve`'s configuration (config/gunicorn.py,",
        "  WEB_CONCURRENCY unset, access log off), AI_PROVIDER=openai on the fake model,",
        "  on each endpoint measured (a server of its own for each run).",
        "- *floor*: ../shared/bench/limit_streams.py under uvicorn, 2 workers, relaying",
        "  the same model's stream with aiohttp: no authentication, database or billing.",
        "- *floor+SDK*: the same app relaying through the official SDK as our provider",
        "  calls it (bench/sdk_floor.py), and nothing more: the part of the distance",
        "  between ours and the floor that the SDK alone makes.",
        "- *gthread*: this project as `make serve` served it before ASGI: gunicorn's",
        "  gthread worker, 5 workers x 128 threads, 160 connections each (config/wsgi.py),",
        "  every chat holding a thread; under WSGI the events arrive together at the end.",
        "",
        "The floors have no database, so they run once per client count and are shown in",
        "each table.",
        "",
        "Headers p95: how long the response's headers took to arrive, for each client's",
        "first chat (all sent at once) and for the chats after. Ours and the floors send them",
        "before the model is asked (ours once the chat is paid for); under gthread they",
        "come with the whole reply.",
        "",
        "Server RSS is summed over the server's processes (master and workers), sampled",
        "every second: at the start, at its peak and after the last chat. CPU is their",
        "user + system seconds over the run.",
        "",
    ]
    floors = [r for r in streams if r.database == NO_DATABASE]
    order = [
        *(("ours", path) for path in STREAM_PATHS),
        *((name, "api") for name, _, _ in FLOORS),
        ("gthread", "api"),
    ]
    for database in dict.fromkeys(r.database for r in streams if r.database != NO_DATABASE):
        lines += [
            f"### {title(database)}",
            "",
            "| Clients | Server (processes) | Endpoint | chats done | chats/s | median s (added) "
            "| p95 s | p99 s | headers p95 s, first / later | errors "
            "| RSS MiB start / peak / after | CPU s |",
            "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        mine = [*(r for r in streams if r.database == database), *floors]
        for clients in dict.fromkeys(r.clients for r in mine):
            for app_path in order:
                for run in (r for r in mine if (r.app, r.path, r.clients) == (*app_path, clients)):
                    lines.append(_stream_row(run, reply_seconds))
        lines.append("")
    return lines


def _stream_row(run: Any, reply_seconds: float) -> str:
    errors = f"{run.error_count:,}"
    if run.errors:
        kinds = sorted(run.errors.items(), key=lambda kind: -kind[1])
        errors += " (" + "; ".join(f"{kind}: {n:,}" for kind, n in kinds) + ")"
    mib = [f"{b / 2**20:,.0f}" for b in (run.rss_start, run.rss_peak, run.rss_end)]
    return (
        f"| {run.clients:,} | {run.app} ({run.processes}) | `{STREAM_PATHS[run.path]}` "
        f"| {run.done:,} | {run.chats_per_second:,.1f} "
        f"| {run.p50:.1f} ({run.p50 / reply_seconds - 1:+.1%}) | {run.p95:.1f} | {run.p99:.1f} "
        f"| {run.headers_first_p95:.1f} / {run.headers_later_p95:.1f} "
        f"| {errors} | {' / '.join(mib)} | {run.cpu_seconds:,.0f} |"
    )


def title(database: str) -> str:
    return {"sqlite": "SQLite", "postgres": "PostgreSQL"}[database]
