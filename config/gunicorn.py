"""gunicorn settings for `make serve`: gunicorn manages the processes, uvicorn
serves ASGI in each (config/asgi.py). Read from the environment:

WEB_CONCURRENCY  worker processes (default: 2 per core + 1)
BIND             address to listen on (default 127.0.0.1:8000)
ACCESS_LOG       "-" for stdout (the default), "" to turn it off
AI_TIMEOUT_SECONDS
                 the longest a chat may take (default 60): how long a stopping
                 worker lets the chats in flight finish

A WSGI server still works (config/wsgi.py), with the trade-offs in
docs/deployment.md.
"""

import math
import multiprocessing
import os

from uvicorn_worker import UvicornWorker

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
    }


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
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# Load the app once, in the master: a configuration error (no SECRET_KEY, say)
# stops the server with its message instead of workers dying in a loop.
preload_app = True
# gunicorn's "-" is stderr; the app's logs and the access log go to stdout.
errorlog = "/dev/stdout"
