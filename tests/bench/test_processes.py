"""bench/processes.py: the servers a benchmark starts."""

import sys

import pytest

from bench.processes import Server, free_port


def test_a_server_that_exits_at_start_is_reported_with_its_exit_code():
    # Not "did not start" after the 60 s a slow server is given.
    server = Server([sys.executable, "-c", "raise SystemExit(3)"], {}, free_port(), "/healthz/")

    with pytest.raises(RuntimeError, match="exited with 3 before it served"):
        server.__enter__()
