"""`make serve`'s gunicorn configuration: logs go to stdout."""

import subprocess
import sys

from tests.server import ROOT, LiveServer, free_port, server_env, wait_until_healthy


def test_the_server_logs_to_stdout(tmp_path):
    port = free_port()
    env = server_env(
        database_url=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        port=port,
        static_root=tmp_path,  # as after collectstatic
        WEB_CONCURRENCY="1",
        ACCESS_LOG="-",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(LiveServer(url=f"http://127.0.0.1:{port}"), server)
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)

    assert "Booting worker" in stdout  # gunicorn's own log
    assert '"GET /healthz/ HTTP/1.1" 200' in stdout  # the access log
    assert stderr.strip() == ""
