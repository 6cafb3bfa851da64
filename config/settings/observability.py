"""Logs, metrics and error reports: how an operator sees the service run.
docs/operations.md says what each shows and what to alert on."""

from config.settings.environment import DEBUG, env, refuse_to_start

# --- Logs -------------------------------------------------------------------

# One JSON object per line for a log collector; a readable line for a person
# (`make run`). api/logs.py sets both up.
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("console" if DEBUG else "json")
if LOG_FORMAT not in ("json", "console"):
    refuse_to_start(f"LOG_FORMAT={LOG_FORMAT!r} is neither json nor console.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING_CONFIG = "api.logs.configure"
LOGGING = {"log_format": LOG_FORMAT, "level": LOG_LEVEL}

# --- Metrics ----------------------------------------------------------------

# `/metrics` answers only to `Authorization: Bearer <METRICS_TOKEN>`; unset,
# it answers 404. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (config/gunicorn.py)
# is where the worker processes count.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Error reports ----------------------------------------------------------

# Unhandled exceptions and ERROR log lines go to Sentry when a DSN is set;
# nothing is sent otherwise. No request bodies (they hold passwords and
# messages), no local variables, no personal data.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
    )
