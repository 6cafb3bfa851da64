"""Start-up rules, checked by starting real processes with a given environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import manage

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CHAT_MESSAGE_COST", "0", "Refusing to start: CHAT_MESSAGE_COST must be at least 1."),
        ("SIGNUP_TOKENS", "-1", "Refusing to start: SIGNUP_TOKENS must be at least 0."),
        ("MAX_MESSAGE_CHARS", "0", "Refusing to start: MAX_MESSAGE_CHARS must be at least 1."),
        ("AI_TIMEOUT_SECONDS", "0", "Refusing to start: AI_TIMEOUT_SECONDS must be more than 0."),
        (
            "AI_CONTEXT_EXCHANGES",
            "-1",
            "Refusing to start: AI_CONTEXT_EXCHANGES must be at least 0.",
        ),
        (
            "AI_MAX_OUTPUT_TOKENS",
            "0",
            "Refusing to start: AI_MAX_OUTPUT_TOKENS must be at least 1.",
        ),
        (
            "CHAT_PRICING",
            "tokens",
            "Refusing to start: CHAT_PRICING must be flat or per_token, not 'tokens'.",
        ),
        *(
            (
                "CHAT_PROMPT_PRICE_PER_1K",
                price,
                "Refusing to start: CHAT_PROMPT_PRICE_PER_1K must be a number from 0 to "
                f"1000000 with at most 6 decimal places, not {price!r}.",
            )
            for price in ("ten", "-1", "0.0000001", "1000001", "NaN")
        ),
        (
            "CHAT_COMPLETION_PRICE_PER_1K",
            "inf",
            "Refusing to start: CHAT_COMPLETION_PRICE_PER_1K must be a number from 0 to "
            "1000000 with at most 6 decimal places, not 'inf'.",
        ),
    ],
)
def test_refuses_to_start_with_an_impossible_product_setting(variable, value, message):
    result = manage("check", env={"DEBUG": "1", variable: value})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [message]


def test_per_token_pricing_refuses_to_start_with_both_prices_zero():
    env = {
        "DEBUG": "1",
        "CHAT_PRICING": "per_token",
        "CHAT_PROMPT_PRICE_PER_1K": "0",
        "CHAT_COMPLETION_PRICE_PER_1K": "0",
    }

    result = manage("check", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Refusing to start: CHAT_PRICING=per_token needs CHAT_PROMPT_PRICE_PER_1K or "
        "CHAT_COMPLETION_PRICE_PER_1K above 0."
    ]


def test_per_token_pricing_starts_with_fractional_prices():
    env = {
        "DEBUG": "1",
        "CHAT_PRICING": "per_token",
        "CHAT_PROMPT_PRICE_PER_1K": "0.125",
        "CHAT_COMPLETION_PRICE_PER_1K": "2.5",
    }

    result = manage("check", env=env)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["AI_API_KEY", "AI_MODEL"])
def test_the_openai_provider_refuses_to_start_without_a_key_or_model(missing):
    configured = {"AI_API_KEY": "x", "AI_MODEL": "m"}
    env = {"DEBUG": "1", "AI_PROVIDER": "openai", **configured, missing: ""}

    result = manage("check", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Refusing to start: AI_PROVIDER=openai needs AI_API_KEY and AI_MODEL."
    ]


def test_the_openai_provider_starts_when_configured():
    env = {"DEBUG": "1", "AI_PROVIDER": "openai", "AI_API_KEY": "x", "AI_MODEL": "m"}

    assert manage("check", env=env).returncode == 0


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", "0/min", "-1/min", "10"])
def test_refuses_to_start_with_a_rate_that_is_not_one(rate):
    result = manage("check", env={"DEBUG": "1", "THROTTLE_CHAT": rate})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Refusing to start: THROTTLE_CHAT={rate!r} is not a rate like 10/min "
        "(1 or more per second, minute, hour or day)."
    ]


def test_throttle_rates_and_proxies_default_and_follow_the_environment():
    probe = (
        "from rest_framework.settings import api_settings as s\n"
        "print(sorted(s.DEFAULT_THROTTLE_RATES.items()), s.NUM_PROXIES)\n"
    )

    default = manage("shell", "-v0", "-c", probe, env={"DEBUG": "1"})
    custom = manage(
        "shell",
        "-v0",
        "-c",
        probe,
        env={"DEBUG": "1", "THROTTLE_LOGIN_IP": "5/s", "NUM_PROXIES": "2"},
    )

    assert default.stdout.strip() == (
        "[('chat', '30/min'), ('login_ip', '30/min'), ('login_username', '10/min'), "
        "('register', '10/hour')] 0"
    ), default.stderr
    assert "('login_ip', '5/s')" in custom.stdout
    assert custom.stdout.strip().endswith(" 2"), custom.stderr


def test_production_hashes_passwords_with_argon2():
    # The tests themselves use a fast hasher (tests/settings.py); this checks
    # the real settings, and that the Argon2 library is installed.
    probe = (
        "from django.conf import settings\n"
        "from django.contrib.auth.hashers import make_password\n"
        "print(settings.PASSWORD_HASHERS[0])\n"
        "print(make_password('a-passphrase').split('$')[0])\n"
    )

    result = manage("shell", "-v0", "-c", probe, env={"DEBUG": "1"})

    assert result.stdout.split() == [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "argon2",
    ], result.stderr


def test_refuses_to_start_with_an_unknown_ai_provider():
    result = manage("check", env={"DEBUG": "1", "AI_PROVIDER": "nonsense"})

    assert result.returncode != 0
    assert "AI_PROVIDER='nonsense' is unknown" in result.stderr


def test_gunicorn_refuses_to_start_without_a_secret_key():
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "config/gunicorn.py",
            "--bind",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "x",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "Refusing to start: set SECRET_KEY" in result.stderr


def test_token_lifetimes_default_to_5_minutes_and_1_day_and_follow_the_environment():
    probe = (
        "from django.conf import settings\n"
        "jwt = settings.SIMPLE_JWT\n"
        "print(int(jwt['ACCESS_TOKEN_LIFETIME'].total_seconds()),"
        " int(jwt['REFRESH_TOKEN_LIFETIME'].total_seconds()))\n"
    )

    default = manage("shell", "-v0", "-c", probe, env={"DEBUG": "1"})
    custom = manage(
        "shell",
        "-v0",
        "-c",
        probe,
        env={
            "DEBUG": "1",
            "JWT_ACCESS_LIFETIME_SECONDS": "60",
            "JWT_REFRESH_LIFETIME_SECONDS": "600",
        },
    )

    assert default.stdout.split() == ["300", "86400"], default.stderr
    assert custom.stdout.split() == ["60", "600"], custom.stderr


def test_refuses_to_start_with_an_unknown_log_format():
    result = manage("check", env={"DEBUG": "1", "LOG_FORMAT": "xml"})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Refusing to start: LOG_FORMAT='xml' is neither json nor console."
    ]
