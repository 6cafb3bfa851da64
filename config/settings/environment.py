"""Reading the environment: the reader every settings module uses, DEBUG,
which several defaults follow, and how a setting that cannot work stops the
app."""

import sys
from pathlib import Path

import django_stubs_ext
import environ

# Lets classes like ModelAdmin[Conversation] be subscripted at run time, as
# the type checker wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless asked for: a forgotten variable must never expose debug pages.
DEBUG = env.bool("DEBUG", default=False)


def refuse_to_start(reason: str) -> None:
    # One clear line instead of a traceback: this is an operator's mistake.
    sys.exit(f"Refusing to start: {reason}")
