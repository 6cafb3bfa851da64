"""gunicorn settings for `make serve`, read from the environment.

WEB_CONCURRENCY   worker processes (default: 2 per core + 1)
GUNICORN_THREADS  threads per worker (default 128; more than 1 selects gthread)
GUNICORN_WORKER_CONNECTIONS
                  connections a worker holds at once (default: threads + a quarter)
BIND              address to listen on (default 127.0.0.1:8000)
ACCESS_LOG        "-" for stdout (the default), "" to turn it off
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A chat waits seconds for the model, holding its thread: enough threads to
# hold hundreds of chats at once (5 x 128 on 2 cores). A waiting thread costs
# memory, not CPU; database connections are pooled (config/settings/database.py).
threads = int(os.environ.get("GUNICORN_THREADS", "128"))
# gthread's default lets a worker accept 1,000 connections whatever its
# threads. Kept-alive connections settle unevenly across the workers, and on
# a worker holding more than its threads, requests queue behind chats that
# wait seconds for the model while other workers idle (measured at 500 chats
# at once: one worker at 0.5 cores, the rest near 0.1, 0.4-0.8 cores idle).
# Capped near its threads, a full worker stops accepting and the others take
# the connections; the quarter above the threads keeps idle keep-alive
# connections open.
worker_connections = int(
    os.environ.get("GUNICORN_WORKER_CONNECTIONS", threads + max(threads // 4, 1))
)
# Keep-alive lets a load balancer or client reuse connections.
keepalive = 5
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# Load the app once, in the master: a configuration error (no SECRET_KEY, say)
# stops the server with its message instead of workers dying in a loop.
preload_app = True
# gunicorn's "-" is stderr; the app's logs and the access log go to stdout.
errorlog = "/dev/stdout"
