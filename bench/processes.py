"""The processes a benchmark runs: servers, their CPU and memory, the databases."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/chat_api")
SHARED_BENCH = (ROOT.parent / "shared" / "bench").resolve()
# The benchmark users (bench.seed), and each one's balance: no chat ever runs short.
USERS = 300
BALANCE = 1_000_000_000
# Our app as `make serve` serves it.
SERVE = ["-m", "gunicorn", "--config", "config/gunicorn.py"]
# The longest a server may take to stop once told to (SIGTERM) before it is
# killed: our app lets chats in flight finish.
STOP_SECONDS = 90


def reference_app_required(name: str) -> None:
    """Exit with a message, before anything runs, if ../shared/bench lacks `name`."""
    if not (SHARED_BENCH / name).exists():
        sys.exit(f"The reference app is missing: {SHARED_BENCH}/{name}")


class Usage:
    """A process and all its descendants: their summed RSS, sampled every second, and CPU time.

    CPU time is user + system from /proc/<pid>/stat, from the first sample to
    the last; a process born in between counts from its start, and one that
    ended counts up to its last sample.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss_start = self.rss_peak = self.rss_end = 0
        self.processes = 0  # the most seen at once
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_every_second, daemon=True)

    def __enter__(self) -> "Usage":
        self._first = self._sample()
        self.rss_start = self.rss_end
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def cpu_seconds(self) -> float:
        ticks = sum(last - self._first.get(pid, 0) for pid, last in self._last.items())
        return ticks / os.sysconf("SC_CLK_TCK")

    def _sample_every_second(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def _sample(self) -> dict[int, int]:
        ticks, rss = {}, 0
        for pid in descendants(self.pid):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:  # it ended
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
            # An exiting process (a zombie) has no VmRSS line: it holds none.
            rss += next(
                (
                    int(line.split()[1]) * 1024
                    for line in status.splitlines()
                    if line.startswith("VmRSS:")
                ),
                0,
            )
        self._last |= ticks
        self.processes = max(self.processes, len(ticks))
        self.rss_end = rss
        self.rss_peak = max(self.rss_peak, rss)
        return ticks


def descendants(root: int) -> list[int]:
    """`root` and every process under it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += children.get(pid, [])
    return found


def json_result(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run wrk; the RESULT line load.lua prints, as a dict."""
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line.removeprefix("RESULT ")))


class Server:
    """A server process for the length of a `with`, which gives its port."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        port: int,
        health: str | None,
        cwd: Path = ROOT,
    ):
        self.command, self.env, self.port, self.health = command, env, port, health
        self.cwd = cwd

    def __enter__(self) -> int:
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # A server that failed to start (a missing module, a bad setting)
            # says so at once, not after the whole wait.
            if (code := self.process.poll()) is not None:
                raise RuntimeError(
                    f"{' '.join(self.command)} exited with {code} before it served"
                    f" (run it by hand in {self.cwd} to see why)"
                )
            try:
                if self.health:
                    url = f"http://127.0.0.1:{self.port}{self.health}"
                    urllib.request.urlopen(url, timeout=2).close()
                else:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self.port
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.command} did not start")

    def __exit__(self, *exc: object) -> None:
        # Our app lets chats in flight finish for its graceful timeout (70 s
        # by default) after SIGTERM; a server killed sooner would leave their
        # charges reserved and never settled.
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"*** {' '.join(self.command)} did not stop in {STOP_SECONDS} s: killed")
            self.process.kill()
            self.process.wait()


def run_python(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    ).stdout


def postgres_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def postgres_admin(sql: str) -> None:
    with psycopg.connect(postgres_url("postgres"), autocommit=True) as connection:
        connection.execute(sql.encode())


def drop_postgres(name: str) -> None:
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_up() -> bool:
    try:
        psycopg.connect(postgres_url("postgres"), connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
