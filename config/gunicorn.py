"""gunicorn settings for `make serve`: gunicorn manages the processes, uvicorn
serves ASGI in each (config/asgi.py). Read from the environment:

WEB_CONCURRENCY  worker processes (default: 2 per core + 1)
BIND             address to listen on (default 127.0.0.1:8000)
ACCESS_LOG       "-" for uvicorn's access log on stdout; off by default, since
                 the app logs a `request` line per request (api/middleware.py)
LOG_FORMAT       how gunicorn's and uvicorn's own lines are written: json (the
                 default) or console, as the app's (config/settings/observability.py)
PROMETHEUS_MULTIPROC_DIR
                 where the worker processes keep their metrics (a new temporary
                 directory by default; emptied at start when given)
AI_TIMEOUT_SECONDS
                 the longest a chat may take (default 60): how long a stopping
                 worker lets the chats in flight finish

A WSGI server still works (config/wsgi.py), with the trade-offs in
docs/deployment.md.
"""

import math
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger
from uvicorn_worker import UvicornWorker

# prometheus-client reads it when first imported, which the app (loaded
# below, after this file) does: every worker counts in files of its own here,
# and a scrape adds them up (api/metrics.py). Stale files from an earlier run
# would be added in too, so it starts empty.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    METRICS_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()
    OWN_METRICS_DIR = False
else:
    METRICS_DIR = Path(tempfile.mkdtemp(prefix="chat-api-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
    OWN_METRICS_DIR = True

# The longest a reply may take; a chat in flight at SIGTERM may finish.
CHAT_SECONDS = float(os.environ.get("AI_TIMEOUT_SECONDS", "60"))


class Worker(UvicornWorker):  # type: ignore[misc]  # untyped
    """uvicorn with uvloop and httptools (measured fastest, docs/performance.md).

    On SIGTERM it stops accepting, lets the requests in flight finish for up
    to CHAT_SECONDS, then cancels what is left (a stream so cut keeps what
    its client was sent, like any client that leaves) and exits.
    """

    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "timeout_graceful_shutdown": CHAT_SECONDS,
        # The app alone reads what proxies add (NUM_PROXIES,
        # TRUST_X_FORWARDED_PROTO). uvicorn would take X-Forwarded-For and
        # -Proto from any peer on 127.0.0.1 (gunicorn's forwarded_allow_ips)
        # as the client's own address and scheme: a client behind a local
        # hop that passes them on could pick its own rate-limit bucket.
        "proxy_headers": False,
    }


class Logger(GunicornLogger):  # type: ignore[misc]  # untyped
    """gunicorn's and uvicorn's own lines (start, stop, a worker's crash) in
    the app's format: one JSON object per line by default."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from api.logs import formatter

        log_format = os.environ.get("LOG_FORMAT", "json")
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter(log_format))


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's gauges (streams in flight, pool in use) stop counting;
    # its counters stay in the sums.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if OWN_METRICS_DIR:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


wsgi_app = "config.asgi:application"
worker_class = "config.gunicorn.Worker"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# gunicorn's own wait for a stopping worker: uvicorn's, and time to exit.
graceful_timeout = math.ceil(CHAT_SECONDS) + 10
# Connections waiting to be accepted: thousands of clients may connect at
# once (gunicorn's default, 2048, drops the rest to a retry seconds later).
backlog = 4096
# Keep-alive lets a load balancer or client reuse connections.
keepalive = 5
accesslog = os.environ.get("ACCESS_LOG", "") or None
logger_class = "config.gunicorn.Logger"
# Load the app once, in the master: a configuration error (no SECRET_KEY, say)
# stops the server with its message instead of workers dying in a loop.
preload_app = True
# gunicorn's "-" is stderr; the app's logs and the access log go to stdout.
errorlog = "/dev/stdout"
