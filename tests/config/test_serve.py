"""`make serve`'s gunicorn configuration: logs go to stdout."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.server import _free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_server_logs_to_stdout(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "serve-test-secret-key-not-for-deployment-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "ACCESS_LOG": "-",
        "STATIC_ROOT": str(tmp_path),  # as after collectstatic
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)

    assert "Booting worker" in stdout  # gunicorn's own log
    assert '"GET /healthz/ HTTP/1.1" 200' in stdout  # the access log
    assert stderr.strip() == ""
