"""bench/report_streams.py: the held-streams table."""

from bench.held_streams import NO_DATABASE, StreamRun
from bench.report_streams import _stream_row, stream_targets, streams_section


def test_a_row_shows_how_long_the_headers_of_the_first_and_later_chats_took():
    run = StreamRun(
        database="sqlite", app="ours", path="api", clients=1_200, seconds=60, started=3_600,
        done=3_600, elapsed=70.0, chats_per_second=51.4, p50=21.5, p95=25.3, p99=26.3, max=27.0,
        headers_first_p95=5.46, headers_later_p95=1.94, errors={}, rss_start=2**28,
        rss_peak=2**29, rss_end=2**29, cpu_seconds=46.0, processes=6,
    )  # fmt: skip

    cells = [cell.strip() for cell in _stream_row(run, 20.0).split("|")[1:-1]]

    assert cells[:9] == [
        "1,200", "ours (6)", "`/api/v1/chat/`", "3,600", "51.4", "21.5 (+7.5%)", "25.3", "26.3",
        "5.5 / 1.9",
    ]  # fmt: skip
    assert cells[9:] == ["0", "256 / 512 / 512", "46"]


def _run(app: str, database: str, clients: int, p95: float) -> StreamRun:
    return StreamRun(
        database=database, app=app, path="api", clients=clients, seconds=60, started=9_000,
        done=9_000, elapsed=80.0, chats_per_second=110.0, p50=p95 - 2, p95=p95, p99=p95 + 1,
        max=p95 + 2, headers_first_p95=4.0, headers_later_p95=3.0, errors={}, rss_start=2**28,
        rss_peak=2**29, rss_end=2**29, cpu_seconds=60.0, processes=4,
    )  # fmt: skip


RUNS = [
    _run("floor", NO_DATABASE, 3_000, 25.0),
    _run("floor+SDK", NO_DATABASE, 3_000, 28.0),
    _run("ours", "sqlite", 3_000, 40.0),
    _run("gthread", "sqlite", 3_000, 150.0),
]


def test_the_3000_target_is_against_the_floor_with_the_sdk_floor_beside_it():
    (target,) = [t for t in stream_targets(RUNS, 20.0) if "p95 <= 1.2 x the floor's" in t.target]

    assert target.measured == "40.0 s vs 25.0 s = 1.60 x (floor+SDK: 28.0 s = 1.12 x)"
    assert target.met is False


def test_each_table_shows_both_floors_between_ours_and_gthread():
    section = "\n".join(streams_section(RUNS, 20.0))

    rows = [line.split("|")[2].strip() for line in section.splitlines() if line.startswith("| 3,")]
    assert rows == ["ours (4)", "floor (4)", "floor+SDK (4)", "gthread (4)"]
    assert [line for line in section.splitlines() if line.startswith("### ")] == ["### SQLite"]


def test_without_the_sdk_floor_the_target_is_measured_against_the_floor_alone():
    runs = [run for run in RUNS if run.app != "floor+SDK"]

    (target,) = [t for t in stream_targets(runs, 20.0) if "p95 <= 1.2 x the floor's" in t.target]

    assert target.measured == "40.0 s vs 25.0 s = 1.60 x"
