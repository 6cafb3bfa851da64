"""Start-up rules, checked by starting real processes with a given environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"DEBUG": "0", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "s" * 50}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "example.com"}, "SECRET_KEY"),  # DEBUG is off by default
    ],
)
def test_refuses_to_start_without_secrets_when_debug_is_off(env, missing):
    result = manage("check", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Refusing to start: set {missing} (or DEBUG=1 for local development)."
    ]


def test_starts_with_no_configuration_in_debug():
    result = manage("check", env={"DEBUG": "1"})

    assert result.returncode == 0, result.stderr


def test_starts_in_production_mode_when_configured():
    result = manage("check", env={"DEBUG": "0", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "x.org"})

    assert result.returncode == 0, result.stderr


def test_sqlite_is_set_up_for_concurrent_writers(tmp_path):
    probe = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    for pragma in ('journal_mode', 'busy_timeout'):\n"
        "        c.execute(f'PRAGMA {pragma}'); print(c.fetchone()[0])\n"
        "print(connection.transaction_mode)\n"
    )
    result = manage(
        "shell",
        "-v0",
        "-c",
        probe,
        env={"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000", "IMMEDIATE"]


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "api.example.com",
    "SECURE_HSTS_PRELOAD": "1",
}


def test_deploy_checks_pass_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_checks_catch_an_insecure_production_setting():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION, "SECURE_SSL_REDIRECT": "0"},
    )

    assert result.returncode != 0
    assert "security.W008" in result.stderr
