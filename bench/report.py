"""Turns a `make bench` run into docs/benchmarks.md and its chart."""

from pathlib import Path
from typing import Any

from bench.report_streams import stream_targets, streams_section, title

RATIO_TARGET = 0.4
P99_TARGET = 3.0
HISTORY_TARGET = 1.5
# Many slow chats at once (issue 11): the median may grow by at most this
# share of the model's own time, and the p99 be at most this many times it.
SLOW_ADDED_TARGET = 0.05
SLOW_P99_TARGET = 2.0


def render(
    *,
    runs: list[Any],
    history: dict[str, dict[int, Any]],
    slow: dict[str, list[Any]],
    slow_reply_ms: float,
    streams: list[Any],
    stream_reply_seconds: float,
    billing: dict[str, dict[str, Any]],
    failures: list[str],
    chart: Path,
    setup: dict[str, str],
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand. What the",
        "numbers mean, and where the time goes, is in [performance.md](performance.md).",
        "",
        *(f"- **{key}**: {value}" for key, value in setup.items()),
        "",
    ]
    if runs:
        _chart(runs, chart)
        lines += [
            "*ours* is this project under `make serve`'s gunicorn configuration file",
            "(config/gunicorn.py, access log off), with the worker and thread counts above;",
            "*bare* is ../shared/bench/limit_app.py, the same SQL and JWT check with no",
            "framework, under the same gunicorn worker and thread counts in the same run;",
            "*gthread* is this project as it was served before ASGI (config/wsgi.py under",
            "gunicorn's gthread worker), with the same counts, in the same run.",
            "Ratio = ours / bare throughput; vs gthread = ours / gthread throughput.",
            "",
            f"![Throughput, ours and bare]({chart.name})",
            "",
        ]
    lines += [
        "## Targets",
        "",
        "| Target | Database | Measured | Met |",
        "| --- | --- | --- | --- |",
        *_targets(runs, history, billing, failures),
        *_slow_targets(slow, slow_reply_ms),
        *(
            f"| {t.target} | {t.database} | {t.measured} "
            f"| {'n/a' if t.met is None else _met(t.met)} |"
            for t in stream_targets(streams, stream_reply_seconds)
        ),
        "",
    ]
    for database in dict.fromkeys(r.database for r in runs):
        lines += [f"## {title(database)}", "", *_table(runs, database), ""]
    if history:
        lines += _history(history)
    if slow:
        lines += _slow(slow, slow_reply_ms)
    if streams:
        lines += streams_section(streams, stream_reply_seconds)
    lines += [
        "## Billing after the run",
        "",
        "Every chat the benchmark sent, checked in the database afterwards.",
        "",
        "| Database | pricing | chats answered (wrk's 201s, warm-ups included; streamed "
        "chats done) | exchanges stored | ledger charges | refunds | usage refunds "
        "| tokens charged, less both refunds | tokens the exchanges cost "
        "| tokens gone from balances | every ledger = balance |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for database, b in billing.items():
        kept = b["tokens_charged"] - b["tokens_refunded"] - b["tokens_usage_refunded"]
        lines.append(
            f"| {title(database)} | {b['pricing']} | {b['successful_chats']:,} "
            f"| {b['exchanges']:,} | {b['charges']:,} | {b['refunds']:,} "
            f"| {b['usage_refunds']:,} | {kept:,} | {b['exchanges_cost']:,} "
            f"| {b['tokens_spent']:,} | {'yes' if b['ledgers_match'] else 'NO'} |"
        )
    lines += [
        "",
        "Tokens charged less refunds (`refund`: a failed chat's whole charge;",
        "`usage_refund`: under per-token pricing, the part of a kept chat's reservation",
        "its reply did not use), what the stored exchanges cost, and tokens gone from",
        "balances must agree exactly, with no reservation left pending; under flat pricing",
        "every exchange costs CHAT_MESSAGE_COST and there is no usage refund. wrk stops",
        "reading at each run's deadline, when up to one request per connection is still in",
        "flight (answered and charged, but not counted), and a streamed chat that broke may",
        "have been charged for what it was sent, so the database may hold up to that many",
        "more exchanges than were counted, never fewer; the run checks it. Every streamed",
        "chat done (on either endpoint) must be stored complete and charged once:",
        "",
        *(
            f"- {title(database)}: {b['streamed_done_charged_once']:,} of "
            f"{b['streamed_done']:,} are."
            for database, b in billing.items()
            if "streamed_done" in b
        ),
        "",
    ]
    if failures:
        lines += ["## Problems in this run", "", *(f"- {f}" for f in failures), ""]
    return "\n".join(lines)


def _history(history: dict[str, dict[int, Any]]) -> list[str]:
    lines = [
        "## History page at 1,000 and 1,000,000 stored exchanges",
        "",
        "First page of `GET /api/v1/chats/` for a user with 1,000 and one with 1,000,000",
        "exchanges, 16 connections.",
        "",
        "| Database | Exchanges | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for database, sizes in history.items():
        for size, run in sizes.items():
            lines.append(
                f"| {title(database)} | {size:,} | {run.rps:,.0f} | {run.p50_ms:.2f} "
                f"| {run.p95_ms:.2f} | {run.p99_ms:.2f} |"
            )
    return [*lines, ""]


def _slow(slow: dict[str, list[Any]], slow_reply_ms: float) -> list[str]:
    lines = [
        "## Many slow chats at once",
        "",
        "`POST /api/v1/chat/` with AI_PROVIDER=openai against tests/fake_openai.py, which",
        f"answers each reply after {slow_reply_ms / 1000:g} s, under `make serve`'s own",
        "defaults (config/gunicorn.py: WEB_CONCURRENCY and SYNC_THREADS unset).",
        "",
        "| Database | Conn. | requests | req/s | p50 ms | p95 ms | p99 ms | added to the median "
        "| non-2xx + socket errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for database, run in ((d, r) for d, some in slow.items() for r in some):
        added = run.p50_ms / slow_reply_ms - 1
        lines.append(
            f"| {title(database)} | {run.connections} | {run.requests:,} | {run.rps:,.0f} "
            f"| {run.p50_ms:,.0f} | {run.p95_ms:,.0f} | {run.p99_ms:,.0f} | {added:.1%} "
            f"| {run.non_2xx + run.socket_errors} |"
        )
    return [*lines, ""]


def _targets(
    runs: list[Any],
    history: dict[str, dict[int, Any]],
    billing: dict[str, dict[str, Any]],
    failures: list[str],
) -> list[str]:
    rows = []
    for database in dict.fromkeys(r.database for r in runs):
        for endpoint in ("GET /api/v1/balance/", "POST /api/v1/chat/"):
            ratios = [
                _ratio(runs, database, endpoint, c) for c in sorted({r.connections for r in runs})
            ]
            worst = min(ratios)
            shown = ", ".join(f"{r:.2f}" for r in ratios)
            rows.append(
                f"| `{endpoint}` throughput >= {RATIO_TARGET} x bare | {title(database)} "
                f"| {shown} (16, 64 connections) | {_met(worst >= RATIO_TARGET)} |"
            )
        rows += _against_gthread(runs, database)
        ours = _find(runs, database, "ours", "POST /api/v1/chat/", 16)
        bare = _find(runs, database, "bare", "POST /api/v1/chat/", 16)
        p99 = ours.p99_ms / bare.p99_ms
        rows.append(
            f"| chat p99 at 16 connections <= {P99_TARGET} x bare | {title(database)} "
            f"| {ours.p99_ms:.1f} ms vs {bare.p99_ms:.1f} ms = {p99:.2f} x "
            f"| {_met(p99 <= P99_TARGET)} |"
        )
        small, large = history[database][1_000], history[database][1_000_000]
        growth = large.p50_ms / small.p50_ms
        rows.append(
            f"| history page at 1M <= {HISTORY_TARGET} x at 1k (p50) | {title(database)} "
            f"| {large.p50_ms:.2f} ms vs {small.p50_ms:.2f} ms = {growth:.2f} x "
            f"| {_met(growth <= HISTORY_TARGET)} |"
        )
    if runs:
        errors = sum(r.non_2xx + r.socket_errors for r in runs)
        rows.append(
            f"| no errors, no 5xx (wrk) | all | {errors} non-2xx responses | {_met(errors == 0)} |"
        )
    billing_ok = not any("mismatch" in f for f in failures)
    rows.append(
        f"| zero billing mismatches | all | see below | {_met(billing_ok and bool(billing))} |"
    )
    return rows


def _against_gthread(runs: list[Any], database: str) -> list[str]:
    """Issue 11: no endpoint slower under ASGI than under gthread, in this run."""
    rows = []
    for endpoint in dict.fromkeys(r.endpoint for r in runs if r.app == "gthread"):
        ratios = []
        for connections in sorted({r.connections for r in runs if r.endpoint == endpoint}):
            ours = _find(runs, database, "ours", endpoint, connections, required=False)
            before = _find(runs, database, "gthread", endpoint, connections, required=False)
            if ours and before:
                ratios.append(ours.rps / before.rps)
        if ratios:
            shown = ", ".join(f"{r:.2f}" for r in ratios)
            rows.append(
                f"| `{endpoint}` throughput >= gthread's (ASGI / gthread) | {title(database)} "
                f"| {shown} (16, 64 connections) | {_met(min(ratios) >= 1)} |"
            )
    return rows


def _slow_targets(slow: dict[str, list[Any]], slow_reply_ms: float) -> list[str]:
    rows = []
    for database, some in slow.items():
        run = max(some, key=lambda r: r.connections)
        added = run.p50_ms / slow_reply_ms - 1
        p99 = run.p99_ms / slow_reply_ms
        errors = run.non_2xx + run.socket_errors
        met = errors == 0 and added <= SLOW_ADDED_TARGET and p99 <= SLOW_P99_TARGET
        rows.append(
            f"| {run.connections} chats at once, AI taking {slow_reply_ms / 1000:g} s: no errors, "
            f"median + <= {SLOW_ADDED_TARGET:.0%}, p99 <= {SLOW_P99_TARGET:g} x "
            f"{slow_reply_ms / 1000:g} s | {title(database)} "
            f"| {errors} errors, p50 {run.p50_ms:,.0f} ms ({added:+.1%}), "
            f"p99 {run.p99_ms:,.0f} ms = {p99:.2f} x | {_met(met)} |"
        )
    return rows


def _table(runs: list[Any], database: str) -> list[str]:
    rows = [
        "| Endpoint | Conn. | ours req/s | gthread req/s | vs gthread | bare req/s | ratio "
        "| ours p50 / p95 / p99 ms | bare p50 / p95 / p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in runs:
        if run.database != database or run.app != "ours":
            continue
        before = _find(runs, database, "gthread", run.endpoint, run.connections, required=False)
        bare = _find(runs, database, "bare", run.endpoint, run.connections, required=False)
        gthread = f"{before.rps:,.0f} | {run.rps / before.rps:.2f}" if before else "n/a | n/a"
        latency = f"{run.p50_ms:.1f} / {run.p95_ms:.1f} / {run.p99_ms:.1f}"
        if bare:
            versus = (
                f"{bare.rps:,.0f} | {run.rps / bare.rps:.2f} | {latency} "
                f"| {bare.p50_ms:.1f} / {bare.p95_ms:.1f} / {bare.p99_ms:.1f}"
            )
        else:
            versus = f"n/a | n/a | {latency} | n/a"
        rows.append(
            f"| `{run.endpoint}` | {run.connections} | {run.rps:,.0f} | {gthread} | {versus} |"
        )
    return rows


def _chart(runs: list[Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    compared = [r for r in runs if r.app == "ours" and not r.endpoint.endswith("chats/")]
    labels = [
        f"{title(r.database)}\n{r.endpoint.split()[1].strip('/').split('/')[-1]} c={r.connections}"
        for r in compared
    ]
    ours = [r.rps for r in compared]
    bare = [_find(runs, r.database, "bare", r.endpoint, r.connections).rps for r in compared]
    figure, axes = plt.subplots(figsize=(10, 4.5), dpi=100)
    positions = range(len(compared))
    axes.bar([p - 0.2 for p in positions], bare, width=0.4, label="bare WSGI app", color="#bbb")
    axes.bar([p + 0.2 for p in positions], ours, width=0.4, label="this API", color="#2a7ab9")
    for p, (o, b) in enumerate(zip(ours, bare, strict=True)):
        axes.annotate(f"{o / b:.2f}x", (p + 0.2, o), ha="center", va="bottom", fontsize=8)
    axes.set_xticks(list(positions), labels, fontsize=8)
    axes.set_ylabel("requests per second")
    axes.set_title("Throughput: this API vs the bare reference app (same server settings)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _find(
    runs: list[Any], database: str, app: str, endpoint: str, connections: int, required: bool = True
) -> Any:
    for run in runs:
        if (run.database, run.app, run.endpoint, run.connections) == (
            database,
            app,
            endpoint,
            connections,
        ):
            return run
    if required:
        raise LookupError((database, app, endpoint, connections))
    return None


def _ratio(runs: list[Any], database: str, endpoint: str, connections: int) -> float:
    ours = _find(runs, database, "ours", endpoint, connections)
    return float(ours.rps / _find(runs, database, "bare", endpoint, connections).rps)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"
