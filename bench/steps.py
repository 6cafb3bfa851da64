"""CPU of what every streamed chat must do, each step alone, in one process,
ours beside the bare reference app's (../shared/bench/limit_app.py).

usage: python -m bench.steps [--chats 2000] [--rounds 5] [--postgres]

- authenticate: the chat view's authenticators on a request with an access
  token (SimpleJWT's check, and the user's row);
- reserve and settle: the chat's two transactions through the ORM, the
  reservation (conversations.services.chat.chat_reserve) and the settlement
  of a reply (conversations.services.reservations.chat_settle);
- balance request: GET /api/v1/balance/ through Django's handler, its
  middleware and DRF, the smallest request the stack serves with a token.

The bare app does the same with no framework: PyJWT's check and its user's
row, the chat's one transaction written by hand (no settlement: its reply
is stored with the charge), and its balance request.

On new SQLite databases in a temporary directory (removed after), or with
--postgres new databases on POSTGRES_URL's server (dropped after), with our
logs at WARNING.
Each figure is this thread's CPU time divided by the chats, the least of
the rounds (the one the machine disturbed least). Set beside
`python -m bench.cpu`'s CPU a chat of ours and of the floors, they say how
much of our distance from the floors these steps alone take
(docs/performance.md, "What the targets leave").
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bench.processes import (
    BALANCE,
    SHARED_BENCH,
    drop_postgres,
    postgres_admin,
    postgres_url,
    reference_app_required,
)
from bench.wrk import BARE_DATABASE, bare_setup

if TYPE_CHECKING:
    from users.models import User

STEPS_DATABASE = "bench_steps"
# The steps measured, in the order they are reported.
STEPS = ("authenticate", "reserve and settle", "balance request")
# Chats run before the rounds, so that the first round pays no one-off cost.
WARM_UP_CHATS = 100


def measure(*, user: "User", access_token: str, chats: int) -> dict[str, float]:
    """Milliseconds of CPU a chat for each step, over `chats` real chats
    (each reserved and settled: `user` pays for every one)."""
    # Imported here: Django is set up (by _run, or by pytest) before this runs.
    from django.test import Client, RequestFactory
    from rest_framework.request import Request

    from conversations.providers import Reply
    from conversations.services.chat import chat_reserve
    from conversations.services.reservations import Completed, chat_settle
    from conversations.views import ChatView

    authenticators = ChatView().get_authenticators()
    header = f"Bearer {access_token}"
    factory, client = RequestFactory(), Client(HTTP_AUTHORIZATION=header)
    reply = Reply(text="A reply of a few words. " * 8, model="bench")

    def authenticate() -> None:
        request = Request(factory.post("/api/v1/chat/", HTTP_AUTHORIZATION=header))
        found = next(filter(None, (a.authenticate(request) for a in authenticators)), None)
        if found is None or found[0].pk != user.pk:
            raise RuntimeError("the access token did not authenticate its user")

    def reserve_and_settle() -> None:
        reservation = chat_reserve(user=user, message="Hello there!")
        chat_settle(reservation=reservation, outcome=Completed(reply))

    def balance_request() -> None:
        if client.get("/api/v1/balance/").status_code != 200:
            raise RuntimeError("the balance request failed")

    return _timed((authenticate, reserve_and_settle, balance_request), chats)


def measure_bare(limit_app: ModuleType, *, access_token: str, chats: int) -> dict[str, float]:
    """The same steps in the bare app (`limit_app`, loaded with its database
    set up), over `chats` chats that its user pays for."""
    environ = {
        "HTTP_AUTHORIZATION": f"Bearer {access_token}",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/balance",
    }
    row = limit_app.authenticate(environ)
    if row is None:
        raise RuntimeError("the access token did not authenticate its user")
    user_id = row[0]

    def authenticate() -> None:
        limit_app.authenticate(environ)

    def reserve_and_settle() -> None:
        limit_app.chat(user_id, "Hello there!")

    def balance_request() -> None:
        status: list[str] = []
        limit_app.app(dict(environ), lambda line, headers: status.append(line))
        if status != ["200 OK"]:
            raise RuntimeError("the balance request failed")

    return _timed((authenticate, reserve_and_settle, balance_request), chats)


def load_bare(env: dict[str, str]) -> ModuleType:
    """../shared/bench/limit_app.py, reading its settings from `env` (set in
    os.environ: it reads them as it is loaded)."""
    os.environ |= {key: value for key, value in env.items() if key.startswith("LIMIT_")}
    spec = importlib.util.spec_from_file_location("limit_app", SHARED_BENCH / "limit_app.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {SHARED_BENCH / 'limit_app.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(steps: tuple[Callable[[], None], ...], chats: int) -> dict[str, float]:
    """Each of STEPS (`steps`, in that order) in milliseconds of CPU a chat."""
    return {name: _cpu_ms(step, chats) for name, step in zip(STEPS, steps, strict=True)}


def _cpu_ms(step: Callable[[], None], times: int) -> float:
    started = time.thread_time()
    for _ in range(times):
        step()
    return 1000 * (time.thread_time() - started) / times


def main(args: argparse.Namespace) -> None:
    reference_app_required("limit_app.py")
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'db.sqlite3'}"
        if args.postgres:
            drop_postgres(STEPS_DATABASE)
            postgres_admin(f'CREATE DATABASE "{STEPS_DATABASE}"')
            url = postgres_url(STEPS_DATABASE)
        os.environ |= {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "STATIC_ROOT": str(work / "static"),
            "DEBUG": "0",
            "SECRET_KEY": "bench-" * 10,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        }
        try:
            print(_run(args, work), end="")
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                drop_postgres(STEPS_DATABASE)
                drop_postgres(BARE_DATABASE)


def _run(args: argparse.Namespace, work: Path) -> str:
    import django

    django.setup()
    from django.core.management import call_command

    from bench.seed import seed_users
    from users.tokens import SessionAccessToken

    call_command("migrate", verbosity=0)
    (user,) = seed_users(1, BALANCE)
    token = str(SessionAccessToken.for_user(user))
    bare_env, bare_tokens = bare_setup("postgres" if args.postgres else "sqlite", work)
    bare = load_bare(bare_env)
    bare_token = bare_tokens.read_text().split()[0]
    ours_rounds, bare_rounds = [], []
    measure(user=user, access_token=token, chats=WARM_UP_CHATS)
    measure_bare(bare, access_token=bare_token, chats=WARM_UP_CHATS)
    for _ in range(args.rounds):
        ours_rounds.append(measure(user=user, access_token=token, chats=args.chats))
        bare_rounds.append(measure_bare(bare, access_token=bare_token, chats=args.chats))
    lines = [
        f"CPU a chat, ms, the least of {args.rounds} rounds of {args.chats} (the most):",
        f"  {'':20} {'ours':>14} {'bare':>14}",
    ]
    lines += [
        f"  {name:20} {_least(ours_rounds, name):>14} {_least(bare_rounds, name):>14}"
        for name in STEPS
    ]
    return "\n".join(lines) + "\n"


def _least(rounds: list[dict[str, float]], name: str) -> str:
    figures = [figure[name] for figure in rounds]
    return f"{min(figures):.2f} ({max(figures):.2f})"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=2000, help="chats a round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the least is kept")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL (POSTGRES_URL)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
