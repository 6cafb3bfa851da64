"""The pieces of the two-node rehearsal: app servers in process groups of
their own, as separate machines would be, and nginx in front of them with
the shipped proxy settings (deploy/nginx/chat-api-proxy.conf)."""

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.server import ROOT, LiveServer, free_port, wait_until_healthy

PROXY_CONF = ROOT / "deploy" / "nginx" / "chat-api-proxy.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Node:
    """One app server: gunicorn and its workers, a process group of their own."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"],
            cwd=ROOT,
            env={**self.env, "BIND": self.address},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            # A session of its own: kill -9 of the group is a machine that dies.
            start_new_session=True,
        )

    def wait_until_ready(self) -> None:
        assert self.process is not None
        server = LiveServer(url=f"http://{self.address}")
        wait_until_healthy(server, self.process)
        # Liveness first, then readiness: the database and Redis answer it.
        assert server.request("GET", "/readyz/").status == 200

    def kill(self) -> None:
        """kill -9 the master and every worker at once; returns once the
        kernel has closed their sockets (the port refuses connections)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except ConnectionRefusedError:
                return
            time.sleep(0.005)
        raise RuntimeError(f"{self.address} still accepts connections after SIGKILL")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Nginx:
    """nginx on a loopback port, its configuration and files in `root`."""

    root: Path
    upstreams: list[str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configuration(self) -> str:
        servers = "\n".join(
            f"        server {address} max_fails=1 fail_timeout=10s;" for address in self.upstreams
        )
        # As root, nginx's workers would switch to `nobody`, who may not
        # use this test's directory: they stay the user running the test.
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        return f"""
{user}
worker_processes 1;
daemon off;
pid {self.root}/nginx.pid;
error_log {self.root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {self.root}/access.log;
    client_body_temp_path {self.root}/body;
    proxy_temp_path {self.root}/proxy;
    fastcgi_temp_path {self.root}/fastcgi;
    uwsgi_temp_path {self.root}/uwsgi;
    scgi_temp_path {self.root}/scgi;
    upstream chat_api {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            include {PROXY_CONF};
            # For the test: which app server(s) a response came from.
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(self.configuration())
        command = [NGINX, "-p", str(self.root), "-e", str(self.root / "error.log"), "-c", str(conf)]
        subprocess.run([*command, "-t", "-q"], check=True, capture_output=True)
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if LiveServer(url=self.url).request("GET", "/healthz/").status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def nginx_is_installed() -> bool:
    return Path(NGINX).exists()
