"""bench/report_streams.py: the held-streams table."""

from bench.held_streams import StreamRun
from bench.report_streams import _stream_row


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
