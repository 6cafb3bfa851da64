"""CPU per streamed chat: one worker process of our app against one of each floor.

usage: python -m bench.cpu [--clients 50] [--seconds 20] [--piece-seconds 0.05]
           [--profile DIR]

Each server runs one worker; the fake model streams 20 pieces quickly, so
the figure is the server's CPU time (all its processes, /proc) divided by
the chats it served, not a latency. The floors are
../shared/bench/limit_streams.py relaying with aiohttp ("floor") and through
the official SDK as our provider calls it ("floor+SDK", bench/sdk_floor.py).
With --profile, py-spy (pip install py-spy) samples the worker while it
holds the GIL and writes raw stacks to DIR (made if missing): ours.txt,
floor.txt and floor+SDK.txt, for where the time goes (docs/performance.md).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.held_streams import FLOORS, STREAM_PIECES, _fake_model, floor_server
from bench.processes import (
    SERVE,
    Server,
    Usage,
    descendants,
    free_port,
    reference_app_required,
    run_python,
)
from tests.server import UNTHROTTLED


def main(args: argparse.Namespace) -> None:
    reference_app_required("limit_streams.py")
    work = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" * 10,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "WEB_CONCURRENCY": "1",
        "ACCESS_LOG": "",
        **UNTHROTTLED,
    }
    run_python("manage.py", "migrate", "-v0", env=env)
    run_python("manage.py", "createcachetable", env=env)
    tokens = work / "tokens"
    run_python("-m", "bench.seed", str(args.clients), "1000000000", str(tokens), env=env)
    with _fake_model(piece_seconds=args.piece_seconds) as model:
        env |= {
            "AI_PROVIDER": "openai",
            "AI_BASE_URL": f"http://127.0.0.1:{model}/v1",
            "AI_API_KEY": "bench",
            "AI_MODEL": "bench",
        }
        port = free_port()
        ours = Server(
            [sys.executable, *SERVE, "--bind", f"127.0.0.1:{port}"], env, port, "/healthz/"
        )
        _measure("ours", ours, tokens, args)
        for name, relay, module in FLOORS:
            _measure(name, floor_server(relay, module, model, workers=1), tokens, args)


def _measure(name: str, server: Server, tokens: Path, args: argparse.Namespace) -> None:
    with server as port:
        profiler = None
        if args.profile:
            spy = shutil.which("py-spy")
            if spy is None:
                sys.exit("--profile needs py-spy: pip install py-spy")
            worker = descendants(server.process.pid)[-1]
            profiler = subprocess.Popen(
                [
                    spy, "record", "--pid", str(worker), "--format", "raw", "--gil",
                    "--nonblocking", "--rate", "200", "--duration", str(int(args.seconds) + 2),
                    "--output", str(args.profile / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        with Usage(server.process.pid) as usage:
            output = subprocess.run(
                [
                    sys.executable, "-m", "bench.streams", f"http://127.0.0.1:{port}/api/v1/chat/",
                    str(tokens), "--clients", str(args.clients), "--seconds", str(args.seconds),
                    "--pieces", str(STREAM_PIECES), "--timeout", "120",
                ],
                check=True, stdout=subprocess.PIPE, text=True,
            ).stdout  # fmt: skip
        if profiler:
            profiler.wait()
    data = json.loads(output)
    done = max(data["done"], 1)
    print(
        f"{name:9}  {data['done']} chats  {data['chats_per_second']:.1f}/s  "
        f"errors {sum(data['errors'].values())}  CPU {usage.cpu_seconds:.1f} s  "
        f"{1000 * usage.cpu_seconds / done:.1f} ms a chat"
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="clients at once")
    parser.add_argument("--seconds", type=float, default=20, help="start chats for this long")
    parser.add_argument("--piece-seconds", type=float, default=0.05, help="the model's pace")
    parser.add_argument("--profile", type=Path, help="a directory for py-spy's stacks")
    args = parser.parse_args(argv)
    if args.profile:
        # Made now: py-spy writes nothing to a missing directory, and says
        # nothing of it either.
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
